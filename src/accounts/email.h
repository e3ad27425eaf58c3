/* Email addresses: validation and normalisation. */
#ifndef GH_ACCOUNTS_EMAIL_H
#define GH_ACCOUNTS_EMAIL_H

#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

/** Trims surrounding whitespace, checks the address (ASCII, one @, local
 *  part <= 64, DNS-shaped domain with a dot, <= 254 in all), writes it with
 *  the domain lower-cased to email and the fully lower-cased form to key
 *  (the uniqueness and lookup key). GH_ERR_INVALID if it is not an address. */
enum gh_err email_normalize(const char *in, size_t len, char email[STORE_EMAIL_MAX + 1],
                            char key[STORE_EMAIL_MAX + 1]) GH_WUR;

#endif
