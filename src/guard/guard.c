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

void guard_take(const enum limit_rule *rules, const char *const *subjects, int n,
                struct guard_decision *d)
{
    struct limit_result res, tightest = {0};
    enum limit_rule tight_rule = LIMIT__COUNT;
    for (int i = 0; i < n; i++) {
        if (!subjects[i]) continue;
        limit_take(rules[i], subjects[i], &res);
        if (!res.allowed) {
            for (int k = 0; k < i; k++)
                if (subjects[k]) limit_refund(rules[k], subjects[k]);
            *d = (struct guard_decision){false, rules[i], limit_rule_name(rules[i]), res};
            return;
        }
        if (tight_rule == LIMIT__COUNT || res.remaining < tightest.remaining)
            tightest = res, tight_rule = rules[i];
    }
    /* RateLimit fields on admitted replies too */
    *d = (struct guard_decision){true, tight_rule,
                                 tight_rule != LIMIT__COUNT ? limit_rule_name(tight_rule) : NULL,
                                 tightest};
}

/* The address a request names, as its account key: normalised when it is
 * an address, else what was typed (so junk still shares one budget). */
static void account_key(const json_t *body, char key[STORE_EMAIL_MAX + 1])
{
    json_t *e = body ? json_object_get(body, "email") : NULL;
    const char *s = json_is_string(e) ? json_string_value(e) : "";
    size_t len = json_is_string(e) ? json_string_length(e) : 0;
    char norm[STORE_EMAIL_MAX + 1];
    if (email_normalize(s, len, norm, key) != GH_OK)
        snprintf(key, STORE_EMAIL_MAX + 1, "%.*s",
                 (int)(len < STORE_EMAIL_MAX ? len : STORE_EMAIL_MAX), s);
}

void guard_ip_key(const char *ip, char out[PROXY_KEY_MAX])
{
    proxy_budget_key(ip, gh_cfg.ipv6_prefix, out);
}

/* The sign-in budgets' subject per client IP + address (one place, so
 * sign-in and the password change share the budget). */
static void signin_pair(char *pair, size_t cap, const char *ip_key, const char *key)
{
    snprintf(pair, cap, "%s\n%s", ip_key, key);
}

void guard_take_signin(const char *client_ip, const char *email_key, struct guard_decision *d)
{
    char pair[STORE_EMAIL_MAX + PROXY_KEY_MAX + 4], ip[PROXY_KEY_MAX];
    guard_ip_key(client_ip, ip); /* IPv6 by its prefix, as at sign-in */
    signin_pair(pair, sizeof pair, ip, email_key);
    const enum limit_rule rules[] = {LIMIT_SIGNIN_IP_ACCOUNT, LIMIT_SIGNIN_IP};
    const char *subjects[] = {pair, ip};
    guard_take(rules, subjects, 2, d);
    gh_wipe(pair, sizeof pair);
}

/* Room for the subjects a request's rules are keyed by. */
struct subjects {
    char key[STORE_EMAIL_MAX + 1], pair[STORE_EMAIL_MAX + PROXY_KEY_MAX + 4];
    char ip[PROXY_KEY_MAX]; /* the client's budget key */
};

/* The rules q spends: its class's, then the user's API budget when asked.
 * Returns how many (at most 3). */
