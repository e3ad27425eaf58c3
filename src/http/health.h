/* The operator endpoints: /healthz (the process answers), /readyz (the
 * audit chain verifies and database writes work; the reasons only to
 * GATEHOUSE_METRICS_ALLOW) and /metrics (Prometheus text, only to
 * GATEHOUSE_METRICS_ALLOW). Each module writes its own metric lines through
 * a gh_metrics_fn; the list of them is the table in health.c, one row per
 * module (a row, like a route, rather than a call at start: audit/ and
 * store/ do not include http/ headers). */
#ifndef GH_HTTP_HEALTH_H
#define GH_HTTP_HEALTH_H

#include <stddef.h>

#include "http/server.h"

/** A module's lines of /metrics (Prometheus text with # HELP and # TYPE)
 *  written into buf; returns the length written (< cap, NUL-terminated).
 *  Any thread; no allocation. */
typedef size_t (*gh_metrics_fn)(char *buf, size_t cap);

/** The HTTP layer's own lines: requests by status class. */
size_t http_requests_metrics(char *buf, size_t cap);
/** The HTTP layer's own lines: requests refused with 403 csrf_failed. */
size_t http_csrf_metrics(char *buf, size_t cap);

void http_healthz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void http_readyz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void http_metrics(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
