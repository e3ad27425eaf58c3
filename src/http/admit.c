/* The HTTP side of admission: asks the guard (guard/guard.h) with what a
 * request carries and writes its decision into the reply: the 429 (or 503
 * when the rule fails closed), or the RateLimit fields of an admitted
 * request. */
#include "core/util.h"
#include "guard/guard.h"
#include "http/internal.h"

/* What r asks the guard for; marks the user's API budget spent when it is
 * asked for (once per request, loop or worker). */
static struct guard_request ask_of(struct gh_req *r, bool mark)
{
    /* The gate spends its per-IP budget only for a credential that was
     * presented and not answered from memory as signed in: one that costs
     * a signature check or a worker, or a guess. A check without any
     * credential is a rules match answered from memory, and a signed-in
     * one spends nothing either, not even the user's API budget: a page
     * behind the gate asks once per asset, and a public site's visitors
     * behind one NAT address must not run out (through nginx a 429 becomes
     * a 500). */
    if (r->route->flags & R_GATE) {
        bool costly = r->token_len > 0 && !r->authed;
        return (struct guard_request){.cls = costly ? r->route->guard : GUARD_NONE, .ip = r->ip};
    }
    bool api = r->authed && !r->api_admitted;
    if (api && mark) r->api_admitted = true;
    return (struct guard_request){.cls = r->route->guard,
                                  .body = r->body,
                                  .ip = r->ip,
                                  .user_id = api ? r->ident.user_id : NULL,
                                  .cookie_unsettled = r->cookie_auth && !r->authed};
}

/* Writes d into r: false when refused (r's reply is set). */
static bool apply(struct gh_req *r, const struct guard_decision *d)
{
    if (d->allowed) {
        if (d->rule_name) {
            r->rl_name = d->rule_name;
            r->rl = d->res;
        }
        return true;
    }
    if (d->rule == LIMIT__COUNT) { /* an address locked by failed sign-ins */
        r->rl_name = d->rule_name;
        r->rl = d->res;
        gh_fail_msg(r, GH_E_RATE_LIMITED,
                    "Too many failed sign-ins for this address; try again later, or reset the "
                    "password.");
        return false;
    }
    gh_reply_limited(r, d->rule, &d->res);
    return false;
}

void gh_client_key(const struct gh_req *r, char out[PROXY_KEY_MAX])
{
    guard_ip_key(r->ip, out);
}

bool gh_take(struct gh_req *r, const enum limit_rule *rules, const char *const *subjects, int n)
{
    struct guard_decision d;
    guard_take(rules, subjects, n, &d);
    return apply(r, &d);
}

bool gh_take_signin(struct gh_req *r, const char *email_key)
{
    struct guard_decision d;
    guard_take_signin(r->ip, email_key, &d);
    return apply(r, &d);
}

void gh_reply_locked(struct gh_req *r, int64_t retry_after_s)
{
    struct guard_decision d;
    guard_locked(retry_after_s, &d);
    apply(r, &d);
}

bool http_admit(struct gh_req *r)
{
    struct guard_request q = ask_of(r, true);
    struct guard_decision d;
    guard_admit(&q, &d);
    return apply(r, &d);
}

bool http_admit_user(struct gh_req *r)
{
    if (!r->authed || r->api_admitted) return true;
    r->api_admitted = true;
    const enum limit_rule rules[] = {LIMIT_API_USER};
    const char *subjects[] = {r->ident.user_id};
    return gh_take(r, rules, subjects, 1);
}

bool http_wants_batch(struct gh_req *r)
{
    struct guard_request q = ask_of(r, false);
    return guard_wants_batch(&q);
}

void http_admit_batch(struct gh_req **rs, int n, bool *admitted)
{
    struct guard_request qs[HTTP_ADMIT_BATCH] = {{0}};
    struct guard_decision ds[HTTP_ADMIT_BATCH];
    if (n > HTTP_ADMIT_BATCH) n = HTTP_ADMIT_BATCH; /* callers batch at most that many */
    for (int i = 0; i < n; i++)
        qs[i] = ask_of(rs[i], true);
    guard_admit_batch(qs, n, ds);
    for (int i = 0; i < n; i++)
        admitted[i] = apply(rs[i], &ds[i]);
}
