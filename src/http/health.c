#include "http/health.h"

#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "backup/backup_job.h"
#include "core/config.h"
#include "guard/guard.h"
#include "guard/proxy.h"
#include "http/conn.h"
#include "sessions/authcache.h"
#include "store/health.h"

/* Every module's metric lines, in the order /metrics shows them. */
static const gh_metrics_fn metric_sources[] = {
    audit_metrics,        http_requests_metrics, guard_metrics,     http_csrf_metrics,
    store_health_metrics, conn_metrics,          authcache_metrics, backup_metrics,
};

#define METRICS_MAX 8192

static size_t clamp(int n, size_t cap)
{
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t http_requests_metrics(char *buf, size_t cap)
{
    return clamp(snprintf(buf, cap,
                          "# HELP gatehouse_http_requests_total Requests answered, by status "
                          "class.\n"
                          "# TYPE gatehouse_http_requests_total counter\n"
                          "gatehouse_http_requests_total{class=\"2xx\"} %llu\n"
                          "gatehouse_http_requests_total{class=\"3xx\"} %llu\n"
                          "gatehouse_http_requests_total{class=\"4xx\"} %llu\n"
                          "gatehouse_http_requests_total{class=\"5xx\"} %llu\n",
                          (unsigned long long)gh_requests_total(2),
                          (unsigned long long)gh_requests_total(3),
                          (unsigned long long)gh_requests_total(4),
                          (unsigned long long)gh_requests_total(5)),
                 cap);
}

size_t http_csrf_metrics(char *buf, size_t cap)
{
    return clamp(snprintf(buf, cap,
                          "# HELP gatehouse_csrf_failed_total Requests refused with 403 "
                          "csrf_failed.\n"
                          "# TYPE gatehouse_csrf_failed_total counter\n"
                          "gatehouse_csrf_failed_total %llu\n",
                          (unsigned long long)gh_csrf_failed_total()),
                 cap);
}

void http_healthz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    gh_reply(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* /metrics and the reasons behind a failing /readyz go only to the
 * addresses in GATEHOUSE_METRICS_ALLOW, decided on the client address the
 * server resolved (behind a trusted proxy: the client, not the proxy). */
static bool ops_allowed(const struct gh_req *r)
{
    return proxy_trusted(r->ip, proxy_cfg.metrics_allow, proxy_cfg.nmetrics_allow);
}

void http_readyz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    bool chain_ok = audit_chain_status() != 0, store_ok = store_health_writes_ok();
    if (chain_ok && store_ok) {
        gh_reply(r, 200, json_pack("{s:s}", "status", "ready"));
        return;
    }
    json_t *body = json_pack("{s:s}", "status", "not_ready");
    if (body && ops_allowed(r)) {
        json_t *reasons = json_array();
        if (!chain_ok) json_array_append_new(reasons, json_string("audit_chain_broken"));
        if (!store_ok) {
            char why[512];
            store_health_reason(why, sizeof why);
            json_array_append_new(reasons, json_string("database_writes_failing"));
            json_object_set_new(body, "database_error", json_string(why));
        }
        json_object_set_new(body, "reasons", reasons);
    }
    gh_reply(r, 503, body);
}

void http_metrics(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (!ops_allowed(r)) {
        gh_fail_msg(r, GH_E_FORBIDDEN,
                    "/metrics is served only to the addresses in GATEHOUSE_METRICS_ALLOW.");
        return;
    }
    char *text = malloc(METRICS_MAX);
    if (!text) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    size_t o = 0;
    text[0] = '\0';
    for (size_t i = 0; i < sizeof metric_sources / sizeof metric_sources[0]; i++)
        if (o + 1 < METRICS_MAX) o += metric_sources[i](text + o, METRICS_MAX - o);
    gh_reply_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, o);
}
