/* jwt_fetch.h - the JWT auth method's outgoing HTTP: JWKS documents and OIDC
 * discovery (/.well-known/openid-configuration), fetched with libcurl (loaded
 * at run time, src/lib/curl_dl.c).
 *
 * GET only, http or https only, no redirects, TLS peer and host verification
 * always on (ca_pem replaces the system CAs when set), JWT_FETCH_TIMEOUT
 * seconds in all, at most JWT_FETCH_MAX_BYTES of body. Blocks the calling
 * thread; callers hold no lock. */
#ifndef CF_JWT_FETCH_H
#define CF_JWT_FETCH_H

#include <stddef.h>

#define JWT_FETCH_TIMEOUT         5 /* seconds, whole transfer */
#define JWT_FETCH_CONNECT_TIMEOUT 3
#define JWT_FETCH_MAX_BYTES       (1024 * 1024)

/* Fetches url. Returns 0 with a malloc'd NUL-terminated body in *ret_body
 * (length *ret_len) when the server answered 200; CF_EUPSTREAM with a reason
 * in err (never NULL, always terminated) otherwise; CF_EINVAL for a URL that
 * is not http(s); CF_ENOMEM. */
int jwt_fetch(const char *url, const char *ca_pem, char **ret_body, size_t *ret_len, char *err,
              size_t errlen);

/* OIDC discovery: fetches <issuer_url>/.well-known/openid-configuration and
 * checks that its "issuer" equals issuer_url (OpenID Connect Discovery §4.3,
 * as go-oidc does). Returns 0 with malloc'd copies of the issuer and jwks_uri,
 * or an error as jwt_fetch (CF_EUPSTREAM for a bad document). */
int jwt_fetch_discovery(const char *issuer_url, const char *ca_pem, char **ret_issuer,
                        char **ret_jwks_uri, char *err, size_t errlen);

#endif
