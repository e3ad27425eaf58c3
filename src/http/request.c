/* What handlers read from a request: the fields of its JSON body
 * (gh_body_fields), the request's part of an audit event, and the
 * authz.denied row of a refused request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/failures.h"
#include "http/server.h"

const struct store_audit *gh_audit_event(struct gh_req *r, struct store_audit *ev,
                                         const char *action, const char *actor, const char *target,
                                         const char *details)
{
    if (!audit_enabled()) return NULL;
    *ev = (struct store_audit){.actor = actor,
                               .action = action,
                               .target = target,
                               .ip = r->ip,
                               .user_agent = r->user_agent,
                               .request_id = r->request_id,
                               .details = details};
    return ev;
}

enum gh_err gh_body_fields(struct gh_req *r, const struct gh_field *f, size_t n)
{
    char msg[160];
    for (size_t i = 0; i < n; i++) {
        *f[i].out = NULL;
        if (f[i].len) *f[i].len = 0;
    }
    const char *key;
    json_t *v;
    json_object_foreach(r->body, key, v)
    {
        size_t i;
        for (i = 0; i < n && strcmp(key, f[i].name) != 0; i++) {
        }
        if (i == n) {
            /* Echo the name only if it is short, printable ASCII. */
            bool safe = strlen(key) <= 40;
            for (const char *p = key; safe && *p; p++)
                safe = *p >= 0x20 && *p < 0x7f && *p != '"';
            snprintf(msg, sizeof msg, "Unknown field%s%s%s.", safe ? " '" : "", safe ? key : "",
                     safe ? "'" : "");
            gh_fail_msg(r, GH_E_UNKNOWN_FIELD, msg);
            return GH_ERR_INVALID;
        }
        if (!json_is_string(v)) {
            snprintf(msg, sizeof msg, "Field '%s' must be a string.", f[i].name);
            gh_fail_msg(r, GH_E_INVALID_FIELD, msg);
            return GH_ERR_INVALID;
        }
        size_t len = json_string_length(v);
        if (memchr(json_string_value(v), '\0', len)) {
            snprintf(msg, sizeof msg, "Field '%s' must not contain NUL characters.", f[i].name);
            gh_fail_msg(r, GH_E_INVALID_FIELD, msg);
            return GH_ERR_INVALID;
        }
        *f[i].out = json_string_value(v);
        if (f[i].len) *f[i].len = len;
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].required && !*f[i].out) {
            snprintf(msg, sizeof msg, "Field '%s' is required.", f[i].name);
            gh_fail_msg(r, GH_E_MISSING_FIELD, msg);
            return GH_ERR_INVALID;
        }
    }
    return GH_OK;
}

enum gh_err gh_audit_denied(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                            const char *reason, const char *target)
{
    static const char *const methods[] = {"GET", "POST", "DELETE", "PUT", "PATCH"};
    const char *m = "?";
    for (int i = 0; i < 5; i++)
        if (r->route->method == 1 << i) m = methods[i];
    char route[160];
    snprintf(route, sizeof route, "%s %s", m, r->route->name ? r->route->name : r->route->path);
    json_t *o = json_pack("{s:s,s:s}", "reason", reason, "route", route);
    if (o && r->param[0]) json_object_set_new(o, "param", json_string(r->param));
    char *details = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!details) return GH_ERR_NOMEM;
    struct store_audit ev;
    const char *actor = r->authed ? r->ident.user_id : "anonymous";
    enum gh_err rc = audit_failure_append(
        ops, c, gh_audit_event(r, &ev, "authz.denied", actor, target ? target : "", details));
    free(details);
    return rc;
}
