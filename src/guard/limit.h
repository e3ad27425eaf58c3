/* Rate limits: GCRA (the generic cell rate algorithm) keyed by (rule,
 * subject), in this process's memory, or, with GATEHOUSE_REDIS_URL, in one
 * Redis that every replica shares (guard/limit_redis.h; decision 0010).
 * When Redis cannot answer, a rule either fails closed (the result is
 * "unavailable": the caller answers 503, nothing is processed) or falls
 * back to this process's memory, as GATEHOUSE_REDIS_FAILURE_SIGNIN / _API
 * say. The rest of this comment is about the in-process table, which is
 * also that fallback. A rule allows `count` requests per
 * `period` with bursts up to `count`; each key costs one timestamp (its
 * "theoretical arrival time"), so the table stays small and there is no
 * timer to sweep. Subjects are hashed with a per-process secret key before
 * they are stored: no email or IP sits in the table, and nobody can aim
 * collisions at a bucket. Any thread; every call is O(1) under one of 64
 * shard locks. The table owns all its memory; callers pass strings. */
#ifndef GH_GUARD_LIMIT_H
#define GH_GUARD_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/** The rules. Budgets come from gh_cfg.limits (defaults and variable names
 *  in core/config.c: GATEHOUSE_LIMIT_<RULE>="count/seconds"). */
enum limit_rule {
    LIMIT_SIGNIN_IP_ACCOUNT, /* sign-in per client IP + address: 5 per 15 min */
    LIMIT_SIGNIN_IP,         /* sign-in per client IP: 20 per 15 min */
    LIMIT_SIGNUP_IP,         /* sign-up per client IP: 5 per hour */
    LIMIT_REFRESH_SESSION,   /* refresh per session: 60 per min */
    LIMIT_EMAIL_ACCOUNT,     /* emailed links per address: 3 per hour */
    LIMIT_EMAIL_IP,          /* emailed links per client IP: 10 per hour */
    LIMIT_MFA_ACCOUNT,       /* wrong second-factor codes per account: 5 per 5 min */
    LIMIT_API_USER,          /* authenticated requests per user: 600 per min */
    LIMIT_LINK_IP,           /* emailed links redeemed per client IP: 30 per 15 min */
    LIMIT_MFA_IP,            /* second sign-in steps per client IP: 30 per 15 min */
    LIMIT_REFRESH_IP,        /* refreshes per client IP: 600 per min */
    LIMIT_VERIFY_IP,         /* gate checks not answered from memory as signed in: 3000 per min */
    LIMIT__COUNT
};

/** The rule's name in RateLimit headers and logs ("signin_ip", ...). */
const char *limit_rule_name(enum limit_rule rule);

struct limit_result {
    bool allowed;
    int limit;             /* the rule's count */
    int remaining;         /* requests left in the current burst */
    int64_t retry_after_s; /* when denied: seconds until one is allowed (>= 1) */
    int64_t reset_s;       /* seconds until the budget is whole again */
    int64_t period_s;      /* the rule's period */
    bool unavailable;      /* refused because the shared store (Redis) is down and the
                            * rule fails closed: answer 503, not 429; retry_after_s is
                            * when Redis is tried again */
};

/** Sets up the table and its hashing key, and Redis when configured (the
 *  vault must be loaded: the shared key hash is derived from it).
 *  GH_ERR_NOMEM; GH_ERR_CONFIG (logged) when Redis refuses us, or is
 *  unreachable in production (see limit_redis_init). */
enum gh_err limit_init(void) GH_WUR;
/** Frees the table. */
void limit_shutdown(void);

/** Takes one unit of rule's budget for subject (any string, NUL-terminated).
 *  When the budget is spent nothing is taken and res->allowed is false.
 *  With limits turned off (GATEHOUSE_RATE_LIMITS=off) always allows. */
void limit_take(enum limit_rule rule, const char *subject, struct limit_result *res);

/** Several rules for one request, all or nothing. */
#define LIMIT_ASK_MAX 4
struct limit_ask {
    int n;
    enum limit_rule rules[LIMIT_ASK_MAX];
    const char *subjects[LIMIT_ASK_MAX];
    /* out: every rule's result when all were allowed; else refused names the
     * first rule that refused and res[refused] is its result */
    struct limit_result res[LIMIT_ASK_MAX];
    int refused; /* -1: all allowed */
};

/** For each ask, takes all its rules or none (the same outcome as
 *  limit_take rule by rule, giving back on a refusal). With Redis, one
 *  atomic script per ask and one pipelined round trip for up to 32 asks: a
 *  loop admits all the requests it has read in one go. Any thread. */
void limit_take_all(struct limit_ask *asks, int nasks);

/** True when the budgets are shared through Redis (and limits are on). */
bool limit_shared(void);

/** Gives back one unit taken by limit_take (a request that turned out to
 *  be legitimate, e.g. a correct code). Never raises the budget above full. */
void limit_refund(enum limit_rule rule, const char *subject);

/** Forgets subject's use of rule (a successful sign-in clears its lockout). */
void limit_clear(enum limit_rule rule, const char *subject);

/* Lockout: consecutive failed password sign-ins per address
 * (GATEHOUSE_LOCKOUT_THRESHOLD, default 10). From the threshold on, each
 * failure locks the address for a delay that doubles (1 s, 2 s, 4 s, ...)
 * up to GATEHOUSE_LOCKOUT_MAX_DELAY; a success or a reset clears it. */
struct lockout_event {
    int failures;     /* consecutive failures so far */
    int64_t locked_s; /* > 0: this failure locked the address for that long */
    bool notify;      /* tell the owner (at most once an hour per address) */
};

/** True when the last limit_* call on this thread was refused only because
 *  Redis is down and the rule fails closed (for limit_locked, whose answer
 *  is a bool: a "locked" that is really an outage gets a 503). */
bool limit_unavailable(void);

/** True while subject is locked; *retry_after_s the seconds left. With
 *  Redis down and sign-in failing closed: true, and limit_unavailable(). */
bool limit_locked(const char *subject, int64_t *retry_after_s);
/** Records one failure for subject. */
void limit_lockout_failure(const char *subject, struct lockout_event *ev);
/** Forgets subject's failures (a correct password, a password reset). */
void limit_lockout_clear(const char *subject);

#endif
