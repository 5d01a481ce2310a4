/*
 * ref_server.c - the reference HTTP server the coffer benchmarks compare against.
 *
 * A minimal libmicrohttpd program set up the way coffer's front end should be:
 * epoll with internal polling, a thread pool of 2 (single-thread epoll mode
 * collapses at >= 128 connections in 0.9.75), and the
 * response queued on the *last* call of the access handler so keep-alive works
 * (pitfall 1).  Every request, any method and path, gets 200 with the same
 * ~200-byte JSON body from memory.
 *
 * usage: ref_server PORT [THREADS]
 * Listens on 127.0.0.1:PORT, prints "ready" on stdout once listening, and stops
 * cleanly on SIGINT/SIGTERM.
 */
#include <microhttpd.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

/* Shaped like a KV v2 read answer; 214 bytes. */
static const char body[] =
        "{\"request_id\":\"8c2f4d1e-5b7a-4e3c-9a10-2f6b8d4c1e77\",\"lease_id\":\"\","
        "\"renewable\":false,\"lease_duration\":0,\"data\":{\"data\":{\"v\":\"benchmark-value\"},"
        "\"metadata\":{\"version\":1}},\"wrap_info\":null,\"warnings\":null,\"auth\":null}";

static struct MHD_Response *resp;
static int marker;

static MHD_RESULT
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;

	/* First call: headers only.  Answer later, or MHD drops keep-alive. */
	if (*con_cls == NULL) {
		*con_cls = &marker;
		return MHD_YES;
	}
	/* Drain any upload; the last call has *upload_data_size == 0. */
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	sigset_t set;
	unsigned int threads = 2;
	int port, sig;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: ref_server PORT [THREADS]\n");
		return 2;
	}
	port = atoi(argv[1]);
	if (argc == 3)
		threads = (unsigned int)atoi(argv[2]);
	if (port <= 0 || port > 65535 || threads < 1) {
		fprintf(stderr, "ref_server: bad port or thread count\n");
		return 2;
	}

	/* Block the stop signals before MHD starts its threads; main waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	                                       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return 1;
	MHD_add_response_header(resp, "Content-Type", "application/json");

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
	                     NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                     MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
	                     (unsigned int)8192, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "ref_server: cannot listen on 127.0.0.1:%d\n", port);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
}
