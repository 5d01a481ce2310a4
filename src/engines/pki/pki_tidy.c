/* pki_tidy.c - tidy and tidy-status of the pki engine (Vault's PKI API "Tidy"
 * and "Tidy status").
 *
 * tidy answers 202 at once and runs on its own thread (one run per mount at a
 * time; a second request while one runs gets 202 with a warning, as Vault; a
 * request with neither operation set runs and finds nothing to do, as older
 * Vaults and hvac's tests expect). It deletes, in batches:
 *   tidy_cert_store     certs/<serial> rows of certificates expired more than
 *                       safety_buffer ago;
 *   tidy_revoked_certs  revoked/<serial> rows of certificates expired more than
 *                       safety_buffer ago, then rebuilds the CRL without them.
 * tidy-status shows the last run (kept in memory: "Inactive" after a restart,
 * as Vault). The mount's cleanup stops a run between two batches and joins
 * its thread (pki_crl_cleanup). */
#include "engines/pki/pki_int.h"
#include "engines/pki/pki_rev.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIDY_BATCH 256

struct tidy_args {
	bool tidy_cert_store, tidy_revoked_certs, tidy_revoked_cert_issuer_associations;
	int64_t safety_buffer;
	int64_t pause_duration;
};
#define TP(f) offsetof(struct tidy_args, f)

const struct field pki_tidy_fields[] = {
        {"tidy_cert_store", FIELD_BOOL, 0, TP(tidy_cert_store), .def = "false",
         .desc = "delete stored certificates expired more than safety_buffer ago"},
        {"tidy_revoked_certs", FIELD_BOOL, 0, TP(tidy_revoked_certs), .def = "false",
         .desc = "delete revocation entries of certificates expired more than safety_buffer "
                 "ago (they leave the CRL)"},
        {"tidy_revoked_cert_issuer_associations", FIELD_BOOL, 0,
         TP(tidy_revoked_cert_issuer_associations), .def = "false",
         .desc = "accepted; a mount has one issuer, so there is nothing to associate"},
        {"safety_buffer", FIELD_DURATION, 0, TP(safety_buffer), .def = "72h",
         .desc = "how long after expiry an entry is kept"},
        {"pause_duration", FIELD_DURATION, 0, TP(pause_duration), .def = "0s",
         .desc = "accepted; tidy works in batches without pausing"},
        {NULL},
};

struct tidy_job {
	struct mount *m;
	struct pki_crl *crl;
	struct tidy_args a;
};

static void
now_rfc3339(char out[40])
{
	util_rfc3339(util_now_ns(), out, 40);
}

/* Caller holds crl->mu. */
static void
status_set_int(struct pki_crl *crl, const char *key, int64_t v)
{
	(void)json_object_set_new(crl->tidy_status, key, json_integer(v));
}

static bool
stopping(struct pki_crl *crl)
{
	bool stop;

	pthread_mutex_lock(&crl->mu);
	stop = crl->tidy_stop;
	pthread_mutex_unlock(&crl->mu);
	return stop;
}

/* A row's certificate expiration (unix seconds), 0 when it cannot tell. */
static int64_t
row_expiration(json_t *row)
{
	const char *pem = json_string_value(json_object_get(row, "certificate"));
	int64_t exp = 0;
	X509 *x = NULL;
	BIO *bio;
	int day = 0, sec = 0;

	if (jsonx_int(row, "expiration", &exp) == 0)
		return exp;
	if (!pem)
		return 0;
	bio = BIO_new_mem_buf(pem, -1);
	if (bio)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x && ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x)))
		exp = util_now() + (int64_t)day * 86400 + sec;
	X509_free(x);
	return exp;
}

/* Deletes the rows under prefix ("certs/", "revoked/") whose certificate
 * expired before cutoff. Counts deletions into the status key counter and
 * what is left into left_key. */
static int
tidy_prefix(struct tidy_job *j, const char *prefix, int64_t cutoff, const char *counter,
            const char *left_key, size_t *ret_deleted)
{
	struct view *v = j->m->view;
	char **keys = NULL, *paths[TIDY_BATCH];
	struct storage_op ops[TIDY_BATCH + 1];
	size_t nkeys = 0, nops = 0, deleted = 0, left = 0;
	int r;

	r = view_list(v, prefix, &keys, &nkeys);
	if (r < 0)
		return r;
	for (size_t i = 0; i <= nkeys; i++) {
		char path[16 + PKI_SERIAL_STRLEN];
		json_t *row = NULL;
		int64_t exp;

		if (nops == TIDY_BATCH || (i == nkeys && nops > 0)) {
			size_t done = nops;
			/* revoked rows leave: the stored CRL no longer matches them
			 * until pki_crl_reload rebuilds it */
			bool revoked = strcmp(prefix, "revoked/") == 0;
			if (revoked)
				ops[nops] = (struct storage_op){STORAGE_PUT, "crl/dirty",
				                                (const uint8_t *)"1", 1};
			r = view_txn(v, ops, nops + (revoked ? 1 : 0));
			for (size_t k = 0; k < nops; k++)
				free(paths[k]);
			nops = 0;
			if (r < 0)
				goto out;
			deleted += done;
			pthread_mutex_lock(&j->crl->mu);
			status_set_int(j->crl, counter, (int64_t)deleted);
			pthread_mutex_unlock(&j->crl->mu);
		}
		if (i % TIDY_BATCH == 0 && stopping(j->crl)) {
			r = CF_ESEALED; /* the mount is going away */
			goto out;
		}
		if (i == nkeys)
			break;
		if (keys[i][strlen(keys[i]) - 1] == '/' ||
		    snprintf(path, sizeof(path), "%s%s", prefix, keys[i]) >= (int)sizeof(path))
			continue;
		if (view_get_object(v, path, &row) < 0)
			continue;
		exp = row_expiration(row);
		json_decref(row);
		if (exp == 0 || exp >= cutoff) {
			left++;
			continue;
		}
		paths[nops] = strdup(path);
		if (!paths[nops]) {
			r = CF_ENOMEM;
			goto out;
		}
		ops[nops] = (struct storage_op){STORAGE_DELETE, paths[nops], NULL, 0};
		nops++;
	}
	pthread_mutex_lock(&j->crl->mu);
	status_set_int(j->crl, left_key, (int64_t)left);
	pthread_mutex_unlock(&j->crl->mu);
out:
	for (size_t k = 0; k < nops; k++)
		free(paths[k]);
	storage_keys_free(keys, nkeys);
	*ret_deleted = deleted;
	return r;
}

