/* server.c - `coffer server`: storage, core, HTTP front end, signals.
 *
 *   coffer server --dev [--dev-root-token=TOKEN] [--listen=HOST:PORT]
 *   coffer server --storage=sqlite:PATH | --storage=memory:
 *                 [--listen=HOST:PORT] [--tls-cert=PEM --tls-key=PEM]
 *                 [--max-request-size=BYTES] [--http-threads=N] [--log-level=LEVEL]
 *                 [--x-forwarded-for-authorized-addrs=CIDRS
 *                  [--x-forwarded-for-reject-not-authorized]]
 *   coffer server --config=FILE [flags, which win over the file]
 *
 * SIGTERM/SIGINT stop accepting, finish in-flight requests, seal and close
 * storage. The process refuses core dumps: keys live in its memory. */
#include "cli/cli.h"
#include "cli/server_config.h"
#include "core/core.h"
#include "sealing/sealing.h"
#include "server/server.h"
#include "storage/storage.h"
#include "http/http.h"
#include "backend/backend.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define SERVER_DEFAULT_LISTEN "127.0.0.1:8200"

/* The usage text, with the defaults this machine gets (the thread count
 * depends on its cores). */
static void
server_usage(char *buf, size_t size)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = (unsigned)(ncpu > 1 ? ncpu : 1) * HTTP_THREADS_PER_CORE;

	if (threads > HTTP_MAX_THREADS)
		threads = HTTP_MAX_THREADS;
	snprintf(buf, size,
	         "Usage: coffer server --dev [--dev-root-token=TOKEN] [--listen=HOST:PORT]\n"
	         "       coffer server --storage=sqlite:PATH [options]\n"
	         "\n"
	         "Runs the coffer server. --dev starts initialized and unsealed on in-memory\n"
	         "storage with KV v2 at secret/ and prints the root token. Otherwise the server\n"
	         "starts sealed: coffer operator init once, then coffer operator unseal.\n"
	         "\n"
	         "  --storage=sqlite:PATH    a SQLite file (created with mode 0600), memory:\n"
	         "                           (kept in memory only), or postgres:URL (a\n"
	         "                           PostgreSQL connection URI; ?schema=NAME);\n"
	         "                           required without --dev\n"
	         "  --listen=HOST:PORT       where to listen (default %s); HOST is an IPv4\n"
	         "                           address, a host name, or empty for all addresses\n"
	         "  --tls-cert=PEM --tls-key=PEM\n"
	         "                           serve HTTPS with this certificate and key\n"
	         "                           (default: plain HTTP)\n"
	         "  --max-request-size=BYTES largest request body, at least 1024\n"
	         "                           (default %u = %u MiB)\n"
	         "  --http-threads=N         HTTP threads, 2 to %u (default %u per core: %u here)\n"
	         "  --log-level=LEVEL        error, info, verbose, debug1, debug2 or debug3\n"
	         "                           (default info)\n"
	         "  --dev                    dev mode, as above (default off)\n"
	         "  --dev-root-token=TOKEN   with --dev: the root token (default: a random one)\n"
	         "  --config=FILE            a server config file in HCL (docs/config.md);\n"
	         "                           flags win over it; SIGHUP re-reads its log_level\n"
	         "  --x-forwarded-for-authorized-addrs=CIDRS\n"
	         "                           proxies (comma-separated CIDR blocks) whose\n"
	         "                           X-Forwarded-For names the client (default none)\n"
	         "  --x-forwarded-for-reject-not-authorized\n"
	         "                           answer 400 to X-Forwarded-For from other peers\n"
	         "                           (default: ignore the header)\n"
	         "  --unauthenticated-metrics-access\n"
	         "                           serve sys/metrics without a token\n"
	         "  --api-addr=URL           the URL clients reach this node at (HA: advertised\n"
	         "                           to the standbys; default: the listener's URL)\n"
	         "  --forward                HA standby: forward requests to the active node\n"
	         "                           instead of redirecting (307) the client\n",
	         SERVER_DEFAULT_LISTEN, HTTP_DEFAULT_MAX_BODY, HTTP_DEFAULT_MAX_BODY >> 20,
	         HTTP_MAX_THREADS, HTTP_THREADS_PER_CORE, threads);
}

