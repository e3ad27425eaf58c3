#include "guard/limit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/config.h"
#include "core/util.h"
#include "guard/limit_redis.h"

_Static_assert(LIMIT__COUNT <= GH_LIMIT_RULES, "gh_cfg.limits has a slot per rule");

static const char *const names[LIMIT__COUNT] = {
    [LIMIT_SIGNIN_IP_ACCOUNT] = "signin_ip_account",
    [LIMIT_SIGNIN_IP] = "signin_ip",
    [LIMIT_SIGNUP_IP] = "signup_ip",
    [LIMIT_REFRESH_SESSION] = "refresh_session",
    [LIMIT_EMAIL_ACCOUNT] = "email_account",
    [LIMIT_EMAIL_IP] = "email_ip",
    [LIMIT_MFA_ACCOUNT] = "mfa",
    [LIMIT_API_USER] = "api_user",
    [LIMIT_LINK_IP] = "link_ip",
    [LIMIT_MFA_IP] = "mfa_ip",
    [LIMIT_REFRESH_IP] = "refresh_ip",
    [LIMIT_VERIFY_IP] = "verify_ip",
};

const char *limit_rule_name(enum limit_rule rule)
{
    return rule < LIMIT__COUNT ? names[rule] : "?";
}

#define SHARDS 64
#define SHARD_MAX 4096 /* keys per shard: 262,144 in all, ~10 MiB at worst */
#define KEY_BYTES 16

struct entry {
    uint8_t key[KEY_BYTES];
    int64_t tat_us;      /* theoretical arrival time; <= now means a full budget
                          * (a lockout entry: when it may be forgotten) */
    int64_t until_us;    /* lockout: locked until */
    int64_t notified_us; /* lockout: when the owner was last told */
    int failures;        /* lockout: consecutive failures */
    struct entry *next;
};

/* Lockout entries share the table (and Redis's key space) under a rule
 * byte no GCRA rule uses. Fixed, not LIMIT__COUNT: a new rule must not
 * take over the lockout's Redis keys (a hash where a rule keeps a string). */
#define LOCKOUT_RULE 0xffu
_Static_assert(LIMIT__COUNT < LOCKOUT_RULE, "rules and the lockout keep apart");
#define LOCKOUT_MEMORY_US (24LL * 3600 * 1000000) /* failures are forgotten after a quiet day */

struct shard {
    pthread_mutex_t mu;
    struct entry *head[256];
    int n;
};

static struct shard *shards;
static uint8_t hash_key[crypto_generichash_KEYBYTES];

enum gh_err limit_init(void)
{
    shards = calloc(SHARDS, sizeof *shards);
    if (!shards) return GH_ERR_NOMEM;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&shards[i].mu, NULL);
    randombytes_buf(hash_key, sizeof hash_key);
    enum gh_err rc = limit_redis_init();
    if (rc) limit_shutdown();
    return rc;
}

void limit_shutdown(void)
{
    limit_redis_shutdown();
    if (!shards) return;
    for (int i = 0; i < SHARDS; i++) {
        for (int b = 0; b < 256; b++)
            for (struct entry *e = shards[i].head[b], *n; e; e = n) {
                n = e->next;
                free(e);
            }
        pthread_mutex_destroy(&shards[i].mu);
    }
    free(shards);
    shards = NULL;
    sodium_memzero(hash_key, sizeof hash_key);
}

static void key_of(enum limit_rule rule, const char *subject, uint8_t key[KEY_BYTES])
{
    crypto_generichash_state st;
    uint8_t r = (uint8_t)rule;
    crypto_generichash_init(&st, hash_key, sizeof hash_key, KEY_BYTES);
    crypto_generichash_update(&st, &r, 1);
    crypto_generichash_update(&st, (const uint8_t *)subject, strlen(subject));
    crypto_generichash_final(&st, key, KEY_BYTES);
}

/* Drops every key whose budget is whole again (losing them changes
 * nothing); if none is, the one closest to whole, so a flood of new
 * subjects can never make the table refuse or grow without bound. */
static void make_room(struct shard *s, int64_t now)
{
    struct entry **victim = NULL;
    int64_t oldest = INT64_MAX;
    for (int b = 0; b < 256; b++)
        for (struct entry **pp = &s->head[b]; *pp;) {
            struct entry *e = *pp;
            if (e->tat_us <= now) {
                *pp = e->next;
                free(e);
                s->n--;
                continue;
            }
            if (e->tat_us < oldest) oldest = e->tat_us, victim = pp;
            pp = &e->next;
        }
    if (s->n >= SHARD_MAX && victim) {
        struct entry *e = *victim;
        *victim = e->next;
        free(e);
        s->n--;
    }
}

