/* The provider's metadata: its discovery document
 * (<issuer>/.well-known/openid-configuration) and its JWKS, fetched on a
 * worker thread (fetch.h) and cached in memory per provider under a mutex,
 * with a TTL. Owns struct fed_cache (one per provider, made by
 * fed_config_load, freed by fed_config_free) and the parsers of both
 * documents (pure functions, fuzzed: tests/fuzz/fuzz_oidc_discovery.c,
 * fuzz_oidc_jwks.c). No cjose object is shared between threads: the cache
 * keeps each key's public JSON and a verifier imports its own copy. */
#ifndef GH_FEDERATION_DISCOVERY_H
#define GH_FEDERATION_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "federation/providers.h"

/** A new, empty cache (*out heap; fed_cache_free). */
enum gh_err fed_cache_new(struct fed_cache **out) GH_WUR;
/** Frees a cache and what it holds. NULL is allowed. */
void fed_cache_free(struct fed_cache *c);

#endif
