/* HTTP handlers of the audit capability, and the readiness and metrics
 * endpoints that report the chain's health. */
#ifndef GH_AUDIT_HTTP_H
#define GH_AUDIT_HTTP_H

#include "http/server.h"

void audit_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void audit_http_readyz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void audit_http_metrics(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