enum {
	OPT_DEV = CLI_OPT_LOCAL,
	OPT_DEV_ROOT,
	OPT_LISTEN,
	OPT_STORAGE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_MAX_BODY,
	OPT_API_ADDR,
	OPT_FORWARD,
	OPT_LOG_LEVEL,
	OPT_CONFIG,
	OPT_THREADS,
	OPT_XFF_ADDRS,
	OPT_XFF_REJECT,
	OPT_UNAUTH_METRICS,
};

static void
harden_process(void)
{
	struct rlimit rl = {0, 0};
	struct rlimit nofile;

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Many client connections: raise the descriptor limit to the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
}

/* What `coffer server`'s options ask for. */
struct server_args {
	struct http_config hc;
	const char *storage;      /* --storage, or NULL */
	const char *dev_root;     /* --dev-root-token, or NULL */
	const char *api_addr;     /* --api-addr: the URL clients reach this node at (HA) */
	const char *cluster_name; /* cluster_name of the config file, or NULL */
	bool forward;             /* standbys forward requests to the active node instead of
	                           * redirecting (HA) */
	bool dev;
	const char *config;        /* --config, or NULL */
	bool log_level_flag;       /* --log-level given: the file's log_level is not used */
	struct server_config file; /* what --config says; flags win */
	bool unauth_metrics;       /* --unauthenticated-metrics-access */
};

/* Loads --config into a->file and fills in what no flag set (flags win).
 * Returns 0, or CLI_EXIT_ERROR after printing "FILE:LINE: what". */
