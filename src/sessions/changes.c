#include "sessions/changes.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "core/log.h"
#include "sessions/authcache.h"
#include "sessions/sessions_jobs.h"
#include "store/listen.h"

/* Written by changes_init (before the loops start) and then only by a
 * read of the feed, under poll_mu (the 1-s job on a worker and the
 * listener's wake-ups take turns); atomic so that changes_position reads
 * it from any thread. */
static _Atomic int64_t position;
static pthread_mutex_t poll_mu = PTHREAD_MUTEX_INITIALIZER;
static bool failing; /* under poll_mu: one log line per outage */

/* Fan-out (changes.h). Under link_mu, which also orders every change of
 * the cache's trust: a read that began before the link went down can
 * never give the trust back after the down took it. */
static pthread_mutex_t link_mu = PTHREAD_MUTEX_INITIALIZER;
static bool fanout;         /* a listener feeds us: trust is earned */
static bool link_up;        /* its LISTEN is in place */
static uint64_t link_epoch; /* moves at every up and down */

enum gh_err changes_init(const struct store_ops *ops, struct store_conn *c)
{
    int64_t seq = 0;
    enum gh_err rc = ops->events.max_seq(c, &seq);
    if (rc) return rc;
    atomic_store(&position, seq);
    failing = false;
    /* No listener yet (changes_listen_start): trusted, as with SQLite. */
    pthread_mutex_lock(&link_mu);
    fanout = link_up = false;
    link_epoch++;
    authcache_set_trusted(true);
    pthread_mutex_unlock(&link_mu);
    return GH_OK;
}

int64_t changes_position(void)
{
    return atomic_load(&position);
}

void changes_apply(const struct store_ops *ops, struct store_conn *c, const struct store_event *e)
{
    const char *uid = e->user_id, *sid = e->session_id;
    switch (e->kind) {
    case STORE_EV_ROLE_CHANGED:
        if (uid[0] && e->text[0]) authcache_set_user_role(uid, e->text);
        break;
    case STORE_EV_SESSION_REVOKED:
        if (sid[0]) authcache_revoke_session(sid);
        break;
    case STORE_EV_USER_SESSIONS_REVOKED:
        if (uid[0]) authcache_revoke_user_sessions(uid, sid[0] ? sid : NULL);
        break;
    case STORE_EV_TOKENS_INVALIDATED:
        if (uid[0]) authcache_set_user_tia(uid, e->value);
        break;
    case STORE_EV_SESSION_UNRESTRICTED:
        if (sid[0]) authcache_unrestrict_session(sid);
        break;
    case STORE_EV_SESSION_MFA:
        if (sid[0]) authcache_set_session_mfa(sid, e->value);
        break;
    case STORE_EV_USER_CHANGED:
        if (uid[0]) authcache_forget_user(uid);
        break;
    case STORE_EV_SIGNING_KEYS_CHANGED:
        /* The same reload as the periodic one: a removed key's tokens are
         * dropped from the cache, a new key is published. */
        sessions_job_reload_keys(ops, c);
        break;
    case STORE_EV_UNKNOWN:
    case STORE_EV_KIND_COUNT:
        gh_log(GH_LOG_WARN,
               "change feed: event %lld has a kind this version does not know; skipped",
               (long long)e->seq);
        break;
    }
}

/* One page of events after *at, applied in order; *at moves past each.
 * GH_ERR_NOT_FOUND when the page was the last one. */
static enum gh_err poll_page(const struct store_ops *ops, struct store_conn *c, int64_t *at,
                             size_t *applied)
{
    struct store_event ev[CHANGES_PAGE];
    size_t n = 0;
    enum gh_err rc = ops->events.since(c, *at, ev, CHANGES_PAGE, &n);
    if (rc) return rc;
    const char *self = store_origin();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].origin, self) != 0) {
            changes_apply(ops, c, &ev[i]);
            (*applied)++;
        }
        *at = ev[i].seq;
    }
    return n < CHANGES_PAGE ? GH_ERR_NOT_FOUND : GH_OK;
}

