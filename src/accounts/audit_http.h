/* GET /v1/audit: a signed-in user's own audit events (the account
 * handlers' side of the audit capability; the chain itself is audit/'s). */
#ifndef GH_ACCOUNTS_AUDIT_HTTP_H
#define GH_ACCOUNTS_AUDIT_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "http/server.h"

/* Parses the query string of GET /v1/audit ("" for none): limit, 1..100
 * (default 50), and before, a positive event id (default 0: the newest),
 * each at most once as name=digits (1 to 19, not percent-encoded), joined
 * by single '&'. Anything else (an unknown or repeated parameter, a value
 * out of range, %00, an empty piece) is refused (false, outputs
 * untouched). Pure: no request, no store. */
bool audit_parse_query(const char *query, int64_t *limit, int64_t *before);

void audit_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
