/* Request admission: which rate-limit rules a request must pass before
 * anything runs for it (no hash computed, nothing written), and the 429
 * when one is spent. Runs on the event loop, from memory. */
#ifndef GH_GUARD_GUARD_H
#define GH_GUARD_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "guard/limit.h"
#include "guard/proxy.h"
#include "http/server.h"

/** Which budgets a route spends (gh_route.guard). */
enum guard_class {
    GUARD_NONE = 0,
    GUARD_SIGNIN, /* per IP + address, per IP */
    GUARD_SIGNUP, /* per IP */
    GUARD_EMAIL,  /* per address, per IP: mail goes out */
    GUARD_LINK,   /* per IP: redeeming an emailed link (made-up tokens cost a row) */
    GUARD_MFA,    /* per IP: the second sign-in step (per account on the worker) */
    GUARD_REFRESH /* per IP: refresh (per session on the worker) */
};

/* Per-IP rules count a client under proxy_budget_key(r->ip): IPv6 by its
 * /64 (GATEHOUSE_IPV6_PREFIX). */

/** r's client as per-IP rules count it (proxy_budget_key of r->ip). */
void guard_ip_key(const struct gh_req *r, char out[PROXY_KEY_MAX]);

/** Spends the budgets of r's route (r->body parsed, r->ip set) and, for an
 *  authenticated request whose identity is known, the user's API budget.
 *  false: a rule refused and r's reply is the 429 (whatever was taken for
 *  the earlier rules is given back). Any thread. */
bool guard_admit(struct gh_req *r);

/** True when r's admission should wait for the loop's batch (budgets
 *  shared through Redis, and r spends one). */
bool guard_wants_batch(const struct gh_req *r);

/** guard_admit for n requests at once (one Redis round trip for all; each
 *  request all or nothing). admitted[i] false: rs[i]'s reply is set (429,
 *  or 503 when Redis is down and a rule fails closed). Loop thread. */
void guard_admit_batch(struct gh_req **rs, int n, bool *admitted);

/** The API budget alone, for a request authenticated on a worker. */
bool guard_admit_user(struct gh_req *r);

/** Takes one unit of each rule for its subject, in order; if one refuses,
 *  gives back what was taken and answers r with 429. subjects[i] NULL:
 *  skip rules[i]. */
bool guard_take(struct gh_req *r, const enum limit_rule *rules, const char *const *subjects, int n);

/** The sign-in budgets (per client IP + address, per client IP) for
 *  email_key, spent on a worker by a route that checks a password without
 *  being the sign-in route (POST /v1/password). guard_take's contract. */
bool guard_take_signin(struct gh_req *r, const char *email_key);

/** Answers 429 rate_limited for an address locked by failed sign-ins
 *  (RateLimit fields name the rule "signin_lockout"), or 503
 *  rate_limiter_unavailable when limit_locked said so only because Redis
 *  is down (limit_unavailable()). */
void guard_reply_locked(struct gh_req *r, int64_t retry_after_s);

/** Counts a request refused by rule (a rate-limit name, or
 *  "signin_lockout") for /metrics. Any thread. */
void guard_count_refused(const char *rule);

/** The i-th counter (0 .. LIMIT__COUNT, the last being the lockout): its
 *  rule name and how many requests it refused since start. */
uint64_t guard_refused_total(int i, const char **rule);

/** The rate-limit lines of /metrics (Prometheus text: refusals by rule,
 *  whether Redis answers) into buf; returns the length written (< cap,
 *  NUL-terminated). Any thread. */
size_t guard_metrics(char *buf, size_t cap);

#endif
