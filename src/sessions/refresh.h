/* Refresh tokens: 256 CSPRNG bits as base64url (43 characters). The server
 * keeps only their SHA-256. When one is rotated, the successor pair is kept
 * for the reuse-grace window sealed under a key derived from the spent token
 * itself (AES-256-GCM), so only the holder of that token can read it back and
 * the database never holds a usable token. */
#ifndef GH_SESSIONS_REFRESH_H
#define GH_SESSIONS_REFRESH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define REFRESH_RAW_BYTES 32
#define REFRESH_TOKEN_LEN 43

/** New token into tok (NUL-terminated) and its hash. */
enum gh_err refresh_new(char tok[REFRESH_TOKEN_LEN + 1], uint8_t hash[32]) GH_WUR;

/** Hash of a presented token. GH_ERR_DENIED if it is not shaped like ours. */
enum gh_err refresh_hash(const char *tok, size_t len, uint8_t hash[32]) GH_WUR;

/** Seals msg under a key derived from tok. box needs msglen + 28 bytes. */
enum gh_err refresh_seal(const char *tok, const uint8_t *msg, size_t msglen, uint8_t *box,
                         size_t boxcap, size_t *boxlen) GH_WUR;

/** Opens a box sealed by refresh_seal with the same tok. out gets a
 *  NUL-terminated heap string (wipe and free it). GH_ERR_DENIED if the box
 *  does not open. */
enum gh_err refresh_open(const char *tok, const uint8_t *box, size_t boxlen, char **out) GH_WUR;

#endif