static void *
tidy_main(void *arg)
{
	struct tidy_job *j = arg;
	struct pki_crl *crl = j->crl;
	int64_t cutoff = util_now() - j->a.safety_buffer;
	size_t certs = 0, revoked = 0;
	char when[40];
	int r = 0;

	if (j->a.tidy_cert_store)
		r = tidy_prefix(j, "certs/", cutoff, "cert_store_deleted_count",
		                "current_cert_store_count", &certs);
	if (r == 0 && j->a.tidy_revoked_certs) {
		r = tidy_prefix(j, "revoked/", cutoff, "revoked_cert_deleted_count",
		                "current_revoked_cert_count", &revoked);
		if (revoked > 0 && r == 0)
			r = pki_crl_reload(j->m);
	}
	now_rfc3339(when);
	pthread_mutex_lock(&crl->mu);
	(void)json_object_set_new(crl->tidy_status, "state",
	                          json_string(r == 0 ? "Finished" : "Error"));
	(void)json_object_set_new(crl->tidy_status, "error",
	                          r == 0 ? json_null() : json_string(cf_strerror(r)));
	(void)json_object_set_new(crl->tidy_status, "time_finished", json_string(when));
	(void)json_object_set_new(crl->tidy_status, "message",
	                          json_string(r == 0 ? "Tidying finished" : "Tidying failed"));
	crl->tidy_running = false;
	pthread_mutex_unlock(&crl->mu);
	if (r < 0)
		log_error("pki: tidy of %s stopped: %s", j->m->path, cf_strerror(r));
	else
		log_info("pki: tidy of %s deleted %zu certificates and %zu revocation entries",
		         j->m->path, certs, revoked);
	free(j);
	return NULL;
}

static json_t *
status_new(const struct tidy_args *a)
{
	char when[40];

	now_rfc3339(when);
	return json_pack("{s:I, s:b, s:b, s:b, s:s, s:n, s:s, s:n, s:s, s:I, s:I, s:n, s:n}",
	                 "safety_buffer", (json_int_t)a->safety_buffer, "tidy_cert_store",
	                 a->tidy_cert_store, "tidy_revoked_certs", a->tidy_revoked_certs,
	                 "tidy_revoked_cert_issuer_associations",
	                 a->tidy_revoked_cert_issuer_associations, "state", "Running", "error",
	                 "time_started", when, "time_finished", "message", "Tidying started",
	                 "cert_store_deleted_count", (json_int_t)0, "revoked_cert_deleted_count",
	                 (json_int_t)0, "current_cert_store_count", "current_revoked_cert_count");
}

int
pki_tidy_start(struct request *rq, struct response *rs)
{
	struct pki_crl *crl = pki_crl_of(rq->mount->state);
	struct tidy_job *j = NULL;
	json_t *status = NULL;
	int r;

	if (!crl)
		return CF_ENOMEM;
	j = calloc(1, sizeof(*j));
	if (!j)
		return CF_ENOMEM;
	r = field_parse(pki_tidy_fields, rq->data, &j->a, rs);
	if (r < 0)
		goto out;
	j->m = rq->mount;
	j->crl = crl;
	status = status_new(&j->a);
	if (!status) {
		r = CF_ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&crl->mu);
	if (crl->tidy_running) {
		pthread_mutex_unlock(&crl->mu);
		(void)response_warnf(rs, "Tidy operation already in progress.");
		rs->status = 202;
		goto out;
	}
	if (crl->tidy_joinable) { /* the last run is over: its thread is ending */
		pthread_join(crl->tidy_thread, NULL);
		crl->tidy_joinable = false;
	}
	json_decref(crl->tidy_status);
	crl->tidy_status = status;
	status = NULL;
	crl->tidy_running = true;
	crl->tidy_stop = false;
	if (pthread_create(&crl->tidy_thread, NULL, tidy_main, j) != 0) {
		crl->tidy_running = false;
		(void)json_object_set_new(crl->tidy_status, "state", json_string("Error"));
		pthread_mutex_unlock(&crl->mu);
		r = CF_ENOMEM;
		goto out;
	}
	crl->tidy_joinable = true;
	j = NULL;
	pthread_mutex_unlock(&crl->mu);
	(void)response_warnf(rs, "Tidy operation successfully started. Any information from the "
	                         "operation will be printed to the server's log.");
	rs->status = 202;
out:
	json_decref(status);
	free(j);
	return r;
}

int
pki_tidy_status(struct request *rq, struct response *rs)
{
	struct pki_crl *crl = pki_crl_of(rq->mount->state);
	json_t *data;

	if (!crl)
		return CF_ENOMEM;
	pthread_mutex_lock(&crl->mu);
	if (crl->tidy_status)
		data = json_deep_copy(crl->tidy_status);
	else
		data = json_pack("{s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "state", "Inactive",
		                 "safety_buffer", "tidy_cert_store", "tidy_revoked_certs", "error",
		                 "time_started", "time_finished");
	pthread_mutex_unlock(&crl->mu);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}
