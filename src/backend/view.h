/* view.h - a backend's window on the barrier: every key is prefixed
 * ("logical/<mount uuid>/", "sys/token/", ...). Backends see only their view.
 * Thread-safe (the barrier is). Returned buffers are malloc'd, caller frees. */
#ifndef CF_VIEW_H
#define CF_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

struct barrier;
struct view;

/* The view keeps a pointer to b (not owned) and copies prefix. */
struct view *view_new(struct barrier *b, const char *prefix);
void view_free(struct view *v);
const char *view_prefix(const struct view *v);

int view_get(struct view *v, const char *key, uint8_t **ret_val, size_t *ret_len);
int view_put(struct view *v, const char *key, const uint8_t *val, size_t len);
int view_delete(struct view *v, const char *key);
int view_list(struct view *v, const char *prefix, char ***ret_keys, size_t *ret_n);

struct response;
enum {
	VIEW_LIST_NO_FOLDERS = 1u << 0, /* leave out the keys that end in '/' */
};
/* Answers a LIST of the keys under prefix: rs->data = {"keys": [...]} in
 * view_list's order (sorted). No key is CF_ENOTFOUND, as Vault answers a LIST
 * with nothing to show with 404 (response_keys). Returns 0, CF_ENOTFOUND, or
 * view_list's error. */
int view_list_response(struct view *v, const char *prefix, unsigned flags, struct response *rs);
/* ops[i].key are relative to the view. */
int view_txn(struct view *v, const struct storage_op *ops, size_t n);
/* Calls fn(v, key, arg) for every key under prefix (relative to the view),
 * descending into folders, depth first in view_list's order; key is relative
 * to the view ("id/auth/x"). A folder with nothing to list is empty. Stops at
 * the first error fn returns. Returns 0, fn's error, CF_ENOMEM, or a storage
 * error. */
typedef int (*view_walk_fn)(struct view *v, const char *key, void *arg);
int view_walk(struct view *v, const char *prefix, view_walk_fn fn, void *arg);
/* Deletes everything under prefix (relative; "" = the whole view): view_walk
 * with view_delete. */
int view_delete_prefix(struct view *v, const char *prefix);

/* JSON convenience: the stored value is compact JSON text. get returns a new ref. */
int view_get_json(struct view *v, const char *key, json_t **ret);
int view_put_json(struct view *v, const char *key, json_t *val);
/* view_get_json for a record that must be an object: 0 with *ret (a new ref),
 * CF_ENOTFOUND, CF_EIO when the stored value is not a JSON object, or a storage
 * error. */
int view_get_object(struct view *v, const char *key, json_t **ret);
/* Whether view_get_object would find key: 0 with *ret_exists, or its error
 * (CF_EIO for a record that is not an object, a storage error). */
int view_object_exists(struct view *v, const char *key, bool *ret_exists);

#endif
