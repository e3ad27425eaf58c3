#include "accounts/signin_reply.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "mfa/mfa.h"
#include "sessions/cookie.h"
#include "sessions/sessions.h"

int accounts_signin_mode(struct gh_req *r, const char *mode)
{
    if (!mode || strcmp(mode, "bearer") == 0) return 0;
    if (strcmp(mode, "cookie") != 0) {
        gh_fail_msg(r, GH_E_INVALID_FIELD, "Field 'mode' must be bearer or cookie.");
        return -1;
    }
    if (!cookie_available()) {
        gh_fail(r, GH_E_COOKIE_MODE_UNAVAILABLE);
        return -1;
    }
    if (!r->origin_ok) {
        gh_log(GH_LOG_WARN, "request %s: cookie sign-in from a refused origin", r->request_id);
        gh_count_csrf_failed();
        gh_fail_msg(r, GH_E_CSRF_FAILED,
                    "A cookie sign-in must come from an allowed origin (Origin or "
                    "Sec-Fetch-Site).");
        return -1;
    }
    return 1;
}

json_t *accounts_user_json(const char *id, const char *email, int64_t created_at)
{
    char ts[GH_RFC3339_LEN + 1];
    gh_rfc3339(ts, created_at);
    return json_pack("{s:s,s:s,s:s}", "id", id, "email", email, "created_at", ts);
}

const struct accounts_req *accounts_request_of(struct gh_req *r, struct accounts_req *in,
                                               struct store_audit *base, bool cookie)
{
    *in = (struct accounts_req){.ip = r->ip,
                                .user_agent = r->user_agent,
                                .audit = gh_audit_event(r, base, NULL, NULL, NULL, NULL),
                                .cookie = cookie,
                                .presented = r->token,
                                .presented_len = r->token_len};
    return in;
}

void accounts_reply_signed_in(struct gh_req *r, int status, const struct accounts_result *res,
                              bool cookie)
{
    const struct store_user *u = &res->u;
    const struct sessions_pair *p = &res->pair;
    json_t *body = json_object();
    json_t *user = accounts_user_json(u->id, u->email, u->created_at);
    json_t *pair = NULL;
    char csrf[COOKIE_CSRF_LEN + 1] = "";
    if (cookie) {
        if (cookie_csrf_token(p->session_id, csrf) == GH_OK)
            pair = json_pack("{s:s,s:s,s:I}", "mode", "cookie", "csrf_token", csrf, "expires_in",
                             (json_int_t)gh_cfg.refresh_ttl);
    } else {
        pair = sessions_pair_json(p);
    }
    gh_wipe(csrf, sizeof csrf); /* jansson holds its own copy */
    if (cookie) {               /* the session it replaced has ended (signin_session_start) */
        gh_wipe(r->token, sizeof r->token);
        r->token_len = 0;
    }
    if (!body || !user || !pair || json_object_set(body, "user", user) != 0 ||
        json_object_update(body, pair) != 0) {
        json_decref(body);
        json_decref(user);
        json_decref(pair);
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    json_decref(pair);
    json_decref(user);
    if (res->restricted) json_object_set_new(body, "mfa_enrolment_required", json_true());
    r->authed = true; /* for the log line */
    snprintf(r->ident.user_id, sizeof r->ident.user_id, "%s", u->id);
    if (cookie) { /* finish() sets the cookies */
        memcpy(r->ident.session_id, p->session_id, sizeof r->ident.session_id);
        memcpy(r->set_session, p->refresh, sizeof r->set_session);
    }
    gh_reply(r, status, body);
}

void accounts_reply_mfa_required(struct gh_req *r, const struct accounts_result *res)
{
    gh_reply(r, 200,
             json_pack("{s:b,s:s,s:i}", "mfa_required", 1, "mfa_token", res->mfa_token,
                       "expires_in", MFA_CHALLENGE_TTL));
}
