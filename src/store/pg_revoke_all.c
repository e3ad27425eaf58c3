/* PostgreSQL backend: sessions.revoke_all (store.h), for `gatehouse
 * restore --in-place` after a pg_restore or a point-in-time recovery:
 * every live session revoked, every account's tokens_invalidated_at raised
 * and, per account, the change events every replica's cache follows, in
 * one transaction (the events written at its commit, pg_tail.c). The
 * model is sqlite_sessions.c's. */
#include "store/pg_internal.h"

static const char SQL_SESS_REVOKE_ALL[] =
    "UPDATE sessions SET revoked_at = $1::bigint WHERE revoked_at IS NULL";
static const char SQL_USER_INVALIDATE_ALL[] =
    "UPDATE users SET tokens_invalidated_at = $1::bigint WHERE tokens_invalidated_at < $1::bigint";

struct revoke_all_args {
    int64_t tia, now;
    int64_t *n;
};

static enum gh_err revoke_all_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_all_args *a = arg;
    enum gh_err rc = PG_COUNT(c, SQL_SESS_REVOKE_ALL, "revoke every session", a->n, PG_INT(a->now));
    if (rc) return rc;
    if ((rc = PG_RUN(c, SQL_USER_INVALIDATE_ALL, "invalidate every token", PG_INT(a->tia))))
        return rc;
    /* The events (and their lock and notify) at the commit (pg_tail.c). */
    if ((rc = pg_event_add_every_user(c, STORE_EV_USER_SESSIONS_REVOKED, 0, a->now))) return rc;
    return pg_event_add_every_user(c, STORE_EV_TOKENS_INVALIDATED, a->tia, a->now);
}

enum gh_err pg_sessions_revoke_all(struct store_conn *c, int64_t tia, int64_t now,
                                   const struct store_audit *ev, int64_t *n)
{
    struct revoke_all_args a = {tia, now, n};
    *n = 0;
    enum gh_err rc = pg_in_tx(c, ev, revoke_all_fn, &a);
    if (rc) *n = 0;
    return rc;
}
