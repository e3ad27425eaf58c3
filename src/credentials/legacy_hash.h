/* Password hashes imported from other systems (docs/password-formats.md).
 *
 * legacy_hash.c owns parsing: it recognises a stored hash string, checks an
 * imported one and writes what Gatehouse stores. legacy_verify.c checks a
 * password against a stored imported hash (worker threads only: each check
 * costs what the original algorithm costs). password.c calls both.
 *
 * What is stored (users.password_hash, at most LEGACY_HASH_MAX bytes):
 *   "$argon2id$..." / "$argon2i$..."     PHC strings, as given
 *   "$2a$" / "$2b$" / "$2y$" + cost      bcrypt, as given
 *   "{bcrypt_sha256_hex}$2b$..."         bcrypt over hex(SHA-256(password))
 *   "{bcrypt_sha256_base64}$2b$..."      bcrypt over base64(SHA-256(password))
 *   "$scrypt$ln=..,r=..,p=..$salt$hash"  scrypt, PHC form (passlib), as given
 *   "{firebase_scrypt}r=8,m=14$<salt separator>$<salt>$<hash>$<sealed signer key>"
 *       Firebase's modified scrypt; base64 fields; the signer key sealed by the
 *       vault to (users, password_hash, user id)
 *   "pbkdf2_sha256$iterations$salt$hash" Django's PBKDF2-SHA256, as given
 *   "!"                                  no password (never matches)
 * The "{name}" prefixes are ours: the strings after them alone are ambiguous. */
#ifndef GH_CREDENTIALS_LEGACY_HASH_H
#define GH_CREDENTIALS_LEGACY_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

#define LEGACY_HASH_MAX 1024 /* a stored hash (STORE_HASH_MAX grows to this) */

enum legacy_kind {
    LEGACY_UNKNOWN = 0, /* nothing we verify: denied after dummy work */
    LEGACY_NONE,        /* "!": the account has no password */
    LEGACY_ARGON2ID,
    LEGACY_ARGON2I,
    LEGACY_BCRYPT,
    LEGACY_BCRYPT_SHA256_HEX,
    LEGACY_BCRYPT_SHA256_BASE64,
    LEGACY_SCRYPT,
    LEGACY_FIREBASE_SCRYPT,
    LEGACY_PBKDF2_SHA256,
};

/** The kind of a stored hash, judged by its prefix only (a well-formed
 *  prefix does not make a well-formed hash: verification checks the rest).
 *  NULL is LEGACY_UNKNOWN. */
enum legacy_kind legacy_hash_kind(const char *stored);

/** The format's name as import lines and audit rows spell it ("bcrypt",
 *  "bcrypt_sha256_hex", "argon2id", "scrypt", "firebase_scrypt",
 *  "pbkdf2_sha256", ...; "unknown", "none"). Static, never NULL. */
const char *legacy_kind_name(enum legacy_kind k);

/** Its cost family: the format and the parameters that decide what a check
 *  costs ("bcrypt:12", "argon2id:m=19456,t=2,p=1", "scrypt:ln=14,r=8,p=1",
 *  "pbkdf2_sha256:600000", ...), for timing the slowest one present
 *  (password_pad_refresh). GH_ERR_INVALID when stored is not well formed. */
enum gh_err legacy_hash_family(const char *stored, char *out, size_t cap) GH_WUR;

/** Checks an imported hash and turns it into the string Gatehouse stores.
 *  hash: exactly as the source stored it; format: NULL (infer from the string),
 *  or a JSON string ("bcrypt_sha256_hex", "bcrypt_sha256_base64", ...) or object
 *  ({"name": "firebase_scrypt", ...parameters}) from the import line; user_id: the row it
 *  is stored for (a key inside is sealed to it). GH_ERR_INVALID with a reason for the
 *  report when unknown or malformed: never stored.
 *  firebase_scrypt's object: {"name": "firebase_scrypt", "signer_key" (or
 *  "base64_signer_key"), "salt_separator" (or "base64_salt_separator"),
 *  "rounds", "mem_cost", "salt" (the user's own, base64)}; it needs the
 *  vault (GH_ERR_INTERNAL when sealing fails). out is wiped on failure. */
enum gh_err legacy_hash_import(const char *hash, const json_t *format, const char *user_id,
                               char out[LEGACY_HASH_MAX + 1], char *reason,
                               size_t reasonlen) GH_WUR;

/** Checks pw against a stored hash of any kind above (CPU-heavy: worker
 *  threads only; password.c calls it and holds the hashing slots). GH_OK on
 *  a match; GH_ERR_DENIED on a mismatch, for "!", for an unknown or
 *  malformed string, and for a Firebase signer key that does not open for
 *  user_id (NULL: never opens); GH_ERR_INTERNAL when the check itself failed
 *  (out of memory, libcrypto): never report that as a wrong password. */
enum gh_err legacy_verify(const char *stored, const char *user_id, const char *pw,
                          size_t len) GH_WUR;

#endif
