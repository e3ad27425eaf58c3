/* The Redis backend behind guard/limit.h: the same GCRA budgets and lockout
 * state, kept in one Redis server that every replica talks to, so several
 * gatehouse processes share one budget (decision 0010).
 *
 * Every operation is one Lua script run (EVALSHA, EVAL after NOSCRIPT), so
 * it is atomic in Redis; the script reads the clock with Redis TIME, so
 * replicas with skewed clocks still agree. Keys are "gatehouse:limit:" and
 * 32 hex digits of a keyed BLAKE2b of (rule, subject), with a key derived
 * from the master key (all replicas share it; no address or IP is stored)
 * and a PEXPIRE so a key vanishes when its budget is whole again.
 *
 * The event loops admit the requests they read in one pass together
 * (limit_redis_take_multi: one script run, one round trip, for up to 32).
 * Each thread keeps its own blocking connection with tight connect and
 * command timeouts (GATEHOUSE_REDIS_TIMEOUT_MS). A failure marks Redis down
 * for the whole process: it is logged once, calls then fail at once
 * without touching the network, and one call per backoff interval (250 ms
 * doubling to 5 s) tries again; the first success logs the recovery. Only
 * guard/limit.c calls this; it decides what an outage means for a rule. */
#ifndef GH_GUARD_LIMIT_REDIS_H
#define GH_GUARD_LIMIT_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define LIMIT_REDIS_HOST_MAX 255
#define LIMIT_REDIS_USER_MAX 127

/** Where Redis is, from GATEHOUSE_REDIS_URL. host[0] == '\0': no Redis. */
struct limit_redis_target {
    char host[LIMIT_REDIS_HOST_MAX + 1]; /* name, IPv4 or IPv6 (no brackets) */
    int port;                            /* 6379 unless given */
    int db;                              /* SELECT; 0 unless given */
    char user[LIMIT_REDIS_USER_MAX + 1]; /* ACL user ("": AUTH with the password alone) */
};

/** The Redis settings: parsed and checked at start by guard/guard_config.c,
 *  then read-only (any thread). password is heap, wiped by
 *  guard_config_free(). */
struct limit_redis_config {
    struct limit_redis_target target; /* GATEHOUSE_REDIS_URL; host "": every budget local */
    char *password;                   /* in the URL or GATEHOUSE_REDIS_PASSWORD(_FILE) */
    int timeout_ms;                   /* GATEHOUSE_REDIS_TIMEOUT_MS */
    bool closed_signin;               /* GATEHOUSE_REDIS_FAILURE_SIGNIN=closed (default) */
    bool closed_api;                  /* GATEHOUSE_REDIS_FAILURE_API=closed (default local) */
};
extern struct limit_redis_config limit_redis_cfg;

/** Parses redis://[[user]:password@]host[:port][/db] (host may be [v6];
 *  user and password percent-decoded). *password gets a heap copy of the
 *  password (free with gh_free_secret_str) or NULL when the URL has none.
 *  GH_ERR_INVALID with a message in err that never quotes the URL (it may
 *  hold the password). Pure: no I/O. */
enum gh_err limit_redis_parse_url(const char *url, struct limit_redis_target *out, char **password,
                                  char *err, size_t errlen) GH_WUR;

/** Connects once to limit_redis_cfg.target (when set): derives the key hash from the
 *  vault (load it first), checks AUTH, SELECT and that scripts run.
 *  GH_ERR_CONFIG (logged) when Redis answers but refuses us (wrong password,
 *  missing permission, no such database), or, in production only, when it
 *  cannot be reached; in development an unreachable Redis is a warning and
 *  the outage behaviour applies until it comes. GH_OK when no Redis is set. */
enum gh_err limit_redis_init(void) GH_WUR;
/** Closes the calling thread's connection and wipes the key. */
void limit_redis_shutdown(void);
/** True when a Redis URL is configured (whether or not it is up). */
bool limit_redis_enabled(void);
/** 1 while Redis answers, 0 during an outage, -1 when none is configured. */
int limit_redis_up(void);
/** Seconds until the next reconnection attempt while Redis is down (>= 1). */
int64_t limit_redis_retry_after_s(void);

/* Each of these returns GH_OK, or GH_ERR_INTERNAL when Redis could not
 * answer (down, timed out, or an error reply): the caller decides. rule is
 * the limit_rule (or the lockout pseudo-rule) that goes into the key. */

/** GCRA take: step_us per request, period_us the burst window. *allowed,
 *  and *delta_us = TAT - now after the take (allowed) or before (refused). */
enum gh_err limit_redis_take(unsigned rule, const char *subject, int64_t step_us, int64_t period_us,
                             bool *allowed, int64_t *delta_us) GH_WUR;
/** Gives back step_us (the key goes once the budget is whole). */
enum gh_err limit_redis_refund(unsigned rule, const char *subject, int64_t step_us) GH_WUR;
/** Deletes the key. */
enum gh_err limit_redis_clear(unsigned rule, const char *subject) GH_WUR;
/** Lockout: *left_us > 0 while subject is locked. */
enum gh_err limit_redis_locked(unsigned rule, const char *subject, int64_t *left_us) GH_WUR;
/** Lockout: counts a failure; from threshold on, locks for a doubling delay
 *  (1 s, 2 s, ...) up to max_delay_s; the state is forgotten memory_us after
 *  the last failure. *notify at most once an hour per subject. */
enum gh_err limit_redis_failure(unsigned rule, const char *subject, int threshold,
                                int64_t max_delay_s, int64_t memory_us, int *failures,
                                int64_t *locked_s, bool *notify) GH_WUR;

#define LIMIT_REDIS_MULTI_MAX 4  /* rules in one request's all-or-nothing take */
#define LIMIT_REDIS_BATCH_MAX 32 /* requests in one pipelined round trip */

/** One request's rules, taken all or nothing in one script run. */
struct limit_redis_multi {
    int n;
    unsigned rules[LIMIT_REDIS_MULTI_MAX];
    const char *subjects[LIMIT_REDIS_MULTI_MAX];
    int64_t step_us[LIMIT_REDIS_MULTI_MAX], period_us[LIMIT_REDIS_MULTI_MAX];
    /* out */
    bool allowed;
    int refused;                             /* -1, or the rule that refused */
    int64_t delta_us[LIMIT_REDIS_MULTI_MAX]; /* TAT - now: after the take (allowed), or
                                              * before, for the refusing rule */
    void *reply;                             /* private */
};

/** Takes the rules of n requests (n <= LIMIT_REDIS_BATCH_MAX) in one
 *  script run (one round trip); each request gets all its rules or none,
 *  in order, so two requests of one subject in a batch see each other.
 *  GH_ERR_INTERNAL: Redis could not answer, for all of them. */
enum gh_err limit_redis_take_multi(struct limit_redis_multi *items, int n) GH_WUR;

#endif
