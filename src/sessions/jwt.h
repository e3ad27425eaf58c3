/* Access tokens: ES256 JWTs signed and verified through cjose. This module
 * owns the signing key (loaded once at start, never copied out); callers only
 * get sign() and verify(). Verification accepts exactly alg ES256 with our
 * kid, and checks iss, aud, exp, nbf, iat and the claim types. Thread-safe
 * after jwt_init(). */
#ifndef GH_SESSIONS_JWT_H
#define GH_SESSIONS_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
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
};

/** Dev mode: creates <data_dir>/signing-key.pem (P-256, PKCS#8, mode 0600)
 *  if it is missing, and returns its PEM in *pem (heap; free with
 *  gh_free_secret_str). */
enum gh_err jwt_dev_key(const char *data_dir, char **pem) GH_WUR;

/** Loads the ES256 signing key from PEM (EC P-256 private key), computes
 *  its kid (RFC 7638 thumbprint) and the JWKS document. */
enum gh_err jwt_init(const char *pem) GH_WUR;
void jwt_shutdown(void);

/** Signs claims (iss and aud from configuration). *out is a heap string the
 *  caller frees (it is a bearer secret: gh_free_secret_str). */
enum gh_err jwt_sign(const struct jwt_claims *c, char **out) GH_WUR;

/** Verifies a compact JWS and its claims at time now. GH_OK fills out;
 *  GH_ERR_DENIED for any defect (no detail: callers answer invalid_token). */
enum gh_err jwt_verify(const char *token, size_t len, int64_t now, struct jwt_claims *out) GH_WUR;

/** The JWKS JSON document (static string, valid until jwt_shutdown). */
const char *jwt_jwks_json(void);
/** The kid of the signing key. */
const char *jwt_kid(void);

#endif