static int route_rules(const struct guard_request *q, struct subjects *s, enum limit_rule *rules,
                       const char **subjects)
{
    int n = 0;
    guard_ip_key(q->ip, s->ip);
    switch (q->cls) {
    case GUARD_SIGNIN:
        account_key(q->body, s->key);
        signin_pair(s->pair, sizeof s->pair, s->ip, s->key);
        rules[n] = LIMIT_SIGNIN_IP_ACCOUNT, subjects[n++] = s->pair;
        rules[n] = LIMIT_SIGNIN_IP, subjects[n++] = s->ip;
        break;
    case GUARD_SIGNUP:
        rules[n] = LIMIT_SIGNUP_IP, subjects[n++] = s->ip;
        break;
    case GUARD_EMAIL:
        account_key(q->body, s->key);
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
    case GUARD_VERIFY:
        rules[n] = LIMIT_VERIFY_IP, subjects[n++] = s->ip;
        break;
    case GUARD_OAUTH:
        rules[n] = LIMIT_SIGNIN_IP, subjects[n++] = s->ip;
        break;
    default:
        break;
    }
    /* A session cookie the cache does not know costs a database read on a
     * worker, and anyone can make one up: it spends the per-IP refresh
     * budget, as presenting that refresh token to /v1/token would. */
    if (q->cookie_unsettled && q->cls == GUARD_NONE)
        rules[n] = LIMIT_REFRESH_IP, subjects[n++] = s->ip;
    if (q->user_id) rules[n] = LIMIT_API_USER, subjects[n++] = q->user_id;
    return n;
}

void guard_admit(const struct guard_request *q, struct guard_decision *d)
{
    struct subjects s;
    enum limit_rule rules[LIMIT_ASK_MAX];
    const char *subjects[LIMIT_ASK_MAX];
    int n = route_rules(q, &s, rules, subjects);
    if (n == 0)
        *d = (struct guard_decision){true, LIMIT__COUNT, NULL, {0}};
    else
        guard_take(rules, subjects, n, d);
}

bool guard_wants_batch(const struct guard_request *q)
{
    return limit_shared() && (q->cls != GUARD_NONE || q->user_id || q->cookie_unsettled);
}

void guard_admit_batch(const struct guard_request *qs, int n, struct guard_decision *ds)
{
    struct subjects *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    struct limit_ask *asks = calloc((size_t)(n > 0 ? n : 1), sizeof *asks);
    if (!s || !asks) { /* one by one, then */
        free(s);
        free(asks);
        for (int i = 0; i < n; i++)
            guard_admit(&qs[i], &ds[i]);
        return;
    }
    for (int i = 0; i < n; i++)
        asks[i].n = route_rules(&qs[i], &s[i], asks[i].rules, asks[i].subjects);
    limit_take_all(asks, n);
    for (int i = 0; i < n; i++) {
        struct limit_ask *a = &asks[i];
        if (a->refused >= 0) {
            ds[i] =
                (struct guard_decision){false, a->rules[a->refused],
                                        limit_rule_name(a->rules[a->refused]), a->res[a->refused]};
            continue;
        }
        int t = -1; /* RateLimit fields for the rule closest to its end */
        for (int k = 0; k < a->n; k++)
            if (t < 0 || a->res[k].remaining < a->res[t].remaining) t = k;
        ds[i] = t < 0 ? (struct guard_decision){true, LIMIT__COUNT, NULL, {0}}
                      : (struct guard_decision){true, a->rules[t], limit_rule_name(a->rules[t]),
                                                a->res[t]};
    }
    gh_wipe(s, (size_t)n * sizeof *s); /* typed addresses */
    free(s);
    free(asks);
}

void guard_locked(int64_t retry_after_s, struct guard_decision *d)
{
    if (limit_unavailable()) { /* not a lock: Redis is down and sign-in fails closed */
        struct limit_result res = {.unavailable = true, .retry_after_s = retry_after_s};
        *d = (struct guard_decision){false, LIMIT_SIGNIN_IP_ACCOUNT,
                                     limit_rule_name(LIMIT_SIGNIN_IP_ACCOUNT), res};
        return;
    }
    *d = (struct guard_decision){false, LIMIT__COUNT, "signin_lockout",
                                 (struct limit_result){.allowed = false,
                                                       .limit = gh_cfg.lockout_threshold,
                                                       .remaining = 0,
                                                       .retry_after_s = retry_after_s,
                                                       .reset_s = retry_after_s,
                                                       .period_s = gh_cfg.lockout_max_delay}};
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
