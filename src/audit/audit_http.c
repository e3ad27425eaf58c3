#include "audit/audit_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "audit/audit.h"
#include "core/config.h"
#include "core/util.h"
#include "guard/guard.h"
#include "guard/limit_redis.h"
#include "guard/proxy.h"
#include "store/health.h"
#include "http/conn.h"

#define AUDIT_PAGE_MAX 100
#define AUDIT_PAGE_DEFAULT 50

/* Not evhttp_parse_query_str: it percent-decodes ("limit=1%00" became
 * "1"), keeps repeats and lets empty pieces through. Here nothing is
 * decoded; a value is 1 to 19 plain digits, so no valid query is near the
 * length at which struct gh_req cuts it. */
bool audit_parse_query(const char *query, int64_t *limit, int64_t *before)
{
    int64_t vals[2] = {AUDIT_PAGE_DEFAULT, 0};
    static const char *const names[2] = {"limit", "before"};
    static const int64_t max[2] = {AUDIT_PAGE_MAX, INT64_MAX};
    bool seen[2] = {false, false};
    for (const char *p = query; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq) return false; /* an empty piece or a name alone */
        size_t kn = (size_t)(eq - p), vn = n - kn - 1;
        int k = -1;
        for (int i = 0; i < 2; i++)
            if (kn == strlen(names[i]) && strncmp(p, names[i], kn) == 0) k = i;
        if (k < 0 || seen[k] || vn == 0 || vn > 19) return false;
        char v[20];
        for (size_t i = 0; i < vn; i++) {
            if (eq[1 + i] < '0' || eq[1 + i] > '9') return false;
            v[i] = eq[1 + i];
        }
        v[vn] = '\0';
        if (gh_parse_i64(v, 1, max[k], &vals[k])) return false;
        seen[k] = true;
        if (!amp) break;
        p = amp + 1;
        if (!*p) return false; /* a trailing '&' */
    }
    *limit = vals[0];
    *before = vals[1];
    return true;
}

/* GET /v1/audit?limit=N&before=ID: the caller's own events, newest first. */
void audit_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    int64_t limit, before;
    if (!audit_parse_query(r->query, &limit, &before)) {
        gh_fail_msg(r, GH_E_INVALID_QUERY,
                    "Query parameters: limit (1..100) and before (a positive event id).");
        return;
    }
    /* One row more than asked: it tells whether another page exists. */
    struct store_audit_row *rows = calloc((size_t)limit + 1, sizeof *rows);
    size_t n = 0;
    if (!rows) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    enum gh_err rc = ops->audit.list(c, r->ident.user_id, before, rows, (size_t)limit + 1, &n);
    bool more = n > (size_t)limit;
    size_t shown = more ? (size_t)limit : n;
    json_t *events = rc ? NULL : json_array();
    for (size_t i = 0; events && i < shown; i++) {
        json_t *details = json_loads(rows[i].details, 0, NULL);
        json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "id", (json_int_t)rows[i].id,
                              "occurred_at", rows[i].occurred_at, "action", rows[i].action, "actor",
                              rows[i].actor, "target", rows[i].target, "ip", rows[i].ip,
                              "user_agent", rows[i].user_agent, "request_id", rows[i].request_id,
                              "details", details ? details : json_object());
        if (!o || json_array_append_new(events, o)) {
            json_decref(events);
            events = NULL;
            rc = GH_ERR_NOMEM;
        }
    }
    int64_t next = more ? rows[shown - 1].id : 0;
    for (size_t i = 0; i < n; i++)
        store_audit_row_clear(&rows[i]);
    free(rows);
    if (!events) {
        gh_reply_fail(r, rc ? rc : GH_ERR_NOMEM);
        return;
    }
    json_t *body = json_pack("{s:o}", "events", events);
    if (body) json_object_set_new(body, "next_before", next ? json_integer(next) : json_null());
    gh_reply(r, 200, body);
}

