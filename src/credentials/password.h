/* Password hashing and policy. New hashes are libsodium Argon2id strings
 * ("$argon2id$v=19$m=..,t=..,p=1$salt$hash") at the configured parameters;
 * imported ones (bcrypt, scrypt, PBKDF2, ...: credentials/legacy_hash.h)
 * are verified too and replaced at the next right sign-in.
 * Every function here is CPU-heavy (tens of milliseconds): call it only
 * from a worker thread. Passwords are bytes: never trimmed or case-folded.
 *
 * Timing: a denial (unknown account, "!", a wrong password) takes at least
 * as long as a check of the slowest hash family present in the database
 * (measured by password_pad_refresh at start and hourly): an unknown address
 * works against that family's hash, and a faster hash's denial sleeps the
 * rest (docs/password-formats.md, "Timing"). */
#ifndef GH_CREDENTIALS_PASSWORD_H
#define GH_CREDENTIALS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

#define PASSWORD_MIN_BYTES 12
#define PASSWORD_MAX_BYTES 1024
#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

/** Prepares the dummy hash used for unknown accounts. Call once at start,
 *  after config_load. */
enum gh_err password_init(void) GH_WUR;

/** Hashes pw at the configured parameters into out (NUL-terminated). */
enum gh_err password_hash(char out[PASSWORD_HASH_MAX], const char *pw, size_t len) GH_WUR;

/** GH_OK if pw matches hash (any format password_hash_format names),
 *  GH_ERR_DENIED if not (or if hash is "!", unknown or malformed, after the
 *  same work as a real check), GH_ERR_INTERNAL if the check itself failed
 *  (out of memory): never report that as a wrong password. user_id is the
 *  row the hash belongs to: a Firebase signer key is sealed to it (NULL:
 *  such a hash is denied). */
enum gh_err password_verify_user(const char *user_id, const char *hash, const char *pw,
                                 size_t len) GH_WUR;

/** password_verify_user(NULL, ...): for hashes that carry no sealed key.
 *  Kept for callers that have no user row; prefer password_verify_user. */
enum gh_err password_verify(const char *hash, const char *pw, size_t len) GH_WUR;

/** Spends the same time as a real verification against a dummy hash, so an
 *  unknown account cannot be told apart by timing. Always "denied". */
void password_verify_dummy(const char *pw, size_t len);

/** True if hash is not Argon2id at the configured parameters (an imported
 *  format, older parameters, or malformed): the sign-in stores a new hash.
 *  False for "!" (nothing to rehash). */
bool password_needs_rehash(const char *hash);

/** The format name of a stored hash for the audit ("bcrypt", "argon2id",
 *  "pbkdf2_sha256", ...: legacy_kind_name). Static, never NULL. */
const char *password_hash_format(const char *hash);

/** Finds the hash families (format and cost) present in the users table,
 *  times one check of each, and pads every denial to the slowest (never
 *  below the configured Argon2id). Worker thread (store reads, hashing);
 *  run at start and hourly (sessions_job_prune). Failures keep the previous
 *  padding and are logged. */
void password_pad_refresh(const struct store_ops *ops, struct store_conn *c);

/** The current padding target in microseconds and the family it comes
 *  from (for the log and tests). */
int64_t password_pad_target_us(char *family, size_t cap);

/** Policy: 12..1024 bytes and not guessable (zxcvbn estimate at or above
 *  GATEHOUSE_PASSWORD_MIN_SCORE, counting the brand, the issuer host and
 *  the email's local part as known words). On GH_ERR_INVALID, reason holds a
 *  sentence for the user. email may be NULL. */
enum gh_err password_check_policy(const char *pw, size_t len, const char *email, char *reason,
                                  size_t reasonlen) GH_WUR;

#endif
