#include "sessions/changes.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "core/log.h"
#include "sessions/authcache.h"
#include "sessions/sessions_jobs.h"

/* Written by changes_init (before the loops start) and then only by the
 * poll job, which never runs twice at once (a run still going skips the
 * next); atomic so that changes_position reads it from any thread. */
static _Atomic int64_t position;
static bool failing; /* the poll job's own: one log line per outage */

enum gh_err changes_init(const struct store_ops *ops, struct store_conn *c)
{
    int64_t seq = 0;
    enum gh_err rc = ops->events.max_seq(c, &seq);
    if (rc) return rc;
    atomic_store(&position, seq);
    failing = false;
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

void changes_job_poll(const struct store_ops *ops, struct store_conn *c)
{
    int64_t from = atomic_load(&position), at = from;
    size_t applied = 0;
    enum gh_err rc = GH_OK;
    for (int page = 0; rc == GH_OK && page < CHANGES_MAX_PAGES; page++) {
        rc = poll_page(ops, c, &at, &applied);
        /* What was applied stays applied, even if a later page fails. */
        atomic_store(&position, at);
    }
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
        if (!failing)
            gh_log(GH_LOG_ERROR, "change feed: cannot read change events; retrying every second "
                                 "(changes made by other processes wait until then)");
        failing = true;
        return;
    }
    if (failing) gh_log(GH_LOG_INFO, "change feed: reading change events again");
    failing = false;
    if (applied)
        gh_log(GH_LOG_INFO,
               "change feed: applied %zu change(s) made by other processes (seq %lld-%lld)",
               applied, (long long)from + 1, (long long)at);
}
