/* storage_int.h - helpers shared by the storage backends (not for other modules).
 *
 * Locking: none; each helper works on caller-owned data. */
#ifndef CF_STORAGE_INT_H
#define CF_STORAGE_INT_H

#include <stddef.h>

/* A growable array of malloc'd strings, the result of a list call. */
struct storage_keyvec {
	char **v;
	size_t n;
	size_t cap;
};

/* Appends a copy of s[0..len). Returns 0 or CF_ENOMEM. */
int storage_keyvec_push(struct storage_keyvec *kv, const char *s, size_t len);
/* Frees every string and the array, and zeroes kv. */
void storage_keyvec_reset(struct storage_keyvec *kv);

/* Adds the list entry that key (which starts with the plen-byte prefix) contributes:
 * the rest of the key for a leaf, or the next folder with its '/' for a deeper key.
 * Returns 0 and sets *ret_folder_len to the folder length including '/' (0 for a
 * leaf) measured from key + plen, or CF_ENOMEM. */
int storage_list_add(struct storage_keyvec *kv, const char *key, size_t plen,
                     size_t *ret_folder_len);

#endif
