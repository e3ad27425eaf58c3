/* ID token verification (OpenID Connect Core 3.1.3.7) through cjose against
 * a provider's JWKS. Pure: no network, no clock of its own (now is given),
 * so unit tests and fuzz targets drive it directly; authorize.c feeds it
 * the cached keys and refreshes them once on an unknown kid.
 *
 * Checks, each refusing with GH_ERR_DENIED and a short reason (never the
 * token): size (FED_ID_TOKEN_MAX); compact JWS; no "crit"; alg in the
 * allow-list (RS256, ES256 and the asymmetric ones discovery lists: never
 * none, never HMAC); the key found by kid, its kty/crv, "alg" and "use"
 * agreeing with the header; the signature; iss exactly the issuer; aud one
 * of the accepted audiences (with several audiences azp must equal it); exp
 * after now - skew, iat not after now + skew, nbf (if any) not after now +
 * skew; nonce equal in constant time (or, for the native flow, equal to the
 * lower-case hex SHA-256 of the nonce); sub 1..255 bytes of UTF-8. */
#ifndef GH_FEDERATION_ID_TOKEN_H
#define GH_FEDERATION_ID_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "federation/discovery.h"
#include "federation/oidc.h"

#define FED_ID_TOKEN_MAX 16384
#define FED_MAX_AUDS 16 /* audiences in one token */

struct fed_verify {
    const char *issuer;
    const char *issuer_alt;  /* also accepted (Google's bare "accounts.google.com"); NULL none */
    const char *const *auds; /* accepted audiences (the client id, or the native ids) */
    size_t n_auds;
    const char *nonce;    /* what the token's nonce must be */
    bool nonce_hashed_ok; /* native: or the lower-case hex SHA-256 of it */
    unsigned algs;        /* FED_ALG_* allowed */
    int64_t now, skew;
};

/** Verifies token with keys and fills out (zeroed first; filled on GH_OK
 *  only). GH_ERR_DENIED with why; *unknown_kid is set when no key of keys
 *  has the token's kid (the caller may refresh the keys once and retry).
 *  GH_ERR_NOMEM/INTERNAL when a library fails. */
enum gh_err fed_id_token_verify(const char *token, size_t len, const struct fed_jwks *keys,
                                const struct fed_verify *v, struct fed_claims *out,
                                bool *unknown_kid, char *why, size_t whylen) GH_WUR;

/** The claim checks alone, on a payload whose signature was verified (the
 *  second half of fed_id_token_verify; exposed for tests and fuzzing). */
enum gh_err fed_id_token_claims(const char *payload, size_t len, const struct fed_verify *v,
                                struct fed_claims *out, char *why, size_t whylen) GH_WUR;

#endif
