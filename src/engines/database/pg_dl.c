/* pg_dl.c - run-time loading of libpq (see pg_dl.h). */
#include "engines/database/pg_dl.h"

#include "lib/err.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

struct pg_dl pg_dl;

static pthread_once_t pg_dl_once = PTHREAD_ONCE_INIT;
static void *lib;

#define PG_DL_SYM(field, name)                                                                     \
	do {                                                                                       \
		void *p_ = dlsym(lib, name);                                                       \
		if (!p_)                                                                           \
			goto fail;                                                                 \
		/* POSIX: a data pointer from dlsym converts to a function pointer. */             \
		*(void **)&tmp.field = p_;                                                         \
	} while (0)

static void
pg_dl_do_load(void)
{
	struct pg_dl tmp = {0};

	lib = dlopen(PG_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return;
	PG_DL_SYM(connect_start_params, "PQconnectStartParams");
	PG_DL_SYM(connect_poll, "PQconnectPoll");
	PG_DL_SYM(finish, "PQfinish");
	PG_DL_SYM(status, "PQstatus");
	PG_DL_SYM(error_message, "PQerrorMessage");
	PG_DL_SYM(socket, "PQsocket");
	PG_DL_SYM(set_nonblocking, "PQsetnonblocking");
	PG_DL_SYM(send_query, "PQsendQuery");
	PG_DL_SYM(send_query_params, "PQsendQueryParams");
	PG_DL_SYM(flush, "PQflush");
	PG_DL_SYM(consume_input, "PQconsumeInput");
	PG_DL_SYM(is_busy, "PQisBusy");
	PG_DL_SYM(get_result, "PQgetResult");
	PG_DL_SYM(result_status, "PQresultStatus");
	PG_DL_SYM(result_error_message, "PQresultErrorMessage");
	PG_DL_SYM(result_error_field, "PQresultErrorField");
	PG_DL_SYM(ntuples, "PQntuples");
	PG_DL_SYM(clear, "PQclear");
	PG_DL_SYM(set_notice_processor, "PQsetNoticeProcessor");
	PG_DL_SYM(transaction_status, "PQtransactionStatus");
	tmp.loaded = true;
	pg_dl = tmp;
	return;
fail:
	dlclose(lib);
	lib = NULL;
}

int
pg_dl_load(void)
{
	(void)pthread_once(&pg_dl_once, pg_dl_do_load);
	return pg_dl.loaded ? 0 : CF_EUNSUPPORTED;
}
