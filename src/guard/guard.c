#include "guard/guard.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "accounts/email.h"
#include "core/config.h"
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

bool guard_admit_user(struct gh_req *r)
{
    if (!r->authed || r->api_admitted) return true;
    r->api_admitted = true;
    const enum limit_rule rules[] = {LIMIT_API_USER};
    const char *subjects[] = {r->ident.user_id};
    return guard_take(r, rules, subjects, 1);
}

bool guard_admit(struct gh_req *r)
{
    char key[STORE_EMAIL_MAX + 1], pair[STORE_EMAIL_MAX + STORE_IP_MAX + 4];
    switch (r->route->guard) {
    case GUARD_SIGNIN: {
        account_key(r, key);
        snprintf(pair, sizeof pair, "%s\n%s", r->ip, key);
        const enum limit_rule rules[] = {LIMIT_SIGNIN_IP_ACCOUNT, LIMIT_SIGNIN_IP};
        const char *subjects[] = {pair, r->ip};
        if (!guard_take(r, rules, subjects, 2)) return false;
        break;
    }
    case GUARD_SIGNUP: {
        const enum limit_rule rules[] = {LIMIT_SIGNUP_IP};
        const char *subjects[] = {r->ip};
        if (!guard_take(r, rules, subjects, 1)) return false;
        break;
    }
    case GUARD_EMAIL: {
        account_key(r, key);
        const enum limit_rule rules[] = {LIMIT_EMAIL_ACCOUNT, LIMIT_EMAIL_IP};
        const char *subjects[] = {key, r->ip};
        if (!guard_take(r, rules, subjects, 2)) return false;
        break;
    }
    default:
        break;
    }
    return guard_admit_user(r);
}

void guard_reply_locked(struct gh_req *r, int64_t retry_after_s)
{
    r->rl_name = "signin_lockout";
    r->rl = (struct limit_result){.allowed = false,
                                  .limit = gh_cfg.lockout_threshold,
                                  .remaining = 0,
                                  .retry_after_s = retry_after_s,
                                  .reset_s = retry_after_s,
                                  .period_s = gh_cfg.lockout_max_delay};
    gh_reply_error(r, 429, "rate_limited",
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
