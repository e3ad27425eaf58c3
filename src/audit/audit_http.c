#include "audit/audit_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "audit/audit.h"
#include "core/util.h"
#include "guard/guard.h"
#include "guard/limit_redis.h"
#include "http/conn.h"

#define AUDIT_PAGE_MAX 100
#define AUDIT_PAGE_DEFAULT 50

bool audit_parse_query(const char *query, int64_t *limit, int64_t *before)
{
    int64_t l_out = AUDIT_PAGE_DEFAULT, b_out = 0;
    struct evkeyvalq q;
    q.tqh_first = NULL;
    q.tqh_last = &q.tqh_first;
    if (query[0] && evhttp_parse_query_str(query, &q) != 0) {
        evhttp_clear_headers(&q);
        return false;
    }
    const char *l = evhttp_find_header(&q, "limit"), *b = evhttp_find_header(&q, "before");
    bool bad = (l && gh_parse_i64(l, 1, AUDIT_PAGE_MAX, &l_out)) ||
               (b && gh_parse_i64(b, 1, INT64_MAX, &b_out));
    for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next)
        if (strcmp(kv->key, "limit") != 0 && strcmp(kv->key, "before") != 0) bad = true;
    evhttp_clear_headers(&q);
    if (bad) return false;
    *limit = l_out;
    *before = b_out;
    return true;
}

/* GET /v1/audit?limit=N&before=ID: the caller's own events, newest first. */
void audit_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    int64_t limit, before;
    if (!audit_parse_query(r->query, &limit, &before)) {
        gh_reply_error(r, 400, "invalid_query",
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
    enum gh_err rc = ops->audit_list(c, r->ident.user_id, before, rows, (size_t)limit + 1, &n);
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

void audit_http_readyz(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (audit_chain_status() == 0) {
        gh_reply(r, 503, json_pack("{s:s}", "status", "audit_chain_broken"));
        return;
    }
    gh_reply(r, 200, json_pack("{s:s}", "status", "ready"));
}

#define METRICS_MAX 8192

void audit_http_metrics(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
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
    if (o < METRICS_MAX) conn_metrics(text + o, METRICS_MAX - o);
    gh_reply_text(r, 200, "text/plain; version=0.0.4", text);
}