/* Withdraws the trust (link_mu held); logged once per spell. */
static void distrust(const char *why)
{
    if (authcache_trusted())
        gh_log(GH_LOG_WARN,
               "change feed: %s; the auth cache is bypassed (every check reads the "
               "database) until the feed has caught up",
               why);
    authcache_set_trusted(false);
}

/* One read of the feed (poll_mu held). The page cap spreads a backlog
 * over several seconds while the cache is trusted; an untrusted cache
 * reads to the end at once, since it is bypassed until then. */
static void poll_locked(const struct store_ops *ops, struct store_conn *c)
{
    pthread_mutex_lock(&link_mu);
    bool up = link_up, fan = fanout;
    uint64_t epoch = link_epoch;
    pthread_mutex_unlock(&link_mu);
    int64_t from = atomic_load(&position), at = from;
    size_t applied = 0;
    enum gh_err rc = GH_OK;
    bool to_end = fan && !authcache_trusted();
    for (int page = 0; rc == GH_OK && (to_end || page < CHANGES_MAX_PAGES); page++) {
        rc = poll_page(ops, c, &at, &applied);
        /* What was applied stays applied, even if a later page fails. */
        atomic_store(&position, at);
    }
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
        if (!failing)
            gh_log(GH_LOG_ERROR, "change feed: cannot read change events; retrying every second "
                                 "(changes made by other processes wait until then)");
        failing = true;
        if (fan) {
            pthread_mutex_lock(&link_mu);
            distrust("cannot read change events");
            pthread_mutex_unlock(&link_mu);
        }
        return;
    }
    if (failing) gh_log(GH_LOG_INFO, "change feed: reading change events again");
    failing = false;
    if (applied)
        gh_log(GH_LOG_INFO,
               "change feed: applied %zu change(s) made by other processes (seq %lld-%lld)",
               applied, (long long)from + 1, (long long)at);
    /* Caught up, by a read that began while the LISTEN now in place was
     * already there: whatever commits from now on is notified, whatever
     * committed before has been read. */
    if (!fan || rc != GH_ERR_NOT_FOUND) return;
    pthread_mutex_lock(&link_mu);
    if (up && link_up && epoch == link_epoch && !authcache_trusted()) {
        authcache_set_trusted(true);
        gh_log(GH_LOG_INFO, "change feed: caught up (seq %lld); the auth cache answers again",
               (long long)at);
    }
    pthread_mutex_unlock(&link_mu);
}

void changes_job_poll(const struct store_ops *ops, struct store_conn *c)
{
    pthread_mutex_lock(&poll_mu);
    poll_locked(ops, c);
    pthread_mutex_unlock(&poll_mu);
}

void changes_wake(const struct store_ops *ops, struct store_conn *c)
{
    changes_job_poll(ops, c);
}

void changes_link(bool up, const struct store_ops *ops, struct store_conn *c)
{
    pthread_mutex_lock(&link_mu);
    if (!fanout) authcache_set_trusted(false); /* a test playing the listener */
    fanout = true;
    link_up = up;
    link_epoch++;
    if (!up) distrust("the listening connection is lost");
    pthread_mutex_unlock(&link_mu);
    if (up) changes_job_poll(ops, c); /* the catch-up that gives the trust back */
}

bool changes_fanout(void)
{
    pthread_mutex_lock(&link_mu);
    bool on = fanout;
    pthread_mutex_unlock(&link_mu);
    return on;
}

static void on_listen(enum store_listen_news what, const struct store_ops *ops,
                      struct store_conn *c, void *arg)
{
    (void)arg;
    if (what == STORE_LISTEN_WAKE)
        changes_wake(ops, c);
    else
        changes_link(what == STORE_LISTEN_UP, ops, c);
}

enum gh_err changes_listen_start(void)
{
    if (!store_listen_available()) return GH_OK;
    pthread_mutex_lock(&link_mu);
    fanout = true; /* untrusted until the listener is up and the feed caught up */
    link_up = false;
    link_epoch++;
    authcache_set_trusted(false);
    pthread_mutex_unlock(&link_mu);
    return store_listen_start(on_listen, NULL);
}

void changes_listen_stop(void)
{
    store_listen_stop();
}
