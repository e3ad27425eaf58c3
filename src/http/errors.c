/* The error table's rows, and the JSON error replies built from them. */
#include "http/errors.h"

#include <string.h>

#include "core/log.h"
#include "http/server.h"

static const struct gh_error_row rows[GH_E_COUNT] = {
#define GH_ERROR_ROW(name, code, status, message) [GH_E_##name] = {code, status, message},
    GH_ERRORS(GH_ERROR_ROW)
#undef GH_ERROR_ROW
};

const struct gh_error_row *gh_error_row(enum gh_error e)
{
    if ((unsigned)e >= GH_E_COUNT) e = GH_E_INTERNAL_ERROR;
    return &rows[e];
}

const struct gh_error_row *gh_error_by_code(const char *code)
{
    for (size_t i = 0; i < GH_E_COUNT; i++)
        if (strcmp(rows[i].code, code) == 0) return &rows[i];
    return NULL;
}

void gh_fail_msg(struct gh_req *r, enum gh_error e, const char *message)
{
    const struct gh_error_row *row = gh_error_row(e);
    gh_reply(r, row->status,
             json_pack("{s:{s:s,s:s}}", "error", "code", row->code, "message",
                       message ? message : row->message));
    r->error_code = row->code; /* for the log line */
    r->reply_nhdr = 0;         /* an error reply carries no extra headers */
    /* RFC 6750: the challenge belongs to bearer-protected resources. */
    if (e == GH_E_INVALID_TOKEN && r->route && (r->route->flags & R_AUTH))
        r->www_authenticate = true;
}

void gh_fail(struct gh_req *r, enum gh_error e)
{
    gh_fail_msg(r, e, NULL);
}

void gh_reply_limited(struct gh_req *r, enum limit_rule rule, const struct limit_result *res)
{
    r->rl_name = limit_rule_name(rule);
    r->rl = *res;
    if (res->unavailable) { /* the shared limiter is down and this rule fails closed */
        gh_fail(r, GH_E_RATE_LIMITER_UNAVAILABLE);
        return;
    }
    gh_fail(r, GH_E_RATE_LIMITED);
}

void gh_reply_fail(struct gh_req *r, enum gh_err e)
{
    if (e == GH_ERR_BUSY) {
        gh_fail(r, GH_E_OVERLOADED);
        return;
    }
    gh_log(GH_LOG_ERROR, "request %s failed: %s", r->request_id, gh_err_name(e));
    gh_fail(r, GH_E_INTERNAL_ERROR);
}
