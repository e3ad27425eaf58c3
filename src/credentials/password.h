/* Password hashing and policy. Hashes are libsodium Argon2id strings
 * ("$argon2id$v=19$m=..,t=..,p=1$salt$hash") at the configured parameters.
 * Every function here is CPU-heavy (tens of milliseconds): call it only
 * from a worker thread. Passwords are bytes: never trimmed or case-folded. */
#ifndef GH_CREDENTIALS_PASSWORD_H
#define GH_CREDENTIALS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define PASSWORD_MIN_BYTES 12
#define PASSWORD_MAX_BYTES 1024
#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

/** Prepares the dummy hash used for unknown accounts. Call once at start,
 *  after config_load. */
enum gh_err password_init(void) GH_WUR;

/** Hashes pw at the configured parameters into out (NUL-terminated). */
enum gh_err password_hash(char out[PASSWORD_HASH_MAX], const char *pw, size_t len) GH_WUR;

/** GH_OK if pw matches hash, GH_ERR_DENIED if not (or if hash is malformed,
 *  after the same work as a real check), GH_ERR_INTERNAL if the check
 *  itself failed (out of memory): never report that as a wrong password. */
enum gh_err password_verify(const char *hash, const char *pw, size_t len) GH_WUR;

/** Spends the same time as a real verification against a dummy hash, so an
 *  unknown account cannot be told apart by timing. Always "denied". */
void password_verify_dummy(const char *pw, size_t len);

/** True if hash was made with other parameters than the configured ones. */
bool password_needs_rehash(const char *hash);

/** Policy: 12..1024 bytes and not guessable (zxcvbn estimate at or above
 *  GATEHOUSE_PASSWORD_MIN_SCORE, counting the brand, the issuer host and
 *  the email's local part as known words). On GH_ERR_INVALID, reason holds a
 *  sentence for the user. email may be NULL. */
enum gh_err password_check_policy(const char *pw, size_t len, const char *email, char *reason,
                                  size_t reasonlen) GH_WUR;

#endif
