/* server.c - `coffer server`: storage, core, HTTP front end, signals.
 *
 *   coffer server --dev [--dev-root-token=TOKEN] [--listen=ADDR:PORT]
 *   coffer server --storage=sqlite:PATH | --storage=memory:
 *                 [--listen=ADDR:PORT] [--tls-cert=PEM --tls-key=PEM]
 *                 [--max-request-size=BYTES] [--log-level=LEVEL]
 *
 * SIGTERM/SIGINT stop accepting, finish in-flight requests, seal and close
 * storage. The process refuses core dumps: keys live in its memory. */
#include "cli/cli.h"
#include "core/core.h"
#include "http/http.h"
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

static const char usage[] =
        "Usage: coffer server --dev [--dev-root-token=TOKEN] [--listen=ADDR:PORT]\n"
        "       coffer server --storage=sqlite:PATH [--listen=ADDR:PORT]\n"
        "                     [--tls-cert=PEM --tls-key=PEM] [--max-request-size=BYTES]\n"
        "                     [--http-threads=N] [--api-addr=URL] [--log-level=LEVEL]\n"
        "\n"
        "Runs the coffer server. --dev starts initialized and unsealed on in-memory\n"
        "storage with KV v2 at secret/ and prints the root token.\n";

enum {
	OPT_DEV = CLI_OPT_LOCAL,
	OPT_DEV_ROOT,
	OPT_LISTEN,
	OPT_STORAGE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_MAX_BODY,
	OPT_API_ADDR,
	OPT_LOG_LEVEL,
	OPT_CONFIG,
	OPT_THREADS,
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

int
server_main(int argc, char **argv)
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
	        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	        {"config", required_argument, NULL, OPT_CONFIG},
	        {"http-threads", required_argument, NULL, OPT_THREADS},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct http_config hc = {.listen = "127.0.0.1:8200"};
	struct core_config cc = {0};
	struct http_server *http = NULL;
	struct core *core = NULL;
	const char *storage = NULL, *dev_root = NULL;
	bool dev = false;
	char *root = NULL, *unseal = NULL;
	sigset_t sigs;
	int opt, sig, r;

	cli_set_command("server", NULL);
	while ((opt = cli_getopt(argc, argv, opts, usage)) != -1) {
		switch (opt) {
		case OPT_DEV:
			dev = true;
			break;
		case OPT_DEV_ROOT:
			dev_root = optarg;
			break;
		case OPT_LISTEN:
			hc.listen = optarg;
			break;
		case OPT_STORAGE:
			storage = optarg;
			break;
		case OPT_TLS_CERT:
			hc.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			hc.tls_key = optarg;
			break;
		case OPT_MAX_BODY: {
			int64_t n;
			if (util_parse_int(optarg, &n) < 0 || n < 1024)
				return cli_usage_err("--max-request-size must be a number of bytes "
				                     ">= 1024");
			hc.max_body = (size_t)n;
			break;
		}
		case OPT_THREADS: {
			int64_t n;
			if (util_parse_int(optarg, &n) < 0 || n < 2 || n > 256)
				return cli_usage_err("--http-threads must be between 2 and 256");
			hc.threads = (unsigned)n;
			break;
		}
		case OPT_API_ADDR:
			break; /* single node: nothing to advertise yet */
		case OPT_LOG_LEVEL: {
			enum log_level l;
			if (log_parse_level(optarg, &l) < 0)
				return cli_usage_err("unknown log level %s", optarg);
			log_set_level(l);
			break;
		}
		case OPT_CONFIG:
			return cli_usage_err("--config files are not supported yet; use flags");
		default:
			return cli_usage_err("unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_err("unexpected argument %s", argv[optind]);
	if (!dev && !storage)
		return cli_usage_err("--storage=sqlite:PATH (or --dev) is required");
	if (dev_root && (!*dev_root || strchr(dev_root, '.')))
		return cli_usage_err("--dev-root-token must be non-empty and contain no '.'");
	if ((hc.tls_cert == NULL) != (hc.tls_key == NULL))
		return cli_usage_err("--tls-cert and --tls-key go together");

	harden_process();
	if (sodium_init() < 0) {
		cli_err("libsodium failed to initialize");
		return CLI_EXIT_ERROR;
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

	cc.storage_spec = dev ? (storage ? storage : "memory:") : storage;
	r = core_new(&cc, &core);
	if (r < 0) {
		cli_err("cannot open storage %s: %s", cc.storage_spec, cf_strerror(r));
		return CLI_EXIT_ERROR;
	}
	if (dev) {
		r = core_dev_setup(core, dev_root, &root, &unseal);
		if (r < 0) {
			cli_err("dev setup failed: %s", cf_strerror(r));
			core_free(core);
			return CLI_EXIT_ERROR;
		}
	}
	r = http_start(&hc, core, &http);
	if (r < 0) {
		cli_err("cannot listen on %s: %s", hc.listen,
		        r == CF_EINVAL ? "bad address or TLS files"
		                       : "address in use or not allowed");
		secmem_free_str(unseal);
		secmem_free_str(root);
		core_free(core);
		return CLI_EXIT_ERROR;
	}
	log_info("coffer %s listening on %s%s (storage %s)", COFFER_VERSION,
	         hc.tls_cert ? "https://" : "http://", hc.listen, cc.storage_spec);
	if (dev) {
		printf("WARNING: dev mode: in-memory storage, unsealed, root token printed.\n\n"
		       "Unseal Key: %s\nRoot Token: %s\n\n"
		       "    export COFFER_ADDR='%s%s'\n    export COFFER_TOKEN='%s'\n",
		       unseal, root, hc.tls_cert ? "https://" : "http://", hc.listen, root);
		fflush(stdout);
		secmem_free_str(unseal);
		secmem_free_str(root);
	}

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: nothing to reload");
			continue;
		}
		break;
	}
	log_info("shutting down: finishing in-flight requests");
	http_stop(http);
	core_free(core);
	log_info("stopped");
	return CLI_EXIT_OK;
}
