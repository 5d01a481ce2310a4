/* gnutls_dl.c - GnuTLS for libmicrohttpd, loaded only when TLS is used.
 *
 * coffer links libmicrohttpd statically. Its TLS code calls the GnuTLS functions
 * below; this file defines them, and each loads libgnutls.so.30 with dlopen() on
 * its first call (as lib/curl_dl.c does for libcurl). A server started without
 * --tls-cert therefore never maps GnuTLS and the eight libraries it pulls in
 * (p11-kit, nettle, gmp, ...), which was about 1.3 ms of every start
 * (docs/BENCHMARKS.md "start-to-ready") and a good part of the idle RSS.
 *
 * tls.c calls a few more (pcert and privkey import) to hand the certificate to
 * GnuTLS at each handshake, so it can be replaced while serving.
 *
 * The definitions have the exact prototypes of <gnutls/gnutls.h> and
 * <gnutls/abstract.h> (the compiler checks them). gnutls_global_init(), which
 * libmicrohttpd's constructor calls at start-up, only notes the call; GnuTLS 3
 * initializes itself when it is loaded. The executable does not export these
 * symbols, so the loaded library keeps using its own.
 *
 * If the library cannot be loaded every call fails with GNUTLS_E_INTERNAL_ERROR
 * (void functions do nothing), so starting a TLS daemon fails and http_start
 * reports it. */
#include "http/http.h"
#include "lib/log.h"

#include <dlfcn.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define GNUTLS_SONAME "libgnutls.so.30"

/* X(return type, name, (parameters), (arguments), value when not loaded) for the
 * functions that return a value; V(name, (parameters), (arguments)) for void. */
