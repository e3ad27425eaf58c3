#include "accounts/audit_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

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
