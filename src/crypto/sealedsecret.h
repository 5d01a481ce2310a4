/* sealedsecret.h - Kubernetes Secret <-> Bitnami SealedSecret manifests
 * (apiVersion bitnami.com/v1alpha1), as kubeseal writes them and as the
 * controller unseals them (docs/sealed-secrets.md "Manifests"). Manifests are
 * jansson objects; YAML is converted at the edges by the caller.
 *
 * Sealing: every item of the Secret's `data` (base64: its decoded bytes are
 * sealed) and `stringData` (its UTF-8 bytes; wins over a `data` item of the
 * same key) is sealed on its own with kseal_encrypt() under the scope's label.
 * The SealedSecret's top-level metadata holds name, namespace,
 * creationTimestamp null and, for a non-strict scope, the scope annotation;
 * spec.template holds the Secret's metadata (server-side fields,
 * ownerReferences and the last-applied-configuration annotations removed),
 * type and immutable.
 *
 * Unsealing: the label comes from the SealedSecret's own top-level metadata
 * (name, namespace, scope annotations; cluster-wide wins over
 * namespace-wide), never from spec.template. Every item must open, or nothing
 * is returned.
 *
 * Errors: every function that can fail on input writes one line naming the
 * field into err ("spec.encryptedData.password: no key could decrypt it (scope
 * strict, label default/db)"), never a secret's value. */
#ifndef CF_CRYPTO_SEALEDSECRET_H
#define CF_CRYPTO_SEALEDSECRET_H

#include "crypto/kseal.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SS_API_VERSION       "bitnami.com/v1alpha1"
#define SS_ANN_NAMESPACE     "sealedsecrets.bitnami.com/namespace-wide"
#define SS_ANN_CLUSTER       "sealedsecrets.bitnami.com/cluster-wide"
#define SS_ANN_SKIP_OWNER    "sealedsecrets.bitnami.com/skip-set-owner-references"
#define SS_DEFAULT_NAMESPACE "default"

struct ss_seal_opts {
	bool scope_given;       /* --scope given: when it is not strict, the Secret's scope
	                         * annotations are rewritten to it; strict (as no
	                         * --scope) leaves the Secret's own annotations to
	                         * decide, as kubeseal does */
	enum kseal_scope scope; /* used when scope_given */
	const char *name;       /* overrides the Secret's name (NULL: keep) */
	const char *ns;         /* namespace: must match the Secret's when it has one;
	                         * NULL: the Secret's own, else "default" (not for
	                         * cluster-wide, which may have none) */
	bool allow_empty;       /* accept a Secret with no items */
};

/* Seals a Secret (kind Secret, apiVersion v1) to cert into a new SealedSecret.
 * Returns 0, CF_EINVAL with the field in err (not a Secret, no name, namespace
 * mismatch, invalid base64 in data, no items, a value over KSEAL_MAX_VALUE),
 * CF_ENOMEM, CF_EINTERNAL. */
int ss_seal(const struct kseal_key *cert, const json_t *secret, const struct ss_seal_opts *o,
            json_t **ret, char *err, size_t errlen);

/* Checks that doc is a SealedSecret (kind, apiVersion, metadata.name,
 * spec.encryptedData an object of base64 strings) and returns its scope and
 * label (new string; NULL allowed). Returns 0 or CF_EINVAL with the field in
 * err, or CF_ENOMEM. */
int ss_scope(const json_t *sealed, enum kseal_scope *ret_scope, char **ret_label, char *err,
             size_t errlen);

/* Unseals a SealedSecret with any of keys[0..n-1] into the Secret the
 * controller would create: spec.template.metadata, then name and namespace
 * forced to the SealedSecret's; type and immutable from the template; data =
 * the items in base64; one ownerReference to the SealedSecret (apiVersion,
 * kind, name, uid when the SealedSecret has one, controller true) unless the
 * template says skip-set-owner-references. spec.template.data (Go templates)
 * is refused, never dropped. Returns 0, CF_EINVAL (not a SealedSecret,
 * invalid base64, template data), CF_ECRYPTO (an item no key opens), CF_ENOMEM. */
int ss_unseal(struct kseal_key *const *keys, size_t n, const json_t *sealed, json_t **ret,
              char *err, size_t errlen);

/* A copy of sealed with every item opened by keys and sealed again to `to`
 * under the same label; metadata.creationTimestamp set to null and
 * metadata.generation removed. Same errors as ss_unseal(). */
int ss_reseal(struct kseal_key *const *keys, size_t n, const struct kseal_key *to,
              const json_t *sealed, json_t **ret, char *err, size_t errlen);

/* Which key opens each item: a new object mapping every item of
 * spec.encryptedData to the index of the first key of keys[0..n-1] that opens
 * it, or to null when none does. Returns 0, CF_EINVAL (not a SealedSecret),
 * CF_ENOMEM. */
int ss_key_usage(struct kseal_key *const *keys, size_t n, const json_t *sealed, json_t **ret,
                 char *err, size_t errlen);

/* kubeseal --merge-into: copies fresh's spec.encryptedData items,
 * spec.template.metadata labels and annotations and spec.template.data into
 * existing (items of the same key are replaced). Returns 0, CF_EINVAL (either
 * is not a SealedSecret) or CF_ENOMEM. */
int ss_merge(json_t *existing, const json_t *fresh, char *err, size_t errlen);

#endif
