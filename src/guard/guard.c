#include "guard/guard.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/email.h"
#include "core/config.h"
#include "core/util.h"
#include "guard/limit_redis.h"
#include "guard/proxy.h"
#include "store/store.h"

bool guard_take(struct gh_req *r, const enum limit_rule *rules, const char *const *subjects, int n)
{
    struct limit_result res, tightest = {0};
    enum limit_rule tight_rule = LIMIT__COUNT;
    for (int i = 0; i < n; i++) {
        if (!subjects[i]) continue;
        limit_take(rules[i], subjects[i], &res);
        if (!res.allowed) {
            for (int k = 0; k < i; k++)
                if (subjects[k]) limit_refund(rules[k], subjects[k]);
            gh_reply_limited(r, rules[i], &res);
            return false;
        }
        if (tight_rule == LIMIT__COUNT || res.remaining < tightest.remaining)
            tightest = res, tight_rule = rules[i];
    }
    if (tight_rule != LIMIT__COUNT) { /* RateLimit fields on admitted replies too */
        r->rl_name = limit_rule_name(tight_rule);
        r->rl = tightest;
    }
    return true;
}

/* The address a request names, as its account key: normalised when it is
 * an address, else what was typed (so junk still shares one budget). */
static void account_key(struct gh_req *r, char key[STORE_EMAIL_MAX + 1])
{
    json_t *e = r->body ? json_object_get(r->body, "email") : NULL;
    const char *s = json_is_string(e) ? json_string_value(e) : "";
    size_t len = json_is_string(e) ? json_string_length(e) : 0;
    char norm[STORE_EMAIL_MAX + 1];
    if (email_normalize(s, len, norm, key) != GH_OK)
        snprintf(key, STORE_EMAIL_MAX + 1, "%.*s",
                 (int)(len < STORE_EMAIL_MAX ? len : STORE_EMAIL_MAX), s);
}

void guard_ip_key(const struct gh_req *r, char out[PROXY_KEY_MAX])
{
    proxy_budget_key(r->ip, gh_cfg.ipv6_prefix, out);
}

bool guard_admit_user(struct gh_req *r)
{
    if (!r->authed || r->api_admitted) return true;
    r->api_admitted = true;
    const enum limit_rule rules[] = {LIMIT_API_USER};
    const char *subjects[] = {r->ident.user_id};
    return guard_take(r, rules, subjects, 1);
}

/* The sign-in budgets' subject per client IP + address (one place, so
 * sign-in and the password change share the budget). */
static void signin_pair(char *pair, size_t cap, const char *ip_key, const char *key)
{
    snprintf(pair, cap, "%s\n%s", ip_key, key);
}

bool guard_take_signin(struct gh_req *r, const char *email_key)
{
    char pair[STORE_EMAIL_MAX + PROXY_KEY_MAX + 4], ip[PROXY_KEY_MAX];
    guard_ip_key(r, ip); /* IPv6 by its prefix, as at sign-in */
    signin_pair(pair, sizeof pair, ip, email_key);
    const enum limit_rule rules[] = {LIMIT_SIGNIN_IP_ACCOUNT, LIMIT_SIGNIN_IP};
    const char *subjects[] = {pair, ip};
    bool ok = guard_take(r, rules, subjects, 2);
    gh_wipe(pair, sizeof pair);
    return ok;
}

/* Room for the subjects a request's rules are keyed by. */
struct subjects {
    char key[STORE_EMAIL_MAX + 1], pair[STORE_EMAIL_MAX + PROXY_KEY_MAX + 4];
    char ip[PROXY_KEY_MAX]; /* the client's budget key */
};

/* The rules r's route spends, then the user's API budget when it is known
 * and not yet spent (marked spent). Returns how many (at most 3). */
static int route_rules(struct gh_req *r, struct subjects *s, enum limit_rule *rules,
                       const char **subjects)
{
    int n = 0;
    guard_ip_key(r, s->ip);
    switch (r->route->guard) {
    case GUARD_SIGNIN:
        account_key(r, s->key);
        signin_pair(s->pair, sizeof s->pair, s->ip, s->key);
        rules[n] = LIMIT_SIGNIN_IP_ACCOUNT, subjects[n++] = s->pair;
        rules[n] = LIMIT_SIGNIN_IP, subjects[n++] = s->ip;
        break;
    case GUARD_SIGNUP:
        rules[n] = LIMIT_SIGNUP_IP, subjects[n++] = s->ip;
        break;
    case GUARD_EMAIL:
        account_key(r, s->key);
        rules[n] = LIMIT_EMAIL_ACCOUNT, subjects[n++] = s->key;
        rules[n] = LIMIT_EMAIL_IP, subjects[n++] = s->ip;
        break;
    case GUARD_LINK:
        rules[n] = LIMIT_LINK_IP, subjects[n++] = s->ip;
        break;
    case GUARD_MFA:
        rules[n] = LIMIT_MFA_IP, subjects[n++] = s->ip;
        break;
    case GUARD_REFRESH:
        rules[n] = LIMIT_REFRESH_IP, subjects[n++] = s->ip;
        break;
    default:
        break;
    }
    /* A session cookie the cache does not know costs a database read on a
     * worker, and anyone can make one up: it spends the per-IP refresh
     * budget, as presenting that refresh token to /v1/token would. */
    if (r->cookie_auth && !r->authed && r->route->guard == GUARD_NONE)
        rules[n] = LIMIT_REFRESH_IP, subjects[n++] = s->ip;
    if (r->authed && !r->api_admitted) {
        r->api_admitted = true;
        rules[n] = LIMIT_API_USER, subjects[n++] = r->ident.user_id;
    }
    return n;
}

