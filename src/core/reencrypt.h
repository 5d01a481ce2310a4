/* reencrypt.h - re-encrypting all stored data under the newest barrier key term
 * (sys/rotate/reencrypt) and retiring old terms (sys/rotate/retire). */
#ifndef CF_REENCRYPT_H
#define CF_REENCRYPT_H

#include "backend/request.h"

struct core;
struct reencrypt;

int reencrypt_new(struct core *c, struct reencrypt **ret);
void reencrypt_free(struct reencrypt *re);
/* After unseal: restarts a job that was running when the server stopped. */
int reencrypt_resume(struct reencrypt *re);
/* Before seal: stops the job thread (its stored state stays "running"). */
void reencrypt_stop(struct reencrypt *re);

/* GET: progress. */
int reencrypt_sys_status(struct request *rq, struct response *rs);
/* POST (sudo): start, body {batch_size, interval}. */
int reencrypt_sys(struct request *rq, struct response *rs);
/* POST (sudo): drop the terms older than the active one once no entry uses them. */
int reencrypt_sys_retire(struct request *rq, struct response *rs);

#endif
