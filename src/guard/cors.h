/* CORS: an exact allowlist of browser origins (GATEHOUSE_CORS_ORIGINS).
 * A listed origin gets Access-Control-Allow-Origin naming it (never "*"),
 * with credentials, and its preflights are answered; any other origin gets
 * no CORS headers at all. Matching is byte-exact against the origins as
 * browsers serialise them (lower-case scheme and host, no default port),
 * to which the configured list is normalised at start. Pure functions over
 * caller buffers: no allocation, any thread. */
#ifndef GH_GUARD_CORS_H
#define GH_GUARD_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define CORS_MAX_ORIGINS 32
#define CORS_ORIGIN_MAX 255

/** GATEHOUSE_CORS_ORIGINS, normalised: parsed at start by
 *  guard/guard_config.c, then read-only (any thread). */
struct cors_config {
    char origins[CORS_MAX_ORIGINS][CORS_ORIGIN_MAX + 1];
    int norigins; /* 0: no cross-origin requests are allowed */
};
extern struct cors_config cors_cfg;

/** Parses a comma- or space-separated list of origins
 *  ("https://app.example.com, http://localhost:5173") into out[0..n),
 *  normalised. Refuses "*", "null", paths, queries, user info, schemes
 *  other than http and https, and (production) http. GH_ERR_CONFIG with a
 *  message naming the bad entry. An empty or NULL list is valid (n = 0). */
enum gh_err cors_parse_origins(const char *spec, char out[][CORS_ORIGIN_MAX + 1], int max, int *n,
                               bool production, char *err, size_t errlen) GH_WUR;

/** True if origin (an Origin header value, may be NULL) is one of the n. */
bool cors_origin_listed(const char *origin, const char (*list)[CORS_ORIGIN_MAX + 1], int n);

/** cors_origin_listed against GATEHOUSE_CORS_ORIGINS. */
bool cors_origin_allowed(const char *origin);

#endif