bool guard_admit(struct gh_req *r)
{
    struct subjects s;
    enum limit_rule rules[LIMIT_ASK_MAX];
    const char *subjects[LIMIT_ASK_MAX];
    int n = route_rules(r, &s, rules, subjects);
    return n == 0 || guard_take(r, rules, subjects, n);
}

bool guard_wants_batch(const struct gh_req *r)
{
    return limit_shared() && (r->route->guard != GUARD_NONE || (r->authed && !r->api_admitted) ||
                              (r->cookie_auth && !r->authed));
}

void guard_admit_batch(struct gh_req **rs, int n, bool *admitted)
{
    struct subjects *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    struct limit_ask *asks = calloc((size_t)(n > 0 ? n : 1), sizeof *asks);
    if (!s || !asks) { /* one by one, then */
        free(s);
        free(asks);
        for (int i = 0; i < n; i++)
            admitted[i] = guard_admit(rs[i]);
        return;
    }
    for (int i = 0; i < n; i++)
        asks[i].n = route_rules(rs[i], &s[i], asks[i].rules, asks[i].subjects);
    limit_take_all(asks, n);
    for (int i = 0; i < n; i++) {
        struct gh_req *r = rs[i];
        struct limit_ask *a = &asks[i];
        admitted[i] = a->refused < 0;
        if (!admitted[i]) {
            gh_reply_limited(r, a->rules[a->refused], &a->res[a->refused]);
            continue;
        }
        int t = -1; /* RateLimit fields for the rule closest to its end */
        for (int k = 0; k < a->n; k++)
            if (t < 0 || a->res[k].remaining < a->res[t].remaining) t = k;
        if (t >= 0) {
            r->rl_name = limit_rule_name(a->rules[t]);
            r->rl = a->res[t];
        }
    }
    gh_wipe(s, (size_t)n * sizeof *s); /* typed addresses */
    free(s);
    free(asks);
}

void guard_reply_locked(struct gh_req *r, int64_t retry_after_s)
{
    if (limit_unavailable()) { /* not a lock: Redis is down and sign-in fails closed */
        struct limit_result res = {.unavailable = true, .retry_after_s = retry_after_s};
        gh_reply_limited(r, LIMIT_SIGNIN_IP_ACCOUNT, &res);
        return;
    }
    r->rl_name = "signin_lockout";
    r->rl = (struct limit_result){.allowed = false,
                                  .limit = gh_cfg.lockout_threshold,
                                  .remaining = 0,
                                  .retry_after_s = retry_after_s,
                                  .reset_s = retry_after_s,
                                  .period_s = gh_cfg.lockout_max_delay};
    gh_fail_msg(r, GH_E_RATE_LIMITED,
                "Too many failed sign-ins for this address; try again later, or reset the "
                "password.");
}

/* One counter per rule and one for the lockout: relaxed atomics, read only
 * by /metrics. */
static _Atomic uint64_t refused[LIMIT__COUNT + 1];

void guard_count_refused(const char *rule)
{
    int i = LIMIT__COUNT; /* signin_lockout */
    for (int k = 0; k < LIMIT__COUNT; k++)
        if (strcmp(rule, limit_rule_name((enum limit_rule)k)) == 0) i = k;
    atomic_fetch_add_explicit(&refused[i], 1, memory_order_relaxed);
}

uint64_t guard_refused_total(int i, const char **rule)
{
    *rule = i < LIMIT__COUNT ? limit_rule_name((enum limit_rule)i) : "signin_lockout";
    return atomic_load_explicit(&refused[i], memory_order_relaxed);
}

size_t guard_metrics(char *buf, size_t cap)
{
    size_t o = 0;
    int n = snprintf(buf, cap,
                     "# HELP gatehouse_rate_limited_total Requests refused with 429, by rule.\n"
                     "# TYPE gatehouse_rate_limited_total counter\n");
    for (int i = 0; n >= 0 && i <= LIMIT__COUNT; i++) {
        o += (size_t)n < cap - o ? (size_t)n : cap - 1 - o;
        const char *rule;
        uint64_t count = guard_refused_total(i, &rule);
        n = snprintf(buf + o, cap - o, "gatehouse_rate_limited_total{rule=\"%s\"} %llu\n", rule,
                     (unsigned long long)count);
    }
    if (n >= 0) o += (size_t)n < cap - o ? (size_t)n : cap - 1 - o;
    n = snprintf(buf + o, cap - o,
                 "# HELP gatehouse_redis_up Shared rate limits: 1 Redis answers, 0 outage, -1 not "
                 "configured.\n"
                 "# TYPE gatehouse_redis_up gauge\n"
                 "gatehouse_redis_up %d\n",
                 limit_redis_up());
    if (n >= 0) o += (size_t)n < cap - o ? (size_t)n : cap - 1 - o;
    return o;
}
