/* PostgreSQL backend: sessions.revoke_all (store.h), for `gatehouse
 * restore --in-place` after a pg_restore or a point-in-time recovery:
 * every live session revoked, every account's tokens_invalidated_at raised
 * and, per account, the change events every replica's cache follows, in
 * one transaction. The model is sqlite_sessions.c's. */
#include "store/pg_internal.h"

static const char SQL_SESS_REVOKE_ALL[] =
    "UPDATE sessions SET revoked_at = $1::bigint WHERE revoked_at IS NULL";
static const char SQL_USER_INVALIDATE_ALL[] =
    "UPDATE users SET tokens_invalidated_at = $1::bigint WHERE tokens_invalidated_at < $1::bigint";
/* One change event of kind $1 per account. */
static const char SQL_EVENT_EVERY_USER[] =
    "INSERT INTO change_events (kind, user_id, session_id, text_value, int_value, origin,"
    " created_at) SELECT $1::text, id, '', '', $2::bigint, $3::text, $4::bigint FROM users"
    " ORDER BY id";
static const char SQL_EVENT_NOTIFY[] = "SELECT pg_notify('gatehouse_changes', '')";

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
    /* Events commit in seq order (pg_event_add takes the same lock). */
    if ((rc = pg_lock_xact(c, PG_LOCK_EVENTS))) return rc;
    if ((rc = PG_RUN(c, SQL_EVENT_EVERY_USER, "change events",
                     PG_TEXT(store_event_kind_name(STORE_EV_USER_SESSIONS_REVOKED)), PG_INT(0),
                     PG_TEXT(store_origin()), PG_INT(a->now))))
        return rc;
    if ((rc = PG_RUN(c, SQL_EVENT_EVERY_USER, "change events",
                     PG_TEXT(store_event_kind_name(STORE_EV_TOKENS_INVALIDATED)), PG_INT(a->tia),
                     PG_TEXT(store_origin()), PG_INT(a->now))))
        return rc;
    return pg_exec(c, SQL_EVENT_NOTIFY, "change notify", NULL, 0, NULL, NULL);
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
