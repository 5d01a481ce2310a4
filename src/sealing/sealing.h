/* sealing.h - the server's sealing keys: the RSA key pairs that Bitnami
 * Sealed Secrets manifests are sealed to, and the sys/sealing/ API that
 * hands out the certificate and unseals, re-seals and audits manifests for
 * authorized clients (docs/sealed-secrets.md, docs/internals/sealing.md).
 *
 * Keys live behind the barrier under sys/sealing/keys/<id>, one record each
 * (state, source, creation time, certificate, PKCS#1 private key). They are
 * loaded when the core unseals (the subsystem's start) and dropped when it
 * seals (stop). One key is active: it seals; retired and compromised keys are
 * kept for unsealing. A background thread makes the first key (after the
 * first unseal that finds none, or on first use in dev mode) and renews the
 * active key when it is older than renew_period (sys/sealing/config). RSA key
 * generation never runs under the core's exclusive lock.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef CF_SEALING_H
#define CF_SEALING_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/request.h"

struct core;
struct core_hooks;
struct core_subsystem;
struct sealing;

/* The sealing keys as a core subsystem: creates it and fills *ret (name
 * "sealing": sealing_start at unseal, sealing_stop at seal, sealing_free at
 * core_free). hooks is left as it is. Until *ret is registered, free it with
 * ret->free(ret->arg). Returns 0 or CF_ENOMEM. */
int sealing_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks);
/* The sys/sealing/ routes, for core_register_sys_routes. */
extern const struct route sealing_sys_routes[];
extern const size_t sealing_sys_nroutes;

int sealing_new(struct core *c, struct sealing **ret);
/* Stops the background thread and frees everything. Accepts NULL. */
void sealing_free(struct sealing *s);
/* After unseal: loads the keys (the private keys into OpenSSL's memory; the
 * PEM text read from storage is wiped) and, unless first keys are made on
 * demand, asks for a first key when there is no active one. Caller holds the
 * core lock for writing. Returns 0 or a storage error (keys that fail to load
 * are logged and skipped). */
int sealing_start(struct sealing *s);
/* Before seal: drops every key from memory; a key being generated is
 * discarded when it is done. Never waits for a key generation. Caller holds
 * the core lock for writing. Works on a subsystem that never started. */
void sealing_stop(struct sealing *s);
/* Whether the first key is made when a request first needs it (on, the
 * default: a core made for tests or tools never spends seconds on RSA key
 * generation it does not use) or as soon as an unseal finds no active key
 * (off: `coffer server` without --dev, so the key is ready after sys/init).
 * Call before the core is unsealed. */
void sealing_set_first_key_on_demand(struct sealing *s, bool on);

#endif