static int
server_apply_config(struct server_args *a)
{
	struct server_config *f = &a->file;
	struct http_config *hc = &a->hc;
	char err[1024];

	if (server_config_load(a->config, f, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return CLI_EXIT_ERROR;
	}
	if (!a->storage)
		a->storage = f->storage;
	if (!hc->listen)
		hc->listen = f->listen;
	if (!hc->tls_cert && !hc->tls_key && !f->tls_disable) {
		hc->tls_cert = f->tls_cert;
		hc->tls_key = f->tls_key;
	}
	if (!hc->max_body)
		hc->max_body = f->max_body;
	if (!hc->xff_authorized)
		hc->xff_authorized = f->xff_authorized;
	if (!hc->xff_reject)
		hc->xff_reject = f->xff_reject;
	hc->telemetry = f->telemetry;
	if (!a->api_addr)
		a->api_addr = f->api_addr;
	if (!a->cluster_name)
		a->cluster_name = f->cluster_name;
	if (f->has_log_level && !a->log_level_flag)
		log_set_level(f->log_level);
	/* before the core exists: mounts without TTLs of their own use these */
	mount_set_system_ttls(f->default_lease_ttl, f->max_lease_ttl);
	return 0;
}

/* Parses and checks argv into a (strings borrowed from argv). Applies
 * --log-level at once. Returns 0, or CLI_EXIT_ERROR after a usage error
 * (nothing opened yet: a bad listen address is caught before storage is). */
static int
server_parse_args(int argc, char **argv, struct server_args *a)
{
	static const struct option opts[] = {
	        {"dev", no_argument, NULL, OPT_DEV},
	        {"dev-root-token", required_argument, NULL, OPT_DEV_ROOT},
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"storage", required_argument, NULL, OPT_STORAGE},
	        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
	        {"max-request-size", required_argument, NULL, OPT_MAX_BODY},
	        {"api-addr", required_argument, NULL, OPT_API_ADDR},
	        {"forward", no_argument, NULL, OPT_FORWARD},
	        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	        {"config", required_argument, NULL, OPT_CONFIG},
	        {"http-threads", required_argument, NULL, OPT_THREADS},
	        {"x-forwarded-for-authorized-addrs", required_argument, NULL, OPT_XFF_ADDRS},
	        {"x-forwarded-for-reject-not-authorized", no_argument, NULL, OPT_XFF_REJECT},
	        {"unauthenticated-metrics-access", no_argument, NULL, OPT_UNAUTH_METRICS},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	char usage[4096], err[512];
	int opt;

	server_usage(usage, sizeof(usage));
	while ((opt = cli_getopt(argc, argv, opts, usage)) != -1) {
		switch (opt) {
		case OPT_DEV:
			a->dev = true;
			break;
		case OPT_DEV_ROOT:
			a->dev_root = optarg;
			break;
		case OPT_LISTEN:
			a->hc.listen = optarg;
			break;
		case OPT_STORAGE:
			a->storage = optarg;
			break;
		case OPT_TLS_CERT:
			a->hc.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			a->hc.tls_key = optarg;
			break;
		case OPT_MAX_BODY: {
			int64_t n;
			if (util_parse_int(optarg, &n) < 0 || n < 1024)
				return cli_usage_err("--max-request-size must be a number of bytes "
				                     ">= 1024");
			a->hc.max_body = (size_t)n;
			break;
		}
		case OPT_THREADS: {
			int64_t n;
			if (util_parse_int(optarg, &n) < 0 || n < 2 || n > HTTP_MAX_THREADS)
				return cli_usage_err("--http-threads must be between 2 and %u",
				                     HTTP_MAX_THREADS);
			a->hc.threads = (unsigned)n;
			break;
		}
		case OPT_API_ADDR:
			a->api_addr = optarg;
			break;
		case OPT_FORWARD:
			a->forward = a->hc.forward = true;
			break;
		case OPT_LOG_LEVEL: {
			enum log_level l;
			if (log_parse_level(optarg, &l) < 0)
				return cli_usage_err("unknown log level %s", optarg);
			log_set_level(l);
			a->log_level_flag = true;
			break;
		}
		case OPT_UNAUTH_METRICS:
			a->unauth_metrics = true;
			break;
		case OPT_CONFIG:
			a->config = optarg;
			break;
		case OPT_XFF_ADDRS:
			a->hc.xff_authorized = optarg;
			break;
		case OPT_XFF_REJECT:
			a->hc.xff_reject = true;
			break;
		default:
			return cli_usage_err("unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_err("unexpected argument %s", argv[optind]);
	if (a->config && server_apply_config(a) != 0)
		return CLI_EXIT_ERROR;
	if (a->hc.listen == NULL)
		a->hc.listen = SERVER_DEFAULT_LISTEN;
	if (!a->dev && !a->storage)
		return cli_usage_err("--storage=sqlite:PATH (or --dev) is required");
	if (a->dev_root && (!*a->dev_root || strchr(a->dev_root, '.')))
		return cli_usage_err("--dev-root-token must be non-empty and contain no '.'");
	if ((a->hc.tls_cert == NULL) != (a->hc.tls_key == NULL))
		return cli_usage_err("--tls-cert and --tls-key go together");
	/* Before storage is opened (a SQLite file would be created for nothing). */
	if (http_listen_check(a->hc.listen, err, sizeof(err)) < 0)
		return cli_usage_err("%s", err);
	{
		struct cidr *xff;
		size_t n;
		if (http_xff_parse(a->hc.xff_authorized, &xff, &n, err, sizeof(err)) < 0)
			return cli_usage_err("%s", err);
		free(xff);
	}
	return 0;
}

/* Opens storage and the core (initialized and unsealed with --dev, which then
 * prints the unseal key and root token once), and starts the HTTP front end.
 * Returns 0 with *ret_core and *ret_http set, or CLI_EXIT_ERROR (error
 * printed, nothing left open). The dev secrets are wiped on every path. */
static int
server_start(const struct server_args *a, struct core **ret_core, struct http_server **ret_http)
{
	const struct http_config *hc = &a->hc;
	struct core_config cc = {0};
	struct http_server *http = NULL;
	struct core *core = NULL;
	char *root = NULL, *unseal = NULL, *shown = NULL;
	char err[512], self[300];
	int r;

	cc.storage_spec = a->dev ? (a->storage ? a->storage : "memory:") : a->storage;
	cc.cluster_name = a->cluster_name;
	cc.unauthenticated_metrics =
	        a->unauth_metrics || a->hc.telemetry.unauthenticated_metrics_access;
	/* HA advertises where clients reach this node: --api-addr, else the listener */
	(void)snprintf(self, sizeof(self), "%s%s", hc->tls_cert ? "https://" : "http://",
	               hc->listen);
	cc.api_addr = a->api_addr ? a->api_addr : self;
	shown = storage_spec_redact(cc.storage_spec); /* no password in logs */
	if (shown == NULL)
		cli_oom();
	r = server_core_new(&cc, &core);
	if (r < 0) {
		cli_err("cannot open storage %s: %s", shown, cf_strerror(r));
		r = CLI_EXIT_ERROR;
		goto out;
	}
	/* The first sealing key (RSA, seconds to make) is made in the background
	 * after init; a dev server, which must start at once, makes it when a
	 * request first needs it. */
	sealing_set_first_key_on_demand(core_subsystem(core, "sealing"), a->dev);
	if (a->dev) {
		r = core_dev_setup(core, a->dev_root, &root, &unseal);
		if (r < 0) {
			cli_err("dev setup failed: %s", cf_strerror(r));
			r = CLI_EXIT_ERROR;
			goto out;
		}
	}
	r = http_start(hc, core, &http, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		r = CLI_EXIT_ERROR;
		goto out;
	}
	log_info("coffer %s listening on %s%s (storage %s)", COFFER_VERSION,
	         hc->tls_cert ? "https://" : "http://", hc->listen, shown);
	if (a->dev) {
		printf("WARNING: dev mode: in-memory storage, unsealed, root token printed.\n\n"
		       "Unseal Key: %s\nRoot Token: %s\n\n"
		       "    export COFFER_ADDR='%s%s'\n    export COFFER_TOKEN='%s'\n",
		       unseal, root, hc->tls_cert ? "https://" : "http://", hc->listen, root);
		fflush(stdout);
	}
	*ret_core = core;
	*ret_http = http;
	core = NULL;
	r = 0;
out:
	free(shown); /* not secret: the password is redacted */
	secmem_free_str(unseal);
	secmem_free_str(root);
	core_free(core);
	return r;
}

/* SIGHUP with --config: reads the file again and applies its log_level
 * (unless --log-level was given). A file that no longer parses changes
 * nothing, with one line in the log. Other keys need a restart. */
static void
server_reload_config(const struct server_args *a)
{
	struct server_config f = {0};
	char err[1024];

	if (!a->config)
		return;
	if (server_config_load(a->config, &f, err, sizeof(err)) < 0) {
		log_error("SIGHUP: keeping the current settings: %s", err);
		goto out;
	}
	if (f.has_log_level && !a->log_level_flag) {
		log_set_level(f.log_level);
		log_info("SIGHUP: log level set from %s", a->config);
	}
out:
	server_config_free(&f);
}

/* Waits for SIGTERM or SIGINT. SIGHUP re-reads the config file's log level
 * and the TLS certificate files (--tls-cert/--tls-key or the file's
 * tls_cert_file/tls_key_file: new connections get them; open ones go on); a
 * bad file keeps the old settings, with one line in the log. */
static void
server_wait_stop(const sigset_t *sigs, struct http_server *http, const struct server_args *a)
{
	bool tls = a->hc.tls_cert != NULL;
	char err[1024];
	int sig;

	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			server_reload_config(a);
			if (!tls) {
				if (!a->config)
					log_info("SIGHUP: nothing to reload");
			} else if (http_tls_reload(http, err, sizeof(err)) < 0)
				log_error("SIGHUP: keeping the current TLS certificate: %s", err);
			else
				log_info("SIGHUP: TLS certificate reloaded");
			continue;
		}
		break;
	}
}

int
server_main(int argc, char **argv)
{
	struct server_args a = {0};
	struct http_server *http = NULL;
	struct core *core = NULL;
	sigset_t sigs;
	int r;

	cli_set_command("server", NULL);
	r = server_parse_args(argc, argv, &a);
	if (r != 0)
		goto out;

	harden_process();
	if (sodium_init() < 0) {
		cli_err("libsodium failed to initialize");
		r = CLI_EXIT_ERROR;
		goto out;
	}
	jsonx_init();
	/* Signals are taken synchronously by this thread; every other thread
	 * inherits the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = server_start(&a, &core, &http);
	if (r != 0)
		goto out;
	server_wait_stop(&sigs, http, &a);
	log_info("shutting down: finishing in-flight requests");
	http_stop(http);
	core_free(core);
	log_info("stopped");
	r = CLI_EXIT_OK;
out:
	server_config_free(&a.file);
	return r;
}
