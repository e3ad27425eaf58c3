/* The provider's metadata: its discovery document
 * (<issuer>/.well-known/openid-configuration) and its JWKS, fetched on a
 * worker thread (fetch.h) and cached in memory per provider under a mutex
 * with a TTL. Owns struct fed_cache (one per provider, made by
 * fed_config_load, freed by fed_config_free) and the parsers of both
 * documents (pure functions, fuzzed: tests/fuzz/fuzz_oidc_discovery.c and
 * fuzz_oidc_jwks.c).
 *
 * A provider that cannot be reached is not asked again for
 * FED_DOWN_BACKOFF_S (callers get GH_ERR_BUSY at once, so a dead provider
 * cannot pin the workers), one fetch at a time per document (other callers
 * wait for it), and a cached copy keeps serving for FED_STALE_MAX_S past
 * its TTL while the provider is down. An unknown kid refreshes the JWKS at
 * most once per FED_JWKS_MIN_REFRESH_S per provider, whoever asks. */
#ifndef GH_FEDERATION_DISCOVERY_H
#define GH_FEDERATION_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "federation/providers.h"

#define FED_META_TTL_S 3600
#define FED_JWKS_TTL_S 3600
#define FED_JWKS_MIN_REFRESH_S 60
#define FED_DOWN_BACKOFF_S 15
#define FED_STALE_MAX_S 86400
#define FED_URL_MAX 1024
#define FED_JWKS_MAX_KEYS 16
#define FED_KID_MAX 128
#define FED_DOC_MAX (64 * 1024) /* discovery document and JWKS, bytes */

/* ID token signature algorithms (asymmetric only: never none, never HMAC). */
enum {
    FED_ALG_RS256 = 1 << 0,
    FED_ALG_RS384 = 1 << 1,
    FED_ALG_RS512 = 1 << 2,
    FED_ALG_PS256 = 1 << 3,
    FED_ALG_PS384 = 1 << 4,
    FED_ALG_PS512 = 1 << 5,
    FED_ALG_ES256 = 1 << 6,
    FED_ALG_ES384 = 1 << 7,
    FED_ALG_ES512 = 1 << 8,
};
#define FED_ALG_DEFAULT (FED_ALG_RS256 | FED_ALG_ES256)

/** The FED_ALG_* bit of a JWS alg name; 0 for anything else (none, HS*). */
unsigned fed_alg_bit(const char *alg);

struct fed_metadata {
    char authorization_endpoint[FED_URL_MAX];
    char token_endpoint[FED_URL_MAX];
    char jwks_uri[FED_URL_MAX];
    bool auth_post; /* client_secret_post: the document lists it and not _basic */
    unsigned algs;  /* FED_ALG_* the ID token may be signed with */
};

/** One public key of a JWKS, as published (json: the key's own object). */
struct fed_jwk {
    char kid[FED_KID_MAX + 1]; /* "" when the key has none */
    char kty[4];               /* "RSA" or "EC" (other types are skipped) */
    char crv[8];               /* EC: "P-256", "P-384", "P-521" */
    char alg[8];               /* "" when absent */
    char *json;                /* heap */
};

/** A parsed JWKS: immutable once made, shared by reference (the cache and
 *  each verifier hold one; fed_jwks_release drops it). */
struct fed_jwks {
    size_t n;
    struct fed_jwk k[FED_JWKS_MAX_KEYS];
    int refs; /* under the owning cache's mutex (1 for a parsed set) */
};

/** Parses a discovery document for issuer: issuer must match exactly, the
 *  three endpoints be allowed URLs (fed_url_allowed with allow_http).
 *  GH_ERR_INVALID with why on anything else. */
enum gh_err fed_discovery_parse(const char *doc, size_t len, const char *issuer, bool allow_http,
                                struct fed_metadata *out, char *why, size_t whylen) GH_WUR;

/** Parses a JWKS: keys of kty RSA or EC meant for signatures (use "sig" or
 *  absent; key_ops absent or with "verify"), at most FED_JWKS_MAX_KEYS;
 *  others are skipped. *out heap (refs 1; fed_jwks_release). GH_ERR_INVALID
 *  when it is not a JWKS. */
enum gh_err fed_jwks_parse(const char *doc, size_t len, struct fed_jwks **out, char *why,
                           size_t whylen) GH_WUR;

/** Drops a reference made by fed_jwks_parse (no cache involved). */
void fed_jwks_free(struct fed_jwks *s);

/** A new, empty cache (*out heap; fed_cache_free). */
enum gh_err fed_cache_new(struct fed_cache **out) GH_WUR;
/** Frees a cache and what it holds. NULL is allowed. */
void fed_cache_free(struct fed_cache *c);

/** p's metadata (from the cache, or fetched). GH_ERR_BUSY with why when it
 *  cannot be had. Network I/O: worker threads only. */
enum gh_err fed_metadata_get(const struct fed_provider *p, struct fed_metadata *out, char *why,
                             size_t whylen) GH_WUR;

/** p's keys (a reference: fed_jwks_release(p, *out)). refresh: the caller
 *  met an unknown kid; the JWKS is fetched again unless it was fetched less
 *  than FED_JWKS_MIN_REFRESH_S ago (*refreshed tells; may be NULL). */
enum gh_err fed_jwks_get(const struct fed_provider *p, bool refresh, struct fed_jwks **out,
                         bool *refreshed, char *why, size_t whylen) GH_WUR;
void fed_jwks_release(const struct fed_provider *p, struct fed_jwks *s);

/** Tests only: forgets p's cached documents and timers. */
void fed_cache_reset(const struct fed_provider *p);
/** Tests only: moves p's cache timestamps back by s seconds (as if time
 *  had passed). */
void fed_cache_age(const struct fed_provider *p, int64_t s);

#endif