/* /metrics and the reasons behind a failing /readyz go only to the
 * addresses in GATEHOUSE_METRICS_ALLOW, decided on the client address the
 * server resolved (behind a trusted proxy: the client, not the proxy). */
static bool ops_allowed(const struct gh_req *r)
{
    return proxy_trusted(r->ip, gh_cfg.metrics_allow, gh_cfg.nmetrics_allow);
}

void audit_http_readyz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
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

#define METRICS_MAX 8192

void audit_http_metrics(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
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
    snprintf(text, METRICS_MAX,
             "# HELP gatehouse_audit_chain_ok Last audit chain verification: 1 ok, 0 broken, -1 "
             "not run yet.\n"
             "# TYPE gatehouse_audit_chain_ok gauge\n"
             "gatehouse_audit_chain_ok %d\n"
             "# HELP gatehouse_http_requests_total Requests answered, by status class.\n"
             "# TYPE gatehouse_http_requests_total counter\n"
             "gatehouse_http_requests_total{class=\"2xx\"} %llu\n"
             "gatehouse_http_requests_total{class=\"3xx\"} %llu\n"
             "gatehouse_http_requests_total{class=\"4xx\"} %llu\n"
             "gatehouse_http_requests_total{class=\"5xx\"} %llu\n",
             audit_chain_status(), (unsigned long long)gh_requests_total(2),
             (unsigned long long)gh_requests_total(3), (unsigned long long)gh_requests_total(4),
             (unsigned long long)gh_requests_total(5));
    size_t o = strlen(text);
    o +=
        (size_t)snprintf(text + o, METRICS_MAX - o,
                         "# HELP gatehouse_rate_limited_total Requests refused with 429, by rule.\n"
                         "# TYPE gatehouse_rate_limited_total counter\n");
    for (int i = 0; i <= LIMIT__COUNT && o < METRICS_MAX; i++) {
        const char *rule;
        uint64_t n = guard_refused_total(i, &rule);
        o += (size_t)snprintf(text + o, METRICS_MAX - o,
                              "gatehouse_rate_limited_total{rule=\"%s\"} %llu\n", rule,
                              (unsigned long long)n);
    }
    if (o < METRICS_MAX)
        snprintf(text + o, METRICS_MAX - o,
                 "# HELP gatehouse_redis_up Shared rate limits: 1 Redis answers, 0 outage, -1 not "
                 "configured.\n"
                 "# TYPE gatehouse_redis_up gauge\n"
                 "gatehouse_redis_up %d\n",
                 limit_redis_up());

    o = strlen(text);
    if (o < METRICS_MAX)
        snprintf(text + o, METRICS_MAX - o,
                 "# HELP gatehouse_csrf_failed_total Requests refused with 403 csrf_failed.\n"
                 "# TYPE gatehouse_csrf_failed_total counter\n"
                 "gatehouse_csrf_failed_total %llu\n",
                 (unsigned long long)gh_csrf_failed_total());
    o = strlen(text);
    if (o < METRICS_MAX)
        snprintf(text + o, METRICS_MAX - o,
                 "# HELP gatehouse_store_writes_ok Database writes: 1 working, 0 failing (then "
                 "/readyz is 503).\n"
                 "# TYPE gatehouse_store_writes_ok gauge\n"
                 "gatehouse_store_writes_ok %d\n"
                 "# HELP gatehouse_store_disk_errors_total Database operations that failed for a "
                 "disk reason (full, read-only, I/O).\n"
                 "# TYPE gatehouse_store_disk_errors_total counter\n"
                 "gatehouse_store_disk_errors_total %llu\n",
                 store_health_writes_ok() ? 1 : 0,
                 (unsigned long long)store_health_failures_total());
    o = strlen(text);
    if (o < METRICS_MAX) conn_metrics(text + o, METRICS_MAX - o);
    gh_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}
