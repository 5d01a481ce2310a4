/* pg_dl.h - libpq loaded at run time (dlopen) on the first use of a database
 * mount, so the server's start-up time and idle memory do not pay for libpq and
 * its dependency tree (Kerberos, LDAP). <libpq-fe.h> is used for types and
 * constants only; calls go through the pg_dl function-pointer table that
 * pg_dl_load() fills in. */
#ifndef CF_DB_PG_DL_H
#define CF_DB_PG_DL_H

#include <libpq-fe.h>
#include <stdbool.h>

#define PG_DL_SONAME "libpq.so.5"

struct pg_dl {
	bool loaded;
	PGconn *(*connect_start_params)(const char *const *keywords, const char *const *values,
	                                int expand_dbname);
	PostgresPollingStatusType (*connect_poll)(PGconn *conn);
	void (*finish)(PGconn *conn);
	ConnStatusType (*status)(const PGconn *conn);
	char *(*error_message)(const PGconn *conn);
	int (*socket)(const PGconn *conn);
	int (*set_nonblocking)(PGconn *conn, int arg);
	int (*send_query)(PGconn *conn, const char *query);
	int (*send_query_params)(PGconn *conn, const char *command, int nparams,
	                         const Oid *param_types, const char *const *param_values,
	                         const int *param_lengths, const int *param_formats,
	                         int result_format);
	int (*flush)(PGconn *conn);
	int (*consume_input)(PGconn *conn);
	int (*is_busy)(PGconn *conn);
	PGresult *(*get_result)(PGconn *conn);
	ExecStatusType (*result_status)(const PGresult *res);
	char *(*result_error_message)(const PGresult *res);
	char *(*result_error_field)(const PGresult *res, int fieldcode);
	int (*ntuples)(const PGresult *res);
	void (*clear)(PGresult *res);
	PQnoticeProcessor (*set_notice_processor)(PGconn *conn, PQnoticeProcessor proc, void *arg);
	PGTransactionStatusType (*transaction_status)(const PGconn *conn);
};

/* Filled by pg_dl_load(); read-only afterwards. */
extern struct pg_dl pg_dl;

/* Loads PG_DL_SONAME and resolves every entry of pg_dl. Idempotent and
 * thread-safe (pthread_once). Returns 0, or CF_EUNSUPPORTED when the library
 * or one of its symbols is missing. */
int pg_dl_load(void);

#endif
