/* The integration contract (issue 9, item 18): the discovery document at
 * /.well-known/openid-configuration, built from the configuration and the
 * route table (nothing from the database), and the start log line that names
 * the issuer, the audience and the JWKS URL. Any thread. */
#ifndef GH_SESSIONS_DISCOVERY_H
#define GH_SESSIONS_DISCOVERY_H

#include <stddef.h>

#include <jansson.h>

struct gh_route;

/** The route table the document lists (static data that outlives every
 *  request). Called once at start, before the loops run. */
void discovery_set_routes(const struct gh_route *routes, size_t n);
/** "<issuer without a trailing slash><path>" into out. */
void discovery_url(char *out, size_t outlen, const char *path);
/** The discovery document (new reference, NULL on out of memory). */
json_t *discovery_document(void);
/** Logs "tokens: issuer ..., audience ..., JWKS ..." once at start. */
void discovery_log_start(void);

#endif
