#include "gate/gate_http.h"

#include <stdatomic.h>

#include "core/log.h"
#include "core/util.h"
#include "gate/gate.h"
#include "gate/gate_config.h"

/* The identity the upstream reads. A header that cannot be sent fails the
 * whole answer: a pass without the identity it promised is not a pass. */
static bool identity_headers(struct gh_req *r)
{
    const struct authcache_identity *id = &r->ident;
    enum gh_err rc = gh_reply_header(r, "X-Gatehouse-User-Id", id->user_id);
    if (!rc) rc = gh_reply_header(r, "X-Gatehouse-Email", id->email);
    if (!rc) rc = gh_reply_header(r, "X-Gatehouse-Roles", id->role);
    if (!rc) rc = gh_reply_header(r, "X-Gatehouse-Session-Id", id->session_id);
    if (!rc && gate_cfg.remote_headers) {
        rc = gh_reply_header(r, "Remote-User", id->email);
        if (!rc) rc = gh_reply_header(r, "Remote-Email", id->email);
        if (!rc) rc = gh_reply_header(r, "Remote-Groups", id->role);
        if (!rc) rc = gh_reply_header(r, "Remote-Name", id->email);
    }
    return rc == GH_OK;
}

/* At most one line a second: any browser can ask for a host that is not
 * an allowed return URL, and each line is a write on the event loop. */
static void log_rd_refused(const struct gh_req *r)
{
    static _Atomic int64_t last_s;
    int64_t now = gh_mono_us() / 1000000, prev = atomic_load(&last_s);
    if (now == prev || !atomic_compare_exchange_strong(&last_s, &prev, now)) return;
    gh_log(GH_LOG_WARN,
           "request %s: gate: %s is not an allowed return URL host (rules, cookie domain, "
           "public URL); redirecting without rd (at most one such line a second)",
           r->request_id, r->gate->req.authority);
}

/* A redirect (302/303) without a body, or nginx's 401 carrying Location. */
static void redirect(struct gh_req *r, const struct gate_answer *a, enum gh_error e)
{
    if (a->status == 401)
        gh_fail(r, e);
    else
        gh_reply_body(r, a->status, NULL, NULL, 0);
    if (a->location[0] && gh_reply_header(r, "Location", a->location) != GH_OK)
        gh_reply_fail(r, GH_ERR_INTERNAL);
}

void gate_http_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    struct gate_answer a;
    const struct gate_set *s = gate_enter();
    if (s) gate_decide(s, r->gate, r->authed ? &r->ident : NULL, gh_now_s(), &a);
    gate_leave();
    if (!s) { /* never before gate_init */
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    if (a.rd_refused) log_rd_refused(r);
    switch (a.verdict) {
    case GATE_PASS:
        gh_reply_body(r, 200, NULL, NULL, 0);
        if (a.identity && !identity_headers(r)) {
            gh_log(GH_LOG_ERROR,
                   "request %s: gate: the identity of user %s cannot be sent as "
                   "headers",
                   r->request_id, r->ident.user_id);
            gh_reply_fail(r, GH_ERR_INTERNAL);
        }
        return;
    case GATE_SIGNIN:
        redirect(r, &a, GH_E_SIGNIN_REQUIRED);
        return;
    case GATE_STEP_UP:
        redirect(r, &a, GH_E_STEP_UP_REQUIRED);
        return;
    case GATE_ENROL:
        gh_fail(r, GH_E_MFA_ENROLMENT_REQUIRED);
        return;
    case GATE_FORBIDDEN:
        break;
    }
    gh_fail(r, GH_E_FORBIDDEN);
}

void gate_http_reload(const struct store_ops *ops, struct store_conn *c)
{
    if (gate_reload() != GH_OK) return; /* logged; the old rules stay */
}