#define GNUTLS_FUNCS(X, V)                                                                         \
	X(int, gnutls_alpn_set_protocols,                                                          \
	  (gnutls_session_t s, const gnutls_datum_t *p, unsigned n, unsigned f), (s, p, n, f),     \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	X(int, gnutls_bye, (gnutls_session_t s, gnutls_close_request_t how), (s, how),             \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	X(int, gnutls_certificate_allocate_credentials, (gnutls_certificate_credentials_t * c),    \
	  (c), GNUTLS_E_INTERNAL_ERROR)                                                            \
	V(gnutls_certificate_free_credentials, (gnutls_certificate_credentials_t c), (c))          \
	V(gnutls_certificate_server_set_request,                                                   \
	  (gnutls_session_t s, gnutls_certificate_request_t r), (s, r))                            \
	V(gnutls_certificate_set_dh_params,                                                        \
	  (gnutls_certificate_credentials_t c, gnutls_dh_params_t p), (c, p))                      \
	V(gnutls_certificate_set_retrieve_function2,                                               \
	  (gnutls_certificate_credentials_t c, gnutls_certificate_retrieve_function2 * f), (c, f)) \
	V(gnutls_certificate_set_retrieve_function3,                                               \
	  (gnutls_certificate_credentials_t c, gnutls_certificate_retrieve_function3 * f), (c, f)) \
	X(int, gnutls_certificate_set_x509_key_mem,                                                \
	  (gnutls_certificate_credentials_t c, const gnutls_datum_t *cert,                         \
	   const gnutls_datum_t *key, gnutls_x509_crt_fmt_t t),                                    \
	  (c, cert, key, t), GNUTLS_E_INTERNAL_ERROR)                                              \
	X(int, gnutls_certificate_set_x509_key_mem2,                                               \
	  (gnutls_certificate_credentials_t c, const gnutls_datum_t *cert,                         \
	   const gnutls_datum_t *key, gnutls_x509_crt_fmt_t t, const char *pass, unsigned f),      \
	  (c, cert, key, t, pass, f), GNUTLS_E_INTERNAL_ERROR)                                     \
	X(int, gnutls_certificate_set_x509_trust_mem,                                              \
	  (gnutls_certificate_credentials_t c, const gnutls_datum_t *ca, gnutls_x509_crt_fmt_t t), \
	  (c, ca, t), GNUTLS_E_INTERNAL_ERROR)                                                     \
	X(gnutls_cipher_algorithm_t, gnutls_cipher_get, (gnutls_session_t s), (s),                 \
	  GNUTLS_CIPHER_UNKNOWN)                                                                   \
	X(int, gnutls_credentials_set, (gnutls_session_t s, gnutls_credentials_type_t t, void *c), \
	  (s, t, c), GNUTLS_E_INTERNAL_ERROR)                                                      \
	V(gnutls_deinit, (gnutls_session_t s), (s))                                                \
	V(gnutls_dh_params_deinit, (gnutls_dh_params_t p), (p))                                    \
	X(int, gnutls_dh_params_import_pkcs3,                                                      \
	  (gnutls_dh_params_t p, const gnutls_datum_t *pk, gnutls_x509_crt_fmt_t f), (p, pk, f),   \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	X(int, gnutls_dh_params_init, (gnutls_dh_params_t * p), (p), GNUTLS_E_INTERNAL_ERROR)      \
	X(int, gnutls_handshake, (gnutls_session_t s), (s), GNUTLS_E_INTERNAL_ERROR)               \
	X(int, gnutls_init, (gnutls_session_t * s, unsigned int f), (s, f),                        \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	V(gnutls_priority_deinit, (gnutls_priority_t p), (p))                                      \
	X(int, gnutls_priority_init, (gnutls_priority_t * p, const char *s, const char **e),       \
	  (p, s, e), GNUTLS_E_INTERNAL_ERROR)                                                      \
	V(gnutls_pcert_deinit, (gnutls_pcert_st * p), (p))                                         \
	X(int, gnutls_pcert_list_import_x509_raw,                                                  \
	  (gnutls_pcert_st * p, unsigned int *max, const gnutls_datum_t *d,                        \
	   gnutls_x509_crt_fmt_t f, unsigned int fl),                                              \
	  (p, max, d, f, fl), GNUTLS_E_INTERNAL_ERROR)                                             \
	X(int, gnutls_priority_set, (gnutls_session_t s, gnutls_priority_t p), (s, p),             \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	X(gnutls_protocol_t, gnutls_protocol_get_version, (gnutls_session_t s), (s),               \
	  GNUTLS_VERSION_UNKNOWN)                                                                  \
	V(gnutls_privkey_deinit, (gnutls_privkey_t k), (k))                                        \
	X(int, gnutls_privkey_import_x509_raw,                                                     \
	  (gnutls_privkey_t k, const gnutls_datum_t *d, gnutls_x509_crt_fmt_t f, const char *pw,   \
	   unsigned int fl),                                                                       \
	  (k, d, f, pw, fl), GNUTLS_E_INTERNAL_ERROR)                                              \
	X(int, gnutls_privkey_init, (gnutls_privkey_t * k), (k), GNUTLS_E_INTERNAL_ERROR)          \
	X(int, gnutls_psk_allocate_server_credentials, (gnutls_psk_server_credentials_t * c), (c), \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	V(gnutls_psk_free_server_credentials, (gnutls_psk_server_credentials_t c), (c))            \
	V(gnutls_psk_set_server_credentials_function,                                              \
	  (gnutls_psk_server_credentials_t c, gnutls_psk_server_credentials_function * f), (c, f)) \
	X(size_t, gnutls_record_check_pending, (gnutls_session_t s), (s), 0)                       \
	X(int, gnutls_record_get_direction, (gnutls_session_t s), (s), 0)                          \
	X(ssize_t, gnutls_record_recv, (gnutls_session_t s, void *d, size_t n), (s, d, n),         \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	X(ssize_t, gnutls_record_send, (gnutls_session_t s, const void *d, size_t n), (s, d, n),   \
	  GNUTLS_E_INTERNAL_ERROR)                                                                 \
	X(void *, gnutls_session_get_ptr, (gnutls_session_t s), (s), NULL)                         \
	V(gnutls_session_set_ptr, (gnutls_session_t s, void *p), (s, p))                           \
	X(const char *, gnutls_strerror, (int e), (e), "GnuTLS could not be loaded")               \
	V(gnutls_transport_set_int2, (gnutls_session_t s, int r, int w), (s, r, w))

#define PTR_X(ret, name, params, args, fail) static ret(*p_##name) params;
#define PTR_V(name, params, args)            static void(*p_##name) params;
GNUTLS_FUNCS(PTR_X, PTR_V)
static int (*p_gnutls_global_init)(void);
static void (*p_gnutls_global_deinit)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static bool init_requested;

static void
load(void)
{
	void *h = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
	bool ok = h != NULL;

	if (!h) {
		log_error("TLS: cannot load %s: %s", GNUTLS_SONAME, dlerror());
		return;
	}
#define LOAD_X(ret, name, params, args, fail) ok = ok && (*(void **)&p_##name = dlsym(h, #name));
#define LOAD_V(name, params, args)            LOAD_X(void, name, params, args, 0)
	GNUTLS_FUNCS(LOAD_X, LOAD_V)
	LOAD_V(gnutls_global_init, (void), ())
	LOAD_V(gnutls_global_deinit, (void), ())
	if (!ok) {
		log_error("TLS: %s lacks a function libmicrohttpd needs", GNUTLS_SONAME);
		return;
	}
	if (init_requested && p_gnutls_global_init() < 0) {
		log_error("TLS: gnutls_global_init failed");
		return;
	}
	loaded = true;
}

static bool
ensure(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

#define DEF_X(ret, name, params, args, fail)                                                       \
	ret name params                                                                            \
	{                                                                                          \
		return ensure() ? p_##name args : (fail);                                          \
	}
#define DEF_V(name, params, args)                                                                  \
	void name params                                                                           \
	{                                                                                          \
		if (ensure())                                                                      \
			p_##name args;                                                             \
	}
GNUTLS_FUNCS(DEF_X, DEF_V)

/* libmicrohttpd's constructor calls this at every start: only note it. */
int
gnutls_global_init(void)
{
	init_requested = true;
	return 0;
}

void
gnutls_global_deinit(void)
{
	if (loaded)
		p_gnutls_global_deinit();
}

/* libmicrohttpd allocates the keys it hands a PSK callback with it; GnuTLS's
 * own default is malloc too. */
gnutls_alloc_function gnutls_malloc = malloc;

bool
http_tls_loaded(void)
{
	return loaded;
}
