#include "sessions/sessions_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/failures.h"
#include "core/util.h"
#include "sessions/authcache.h"
#include "sessions/discovery.h"
#include "sessions/jwt.h"
#include "sessions/sessions.h"

#define SESSIONS_LIST_MAX 100

void sessions_http_token(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *grant, *tok;
    size_t grant_len, tok_len;
    const struct gh_field f[] = {{"grant_type", true, &grant, &grant_len},
                                 {"refresh_token", false, &tok, &tok_len}};
    if (gh_body_fields(r, f, 2)) return;
    if (strcmp(grant, "refresh_token") != 0) {
        gh_fail(r, GH_E_UNSUPPORTED_GRANT_TYPE);
        return;
    }
    if (!tok) {
        gh_fail_msg(r, GH_E_MISSING_FIELD, "Field 'refresh_token' is required.");
        return;
    }
    struct sessions_pair pair = {0};
    enum sessions_refresh_result res;
    struct store_audit ev;
    struct store_audit *reuse =
        (struct store_audit *)gh_audit_event(r, &ev, "token.reuse_detected", "system", NULL, NULL);
    struct limit_result lim = {0};
    enum gh_err rc = sessions_refresh(ops, c, tok, tok_len, false, reuse, &res, &lim, &pair);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    switch (res) {
    case SESSIONS_REFRESHED: {
        json_t *body = sessions_pair_json(&pair);
        if (body)
            gh_reply(r, 200, body);
        else
            gh_reply_fail(r, GH_ERR_NOMEM);
        break;
    }
    case SESSIONS_REUSED:
        gh_fail_msg(r, GH_E_TOKEN_REUSED,
                    "This refresh token was already used; every session of the account has "
                    "been signed out.");
        break;
    case SESSIONS_INVALID:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "The refresh token is invalid or expired.");
        break;
    case SESSIONS_LIMITED:
        gh_reply_limited(r, LIMIT_REFRESH_SESSION, &lim);
        break;
    case SESSIONS_EXPIRED:
        gh_fail(r, GH_E_SESSION_EXPIRED);
        break;
    }
    sessions_pair_clear(&pair);
}

void sessions_http_signout(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    struct store_audit base;
    enum gh_err rc = sessions_signout(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                      r->ident.user_id, r->ident.session_id);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    if (r->cookie_auth) r->clear_cookies = true;
    gh_reply(r, 204, NULL);
}

void sessions_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    struct store_session *s = calloc(SESSIONS_LIST_MAX, sizeof *s);
    size_t n = 0;
    if (!s) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    enum gh_err rc = ops->sessions.list(c, r->ident.user_id, gh_now_s(), s, SESSIONS_LIST_MAX, &n);
    json_t *arr = rc ? NULL : json_array();
    for (size_t i = 0; arr && i < n; i++) {
        char created[GH_RFC3339_LEN + 1], used[GH_RFC3339_LEN + 1];
        gh_rfc3339(created, s[i].created_at);
        gh_rfc3339(used, s[i].last_used_at);
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "id", s[i].id, "created_at", created,
                              "last_used_at", used, "ip", s[i].ip, "user_agent", s[i].user_agent,
                              "mode", s[i].cookie ? "cookie" : "bearer", "current",
                              strcmp(s[i].id, r->ident.session_id) == 0);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
            rc = GH_ERR_NOMEM;
        }
    }
    free(s);
    if (!arr) {
        gh_reply_fail(r, rc ? rc : GH_ERR_NOMEM);
        return;
    }
    gh_reply(r, 200, json_pack("{s:o}", "sessions", arr));
}

void sessions_http_revoke(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    struct store_audit ev;
    char details[128];
    snprintf(details, sizeof details, "{\"session_id\":\"%s\"}", r->param);
    enum gh_err rc = ops->sessions.revoke(
        c, r->param, r->ident.user_id, gh_now_s(),
        gh_audit_event(r, &ev, "session.revoked", r->ident.user_id, r->ident.user_id, details));
    if (rc == GH_ERR_NOT_FOUND) { /* another user's session is audited, and answered alike */
        struct store_session other;
        enum gh_err arc = GH_OK;
        if (ops->sessions.get(c, r->param, &other) == GH_OK &&
            strcmp(other.user_id, r->ident.user_id) != 0)
            arc = gh_audit_denied(r, ops, c, "not_owner", other.user_id);
        if (arc)
            gh_reply_fail(r, arc); /* an unrecorded refusal is a failure */
        else
            gh_fail_msg(r, GH_E_NOT_FOUND, "No such session.");
        return;
    }
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    authcache_revoke_session(r->param);
    if (r->cookie_auth && strcmp(r->param, r->ident.session_id) == 0) r->clear_cookies = true;
    gh_reply(r, 204, NULL);
}

void sessions_http_revoke_others(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c)
{
    struct store_audit base;
    size_t n;
    enum gh_err rc =
        sessions_revoke_others(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                               r->ident.user_id, r->ident.session_id, &n);
    if (rc)
        gh_reply_fail(r, rc);
    else
        gh_reply(r, 204, NULL);
}

void sessions_http_jwks(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    json_t *doc = jwt_jwks();
    if (!doc) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    gh_reply(r, 200, doc);
}

/* /.well-known/openid-configuration: from memory, on the loop. */
void sessions_http_discovery(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    json_t *doc = discovery_document();
    if (!doc) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    gh_reply(r, 200, doc);
}