static struct entry **find(struct shard *s, const uint8_t key[KEY_BYTES])
{
    struct entry **pp = &s->head[key[1]];
    while (*pp && sodium_memcmp((*pp)->key, key, KEY_BYTES) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* A new entry for key (the shard locked; room made first if full). */
static struct entry *insert(struct shard *s, const uint8_t key[KEY_BYTES], int64_t now)
{
    if (s->n >= SHARD_MAX) make_room(s, now);
    struct entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->key, key, KEY_BYTES);
    struct entry **pp = find(s, key);
    *pp = e;
    s->n++;
    return e;
}

/* The GCRA step at time now (microseconds, monotonic). */
static void take_at(enum limit_rule rule, const char *subject, int64_t now,
                    struct limit_result *res)
{
    const struct gh_limit_rule *d = &gh_cfg.limits[rule];
    int64_t period = d->period_s * 1000000, t = period / d->count;
    memset(res, 0, sizeof *res);
    res->limit = d->count;
    res->period_s = d->period_s;
    if (!gh_cfg.rate_limits) {
        res->allowed = true;
        res->remaining = d->count;
        return;
    }
    uint8_t key[KEY_BYTES];
    key_of(rule, subject, key);
    struct shard *s = &shards[key[0] % SHARDS];
    pthread_mutex_lock(&s->mu);
    struct entry **pp = find(s, key), *e = *pp;
    int64_t tat = e && e->tat_us > now ? e->tat_us : now, next = tat + t;
    if (next - now > period) { /* over budget: nothing taken */
        res->retry_after_s = (next - period - now + 999999) / 1000000;
        if (res->retry_after_s < 1) res->retry_after_s = 1;
        res->reset_s = (tat - now + 999999) / 1000000;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (!e && !(e = insert(s, key, now))) { /* fail closed: no memory, no request */
        pthread_mutex_unlock(&s->mu);
        res->retry_after_s = 1;
        return;
    }
    e->tat_us = next;
    pthread_mutex_unlock(&s->mu);
    res->allowed = true;
    res->remaining = (int)((period - (next - now)) / t);
    res->reset_s = (next - now + 999999) / 1000000;
}

/* ---- the Redis path, and what an outage means ---- */

static _Thread_local bool last_unavailable;

bool limit_unavailable(void)
{
    return last_unavailable;
}

/* Whether a rule refuses (true) or uses this process's table while Redis
 * is down. Lockout (LOCKOUT_RULE) goes with sign-in. */
static bool fails_closed(unsigned rule)
{
    return rule == LIMIT_API_USER || rule == LIMIT_REFRESH_SESSION || rule == LIMIT_REFRESH_IP ||
                   rule == LIMIT_VERIFY_IP
               ? limit_redis_cfg.closed_api
               : limit_redis_cfg.closed_signin;
}

static void refuse_unavailable(enum limit_rule rule, struct limit_result *res)
{
    const struct gh_limit_rule *d = &gh_cfg.limits[rule];
    memset(res, 0, sizeof *res);
    res->limit = d->count;
    res->period_s = d->period_s;
    res->unavailable = true;
    res->retry_after_s = limit_redis_retry_after_s();
    res->reset_s = res->retry_after_s;
    last_unavailable = true;
}

/* A result from Redis's answer: delta = TAT - now after the take
 * (allowed), or before it (refused). */
static void redis_result(enum limit_rule rule, bool ok, int64_t delta, struct limit_result *res)
{
    const struct gh_limit_rule *d = &gh_cfg.limits[rule];
    int64_t period = d->period_s * 1000000, t = period / d->count;
    memset(res, 0, sizeof *res);
    res->limit = d->count;
    res->period_s = d->period_s;
    res->allowed = ok;
    if (ok) {
        res->remaining = (int)((period - delta) / t);
        res->reset_s = (delta + 999999) / 1000000;
    } else { /* one more fits at TAT + t - period */
        res->retry_after_s = (delta + t - period + 999999) / 1000000;
        if (res->retry_after_s < 1) res->retry_after_s = 1;
        res->reset_s = (delta + 999999) / 1000000;
    }
}

bool limit_shared(void)
{
    return gh_cfg.rate_limits && limit_redis_enabled();
}

void limit_take(enum limit_rule rule, const char *subject, struct limit_result *res)
{
    last_unavailable = false;
    if (gh_cfg.rate_limits && limit_redis_enabled()) {
        const struct gh_limit_rule *d = &gh_cfg.limits[rule];
        int64_t period = d->period_s * 1000000, t = period / d->count, delta;
        bool ok;
        if (limit_redis_take(rule, subject, t, period, &ok, &delta) == GH_OK) {
            redis_result(rule, ok, delta, res);
            return;
        }
        if (fails_closed(rule)) {
            refuse_unavailable(rule, res);
            return;
        }
    }
    take_at(rule, subject, gh_mono_us(), res);
}

static void adjust(enum limit_rule rule, const char *subject, bool clear)
{
    if (!gh_cfg.rate_limits) return;
    int64_t t = 0;
    if (!clear) {
        const struct gh_limit_rule *d = &gh_cfg.limits[rule];
        t = d->period_s * 1000000 / d->count;
    }
    uint8_t key[KEY_BYTES];
    key_of(rule, subject, key);
    struct shard *s = &shards[key[0] % SHARDS];
    pthread_mutex_lock(&s->mu);
    struct entry **pp = find(s, key), *e = *pp;
    if (e && clear) {
        *pp = e->next;
        free(e);
        s->n--;
    } else if (e) {
        e->tat_us -= t; /* at or below now: the budget is whole */
    }
    pthread_mutex_unlock(&s->mu);
}

/* An ask against this process's table, rule by rule, giving back on a
 * refusal. */
static void ask_local(struct limit_ask *a)
{
    a->refused = -1;
    for (int i = 0; i < a->n; i++) {
        take_at(a->rules[i], a->subjects[i], gh_mono_us(), &a->res[i]);
        if (!a->res[i].allowed) {
            for (int k = 0; k < i; k++)
                adjust(a->rules[k], a->subjects[k], false);
            a->refused = i;
            return;
        }
    }
}

void limit_take_all(struct limit_ask *asks, int nasks)
{
    last_unavailable = false;
    if (!limit_shared()) {
        for (int i = 0; i < nasks; i++)
            ask_local(&asks[i]);
        return;
    }
    for (int base = 0; base < nasks; base += LIMIT_REDIS_BATCH_MAX) {
        int m = nasks - base < LIMIT_REDIS_BATCH_MAX ? nasks - base : LIMIT_REDIS_BATCH_MAX;
        /* asks without rules are not sent */
        struct limit_redis_multi packed[LIMIT_REDIS_BATCH_MAX];
        int idx[LIMIT_REDIS_BATCH_MAX], ns = 0;
        _Static_assert(LIMIT_ASK_MAX <= LIMIT_REDIS_MULTI_MAX, "an ask fits one script run");
        for (int i = 0; i < m; i++) {
            struct limit_ask *a = &asks[base + i];
            a->refused = -1;
            if (a->n <= 0) continue;
            struct limit_redis_multi *it = &packed[ns];
            it->n = a->n;
            for (int k = 0; k < a->n; k++) {
                const struct gh_limit_rule *d = &gh_cfg.limits[a->rules[k]];
                it->rules[k] = a->rules[k];
                it->subjects[k] = a->subjects[k];
                it->period_us[k] = d->period_s * 1000000;
                it->step_us[k] = it->period_us[k] / d->count;
            }
            idx[ns++] = i;
        }
        enum gh_err rc = limit_redis_take_multi(packed, ns);
        for (int j = 0; j < ns; j++) {
            struct limit_ask *a = &asks[base + idx[j]];
            if (rc == GH_OK) {
                if (packed[j].allowed) {
                    for (int k = 0; k < a->n; k++)
                        redis_result(a->rules[k], true, packed[j].delta_us[k], &a->res[k]);
                } else {
                    int f = packed[j].refused;
                    redis_result(a->rules[f], false, packed[j].delta_us[f], &a->res[f]);
                    a->refused = f;
                }
                continue;
            }
            /* Redis could not answer: the first rule that fails closed
             * refuses; if none does, this process's table decides. */
            int f = -1;
            for (int k = 0; k < a->n && f < 0; k++)
                if (fails_closed(a->rules[k])) f = k;
            if (f >= 0) {
                refuse_unavailable(a->rules[f], &a->res[f]);
                a->refused = f;
            } else {
                ask_local(a);
            }
        }
    }
}

/* Refunds and clears during an outage: a closed rule loses them (the
 * budget stays spent, the safe side); a local one applies them locally. */
void limit_refund(enum limit_rule rule, const char *subject)
{
    last_unavailable = false;
    if (gh_cfg.rate_limits && limit_redis_enabled()) {
        const struct gh_limit_rule *d = &gh_cfg.limits[rule];
        if (limit_redis_refund(rule, subject, d->period_s * 1000000 / d->count) == GH_OK ||
            fails_closed(rule))
            return;
    }
    adjust(rule, subject, false);
}

void limit_clear(enum limit_rule rule, const char *subject)
{
    last_unavailable = false;
    if (gh_cfg.rate_limits && limit_redis_enabled() &&
        (limit_redis_clear(rule, subject) == GH_OK || fails_closed(rule)))
        return;
    adjust(rule, subject, true);
}

/* ---- lockout ---- */

static bool lockout_on(void)
{
    return gh_cfg.rate_limits && gh_cfg.lockout_threshold > 0;
}

static bool locked_at(const char *subject, int64_t now, int64_t *retry_after_s)
{
    *retry_after_s = 0;
    if (!lockout_on()) return false;
    uint8_t key[KEY_BYTES];
    key_of(LOCKOUT_RULE, subject, key);
    struct shard *s = &shards[key[0] % SHARDS];
    pthread_mutex_lock(&s->mu);
    struct entry *e = *find(s, key);
    if (e && e->until_us > now) *retry_after_s = (e->until_us - now + 999999) / 1000000;
    pthread_mutex_unlock(&s->mu);
    return *retry_after_s > 0;
}

bool limit_locked(const char *subject, int64_t *retry_after_s)
{
    last_unavailable = false;
    if (lockout_on() && limit_redis_enabled()) {
        int64_t left;
        if (limit_redis_locked(LOCKOUT_RULE, subject, &left) == GH_OK) {
            *retry_after_s = (left + 999999) / 1000000;
            return left > 0;
        }
        if (fails_closed(LOCKOUT_RULE)) {
            *retry_after_s = limit_redis_retry_after_s();
            last_unavailable = true;
            return true;
        }
    }
    return locked_at(subject, gh_mono_us(), retry_after_s);
}

/* 1 s at the threshold, doubling with each further failure, at most
 * gh_cfg.lockout_max_delay: an attacker can slow an account's password
 * sign-in down, never close it. */
static void failure_at(const char *subject, int64_t now, struct lockout_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (!lockout_on()) return;
    uint8_t key[KEY_BYTES];
    key_of(LOCKOUT_RULE, subject, key);
    struct shard *s = &shards[key[0] % SHARDS];
    pthread_mutex_lock(&s->mu);
    struct entry *e = *find(s, key);
    if (!e && !(e = insert(s, key, now))) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    e->failures++;
    e->tat_us = now + LOCKOUT_MEMORY_US;
    ev->failures = e->failures;
    int over = e->failures - gh_cfg.lockout_threshold;
    if (over >= 0) {
        int64_t d = over >= 30 ? gh_cfg.lockout_max_delay : (int64_t)1 << over;
        if (d > gh_cfg.lockout_max_delay) d = gh_cfg.lockout_max_delay;
        e->until_us = now + d * 1000000;
        ev->locked_s = d;
        /* the owner hears of it at most once an hour */
        if (!e->notified_us || now - e->notified_us >= 3600LL * 1000000) {
            e->notified_us = now;
            ev->notify = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void limit_lockout_failure(const char *subject, struct lockout_event *ev)
{
    last_unavailable = false;
    if (lockout_on() && limit_redis_enabled()) {
        memset(ev, 0, sizeof *ev);
        if (limit_redis_failure(LOCKOUT_RULE, subject, gh_cfg.lockout_threshold,
                                gh_cfg.lockout_max_delay, LOCKOUT_MEMORY_US, &ev->failures,
                                &ev->locked_s, &ev->notify) == GH_OK)
            return;
        if (fails_closed(LOCKOUT_RULE)) { /* not counted: the sign-in was admitted before */
            last_unavailable = true;
            return;
        }
    }
    failure_at(subject, gh_mono_us(), ev);
}

void limit_lockout_clear(const char *subject)
{
    last_unavailable = false;
    if (!lockout_on()) return;
    if (limit_redis_enabled() &&
        (limit_redis_clear(LOCKOUT_RULE, subject) == GH_OK || fails_closed(LOCKOUT_RULE)))
        return;
    adjust(LOCKOUT_RULE, subject, true);
}
