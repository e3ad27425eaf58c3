/* Request admission: which rate-limit rules a request must pass before
 * anything runs for it (no hash computed, nothing written). The guard
 * decides and returns its decision (allowed, or which rule refused and its
 * limit_result); the HTTP layer writes the reply (http/admit.c: the 429 or
 * 503, the RateLimit fields). Runs on the event loop, from memory, or on a
 * worker for the budgets spent there. Knows nothing of HTTP. */
#ifndef GH_GUARD_GUARD_H
#define GH_GUARD_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "guard/limit.h"
#include "guard/proxy.h"

/** Which budgets a route spends (gh_route.guard). */
enum guard_class {
    GUARD_NONE = 0,
    GUARD_SIGNIN,  /* per IP + address, per IP */
    GUARD_SIGNUP,  /* per IP */
    GUARD_EMAIL,   /* per address, per IP: mail goes out */
    GUARD_LINK,    /* per IP: redeeming an emailed link (made-up tokens cost a row) */
    GUARD_MFA,     /* per IP: the second sign-in step (per account on the worker) */
    GUARD_REFRESH, /* per IP: refresh (per session on the worker) */
    GUARD_VERIFY,  /* per IP: a gate check not answered from memory as signed in */
    GUARD_OAUTH    /* per IP, the sign-in's per-IP rule: a provider sign-in's start, callback,
                    * native nonce and token (no address is known before the provider answers) */
};

/** The guard's answer. Refused: rule and res are the rule that refused
 *  (rule LIMIT__COUNT with rule_name "signin_lockout": an address locked by
 *  failed sign-ins). Allowed: rule_name and res are the spent rule closest
 *  to its end, for the RateLimit fields (rule_name NULL: none spent). */
struct guard_decision {
    bool allowed;
    enum limit_rule rule;
    const char *rule_name; /* static */
    struct limit_result res;
};

/** What a request asks the guard for, filled by the HTTP layer. */
struct guard_request {
    int cls;               /* enum guard_class of the route */
    const json_t *body;    /* the parsed body (the address it names), or NULL */
    const char *ip;        /* the client address */
    const char *user_id;   /* spend this user's API budget, or NULL */
    bool cookie_unsettled; /* a session cookie the cache does not know */
};

/* Per-IP rules count a client under proxy_budget_key(ip): IPv6 by its
 * /64 (GATEHOUSE_IPV6_PREFIX). */

/** ip's key as per-IP rules count it (proxy_budget_key). */
void guard_ip_key(const char *ip, char out[PROXY_KEY_MAX]);

/** Spends the budgets q asks for (its class's rules, the per-IP refresh
 *  budget for an unsettled cookie, the user's API budget). Refused:
 *  whatever was taken for the earlier rules is given back. Any thread. */
void guard_admit(const struct guard_request *q, struct guard_decision *d);

/** True when q's admission should wait for the loop's batch (budgets
 *  shared through Redis, and q spends one). */
bool guard_wants_batch(const struct guard_request *q);

/** guard_admit for n requests at once (one Redis round trip for all; each
 *  request all or nothing). Loop thread. */
void guard_admit_batch(const struct guard_request *qs, int n, struct guard_decision *ds);

/** Takes one unit of each rule for its subject, in order; if one refuses,
 *  gives back what was taken. subjects[i] NULL: skip rules[i]. */
void guard_take(const enum limit_rule *rules, const char *const *subjects, int n,
                struct guard_decision *d);

/** The sign-in budgets (per client IP + address, per client IP) for
 *  email_key, spent on a worker by a route that checks a password without
 *  being the sign-in route (POST /v1/password). guard_take's contract. */
void guard_take_signin(const char *ip, const char *email_key, struct guard_decision *d);

/** The refusal for an address locked by failed sign-ins for retry_after_s
 *  more seconds (rule_name "signin_lockout"), or the sign-in rule failing
 *  closed (res.unavailable) when limit_locked said so only because Redis is
 *  down (limit_unavailable()). */
void guard_locked(int64_t retry_after_s, struct guard_decision *d);

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
