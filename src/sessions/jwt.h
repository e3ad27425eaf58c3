/* Access tokens: ES256 JWTs signed and verified through cjose. This module
 * owns the signing key (loaded once at start, never copied out); callers only
 * get sign() and verify(). Verification accepts exactly alg ES256 with our
 * kid, and checks iss, aud, exp, nbf, iat and the claim types. Thread-safe
 * after jwt_init(). */
#ifndef GH_SESSIONS_JWT_H
#define GH_SESSIONS_JWT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include <jansson.h>

#include "store/store.h"

#define JWT_MAX_LEN 2048
#define JWT_JTI_LEN 22  /* ours: 128 random bits, base64url */
#define JWT_JTI_MAX 128 /* accepted on input */

struct jwt_claims {
    char sub[STORE_ID_LEN + 1];
    char sid[STORE_ID_LEN + 1];
    char jti[JWT_JTI_MAX + 1];
    int64_t iat;
    int64_t exp;
    /* Private claim "rev": the user's tokens_invalidated_at when the token
     * was issued (a revocation generation, not a time to compare with the
     * clock). -1: absent (tokens issued before issue 9 carry none).
     * Decision 0004. */
    int64_t rev;
    /* A session that may only enrol a second factor: aud is
     * JWT_RESTRICTED_AUD_PREFIX + the audience, so applications that check
     * aud (as they must) refuse it. */
    bool restricted;
};

#define JWT_RESTRICTED_AUD_PREFIX "mfa-enrolment:"

/** Dev mode: creates <data_dir>/signing-key.pem (P-256, PKCS#8, mode 0600)
 *  if it is missing, and returns its PEM in *pem (heap; free with
 *  gh_free_secret_str). */
enum gh_err jwt_dev_key(const char *data_dir, char **pem) GH_WUR;

#define JWT_KID_MAX 43 /* RFC 7638 thumbprint, base64url */

/** Installs a single signing key from PEM (EC P-256) without the store;
 *  for tools and tests. */
enum gh_err jwt_init(const char *pem) GH_WUR;

/** GH_OK if pem is a usable EC P-256 private key (checked before anything
 *  touches the database). */
enum gh_err jwt_check_pem(const char *pem) GH_WUR;

/** (Re)loads every signing key from the store, opening each with the vault.
 *  GH_ERR_NOT_FOUND if there is none; the previous keys stay on error.
 *  *changed (may be NULL) tells whether the set of keys changed. */
enum gh_err jwt_keys_load(const struct store_ops *ops, struct store_conn *c, bool *changed) GH_WUR;

/** Stores a signing key sealed by the vault: pem, or a new P-256 key when
 *  pem is NULL; it signs from activates_at on. kid_out gets its kid.
 *  GH_ERR_CONFLICT (kid_out set) if that key is already stored. */
enum gh_err jwt_key_create(const struct store_ops *ops, struct store_conn *c, const char *pem,
                           int64_t activates_at, char kid_out[JWT_KID_MAX + 1]) GH_WUR;

/** kids of loaded keys that are neither published nor signing any more
 *  (safe to delete). Returns the count. */
size_t jwt_keys_unpublished(char kids[][JWT_KID_MAX + 1], size_t max);

void jwt_shutdown(void);

/** Signs claims with the newest active key (iss and aud from configuration).
 *  *out is a heap string the caller frees (a bearer secret:
 *  gh_free_secret_str). */
enum gh_err jwt_sign(const struct jwt_claims *c, char **out) GH_WUR;

/** True when a verified token was issued after the user's last revocation
 *  of every token (tokens_invalidated_at = tia): its "rev" is tia or newer,
 *  or, for a token without "rev", its iat is not before tia. */
bool jwt_current(const struct jwt_claims *c, int64_t tia);

/** Verifies a compact JWS and its claims at time now against the published
 *  keys. GH_OK fills out; GH_ERR_DENIED for any defect (no detail: callers
 *  answer invalid_token). */
enum gh_err jwt_verify(const char *token, size_t len, int64_t now, struct jwt_claims *out) GH_WUR;

/** The JWKS document: every published key (new reference). */
json_t *jwt_jwks(void);

/** kid of the key that signs now, in a thread-local buffer ("" if none). */
const char *jwt_kid(void);

#endif
