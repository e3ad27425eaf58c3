/* Re-encryption of every sealed column under the newest data key. */
#ifndef GH_VAULT_ROTATE_H
#define GH_VAULT_ROTATE_H

#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

struct vault_rotation {
    char new_kid[16];
    size_t resealed; /* values re-encrypted */
    size_t retired;  /* old data keys deleted */
    int resumed;     /* 1 if it finished an interrupted rotation instead of adding a key */
};

/** Rotates the data key: adds a new one (or, if values sealed under an older
 *  key remain from an interrupted run, resumes without adding one),
 *  re-seals every sealed value in batches (each batch one transaction), then
 *  deletes data keys no value uses. Safe to run while servers run and to
 *  re-run after a crash. */
enum gh_err vault_rotate(const struct store_ops *ops, struct store_conn *c,
                         struct vault_rotation *out) GH_WUR;

#endif
