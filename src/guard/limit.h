/* Rate limits: GCRA (the generic cell rate algorithm) keyed by (rule,
 * subject), in this process's memory. A rule allows `count` requests per
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

/** The rules. Their budgets are in limit.c (rules[]). */
enum limit_rule {
    LIMIT_MFA_ACCOUNT, /* second-factor codes per account: 5 per 5 min */
    LIMIT__COUNT
};

struct limit_result {
    bool allowed;
    int limit;             /* the rule's count */
    int remaining;         /* requests left in the current burst */
    int64_t retry_after_s; /* when denied: seconds until one is allowed (>= 1) */
    int64_t reset_s;       /* seconds until the budget is whole again */
    int64_t period_s;      /* the rule's period */
};

/** Sets up the table and its hashing key. GH_ERR_NOMEM on failure. */
enum gh_err limit_init(void) GH_WUR;
/** Frees the table. */
void limit_shutdown(void);

/** Takes one unit of rule's budget for subject (any string, NUL-terminated).
 *  When the budget is spent nothing is taken and res->allowed is false.
 *  With limits turned off (GATEHOUSE_RATE_LIMITS=off) always allows. */
void limit_take(enum limit_rule rule, const char *subject, struct limit_result *res);

/** Gives back one unit taken by limit_take (a request that turned out to
 *  be legitimate, e.g. a correct code). Never raises the budget above full. */
void limit_refund(enum limit_rule rule, const char *subject);

/** Forgets subject's use of rule (a successful sign-in clears its lockout). */
void limit_clear(enum limit_rule rule, const char *subject);

#endif
