/* PostgreSQL backend: sessions and their refresh tokens (create, list,
 * revoke, rotate). The SQLite backend's semantics (sqlite_sessions.c), made
 * safe for several replicas writing at once under READ COMMITTED:
 *  - a rotation spends the old token with one conditional UPDATE (still
 *    current, unexpired, session live); a concurrent rotation of the same
 *    token waits for the row and then finds it spent, so exactly one wins;
 *  - a session created for a checked password holds the user row FOR SHARE
 *    while it checks tokens_invalidated_at, so a password change either
 *    commits first (and the check fails) or waits for the session's commit
 *    (and then revokes it);
 *  - change events come after the rows a step writes (pg_users.c says why). */
#include "store/pg_internal.h"

#include <string.h>

static const char SQL_SESS_INSERT[] =
    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent,"
    " restricted, mode, mfa_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
/* FOR SHARE: concurrent sign-ins of one user do not wait for each other;
 * a password change (an UPDATE of the row) waits for them, and they for it. */
static const char SQL_USER_TIA_SHARE[] =
    "SELECT tokens_invalidated_at FROM users WHERE id = $1 FOR SHARE";
static const char SQL_RT_INSERT[] =
    "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)"
    " VALUES ($1, $2, $3, $4)";
static const char SQL_SESS_GET[] =
    "SELECT id, user_id, created_at, last_used_at, expires_at, COALESCE(revoked_at, 0), ip,"
    " user_agent, restricted, mode, mfa_at FROM sessions WHERE id = $1";
static const char SQL_SESS_LIST[] =
    "SELECT id, user_id, created_at, last_used_at, expires_at, COALESCE(revoked_at, 0), ip,"
    " user_agent, restricted, mode, mfa_at FROM sessions"
    " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2"
    " ORDER BY created_at DESC, id LIMIT $3";
static const char SQL_SESS_REVOKE[] = "UPDATE sessions SET revoked_at = $3 WHERE id = $1"
                                      " AND user_id = $2 AND revoked_at IS NULL";
static const char SQL_SESS_REVOKE_USER[] =
    "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";
static const char SQL_SESS_REVOKE_OTHERS[] = "UPDATE sessions SET revoked_at = $3"
                                             " WHERE user_id = $1 AND revoked_at IS NULL"
                                             " AND id <> $2";
static const char SQL_SESS_UNRESTRICT[] = "UPDATE sessions SET restricted = 0 WHERE id = $1";
static const char SQL_SESS_SET_MFA_AT[] =
    "UPDATE sessions SET mfa_at = $2 WHERE id = $1 AND revoked_at IS NULL";
static const char SQL_SESS_TOUCH[] =
    "UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1";
static const char SQL_RT_GET[] =
    "SELECT r.session_id, s.user_id, r.expires_at, COALESCE(r.rotated_at_us, 0),"
    " (s.revoked_at IS NULL AND s.expires_at > $2)::int, u.tokens_invalidated_at,"
    " r.successor_box, s.restricted, r.created_at, s.mode, s.created_at FROM refresh_tokens r"
    " JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id"
    " WHERE r.token_hash = $1";
/* The one conditional write that decides a rotation: a second rotation of
 * the same token blocks on the row, then re-checks rotated_at_us IS NULL
 * against the committed winner and changes nothing. */
static const char SQL_RT_SPEND[] =
    "UPDATE refresh_tokens SET rotated_at_us = $2, successor_box = $3"
    " WHERE token_hash = $1 AND rotated_at_us IS NULL AND expires_at > $4"
    " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = session_id AND s.revoked_at IS NULL)"
    " RETURNING session_id";
static const char SQL_RT_FORGET_ONE[] =
    "UPDATE refresh_tokens SET successor_box = NULL WHERE token_hash = $1"
    " AND rotated_at_us < $2 AND successor_box IS NOT NULL";
static const char SQL_RT_FORGET_ALL[] = "UPDATE refresh_tokens SET successor_box = NULL"
                                        " WHERE successor_box IS NOT NULL AND rotated_at_us < $1";

static enum gh_err insert_rt(struct store_conn *c, const uint8_t hash[32], const char *sid,
                             int64_t now, int64_t expires)
{
    return PG_RUN(c, SQL_RT_INSERT, "refresh insert", PG_BYTEA(hash, 32), PG_TEXT(sid), PG_INT(now),
                  PG_INT(expires));
}

struct session_create_args {
    const struct store_session *ss;
    const uint8_t *token_hash;
    int64_t expect_tia;
};

static enum gh_err session_create_fn(struct store_conn *c, const void *arg)
{
    const struct session_create_args *a = arg;
    const struct store_session *ss = a->ss;
    enum gh_err rc = GH_OK;
    if (a->expect_tia >= 0) {
        PGresult *r = NULL;
        rc = PG_QUERY(c, SQL_USER_TIA_SHARE, "session: user", &r, PG_TEXT(ss->user_id));
        if (rc) return rc;
        bool same = pg_rows(r) == 1 && pg_int(r, 0, 0) == a->expect_tia;
        PQclear(r);
        if (!same) return GH_ERR_CONFLICT; /* gone, or its password changed */
    }
    rc = PG_RUN(c, SQL_SESS_INSERT, "session insert", PG_TEXT(ss->id), PG_TEXT(ss->user_id),
                PG_INT(ss->created_at), PG_INT(ss->last_used_at), PG_INT(ss->expires_at),
                PG_TEXT(ss->ip), PG_TEXT(ss->user_agent), PG_INT(ss->restricted ? 1 : 0),
                PG_TEXT(ss->cookie ? "cookie" : "bearer"), PG_INT(ss->mfa_at));
    if (rc) return rc;
    return insert_rt(c, a->token_hash, ss->id, ss->created_at, ss->expires_at);
}

/* Its own write transaction, or the caller's when one is open (sign-up
 * makes the account and its first session in one). */
enum gh_err pg_session_create(struct store_conn *c, const struct store_session *ss,
                              const uint8_t token_hash[32], int64_t expect_tia,
                              const struct store_audit *ev)
{
    struct session_create_args a = {ss, token_hash, expect_tia};
    return pg_in_tx(c, ev, session_create_fn, &a);
}

static void read_session(const PGresult *r, int i, struct store_session *o)
{
    pg_text(r, i, 0, o->id, sizeof o->id);
    pg_text(r, i, 1, o->user_id, sizeof o->user_id);
    o->created_at = pg_int(r, i, 2);
    o->last_used_at = pg_int(r, i, 3);
    o->expires_at = pg_int(r, i, 4);
    o->revoked_at = pg_int(r, i, 5);
    pg_text(r, i, 6, o->ip, sizeof o->ip);
    pg_text(r, i, 7, o->user_agent, sizeof o->user_agent);
    o->restricted = pg_int(r, i, 8) != 0;
    o->cookie = strcmp(pg_str(r, i, 9), "cookie") == 0;
    o->mfa_at = pg_int(r, i, 10);
}

enum gh_err pg_session_get(struct store_conn *c, const char *id, struct store_session *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_SESS_GET, "session get", &r, PG_TEXT(id));
    if (rc) return rc;
    if (pg_rows(r) < 1)
        rc = GH_ERR_NOT_FOUND;
    else
        read_session(r, 0, out);
    PQclear(r);
    return rc;
}

enum gh_err pg_session_list(struct store_conn *c, const char *uid, int64_t now,
                            struct store_session *out, size_t max, size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc =
        PG_QUERY(c, SQL_SESS_LIST, "session list", &r, PG_TEXT(uid), PG_INT(now), PG_INT(max));
    if (rc) return rc;
    size_t rows = (size_t)pg_rows(r), i = 0;
    for (; i < rows && i < max; i++)
        read_session(r, (int)i, &out[i]);
    PQclear(r);
    *n = i;
    return GH_OK;
}

static enum gh_err session_revoke_fn(struct store_conn *c, const void *arg)
{
    const struct pg_revoke_args *a = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_SESS_REVOKE, "session revoke", &n, PG_TEXT(a->id),
                              PG_TEXT(a->uid), PG_INT(a->now));
    if (rc) return rc;
    if (n != 1) return GH_ERR_NOT_FOUND;
    return pg_event_add(c, STORE_EV_SESSION_REVOKED, a->uid, a->id, NULL, 0);
}

enum gh_err pg_session_revoke(struct store_conn *c, const char *id, const char *uid, int64_t now,
                              const struct store_audit *ev)
{
    struct pg_revoke_args a = {id, uid, now};
    return pg_in_tx(c, ev, session_revoke_fn, &a);
}

static enum gh_err revoke_user_fn(struct store_conn *c, const void *arg)
{
    const struct pg_revoke_args *a = arg;
    enum gh_err rc =
        PG_RUN(c, SQL_SESS_REVOKE_USER, "revoke user sessions", PG_TEXT(a->uid), PG_INT(a->now));
    if (rc) return rc;
    return pg_event_add(c, STORE_EV_USER_SESSIONS_REVOKED, a->uid, NULL, NULL, 0);
}

enum gh_err pg_sessions_revoke_user(struct store_conn *c, const char *uid, int64_t now,
                                    const struct store_audit *ev)
{
    struct pg_revoke_args a = {NULL, uid, now};
    return pg_in_tx(c, ev, revoke_user_fn, &a);
}

/* Inside the caller's write transaction (users, mfa). "" keeps none: no
 * session id is empty. */
enum gh_err pg_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                             int64_t now)
{
    enum gh_err rc = PG_RUN(c, SQL_SESS_REVOKE_OTHERS, "revoke other sessions", PG_TEXT(uid),
                            PG_TEXT(keep_sid ? keep_sid : ""), PG_INT(now));
    if (rc) return rc;
    return pg_event_add(c, STORE_EV_USER_SESSIONS_REVOKED, uid, keep_sid, NULL, 0);
}

struct revoke_others_args {
    const char *uid, *keep_sid;
    int64_t now;
    size_t *n;
};

static enum gh_err revoke_others_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_others_args *a = arg;
    int64_t n = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_SESS_REVOKE_OTHERS, "revoke other sessions", &n, PG_TEXT(a->uid),
                 PG_TEXT(a->keep_sid ? a->keep_sid : ""), PG_INT(a->now));
    if (rc) return rc;
    *a->n = (size_t)n;
    return pg_event_add(c, STORE_EV_USER_SESSIONS_REVOKED, a->uid, a->keep_sid, NULL, 0);
}

enum gh_err pg_sessions_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                                      int64_t now, size_t *n)
{
    struct revoke_others_args a = {uid, keep_sid, now, n};
    *n = 0;
    enum gh_err rc = pg_in_tx(c, NULL, revoke_others_fn, &a);
    if (rc) *n = 0;
    return rc;
}

static enum gh_err session_unrestrict_fn(struct store_conn *c, const void *arg)
{
    const char *id = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_SESS_UNRESTRICT, "session unrestrict", &n, PG_TEXT(id));
    if (rc || n == 0) return rc;
    return pg_event_add(c, STORE_EV_SESSION_UNRESTRICTED, NULL, id, NULL, 0);
}

enum gh_err pg_session_unrestrict(struct store_conn *c, const char *id)
{
    return pg_in_tx(c, NULL, session_unrestrict_fn, id);
}

struct set_mfa_args {
    const char *id;
    int64_t at;
};

static enum gh_err session_set_mfa_fn(struct store_conn *c, const void *arg)
{
    const struct set_mfa_args *a = arg;
    int64_t n = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_SESS_SET_MFA_AT, "session set mfa_at", &n, PG_TEXT(a->id), PG_INT(a->at));
    if (rc) return rc;
    if (n != 1) return GH_ERR_NOT_FOUND;
    /* Other processes' caches learn of the step-up from the change feed. */
    return pg_event_add(c, STORE_EV_SESSION_MFA, NULL, a->id, NULL, a->at);
}

enum gh_err pg_session_set_mfa_at(struct store_conn *c, const char *id, int64_t at,
                                  const struct store_audit *ev)
{
    struct set_mfa_args a = {id, at};
    return pg_in_tx(c, ev, session_set_mfa_fn, &a);
}

enum gh_err pg_refresh_get(struct store_conn *c, const uint8_t hash[32], struct store_refresh *o)
{
    PGresult *r = NULL;
    enum gh_err rc =
        PG_QUERY(c, SQL_RT_GET, "refresh get", &r, PG_BYTEA(hash, 32), PG_INT(gh_now_s()));
    if (rc) return rc;
    if (pg_rows(r) < 1) {
        PQclear(r);
        return GH_ERR_NOT_FOUND;
    }
    pg_text(r, 0, 0, o->session_id, sizeof o->session_id);
    pg_text(r, 0, 1, o->user_id, sizeof o->user_id);
    o->expires_at = pg_int(r, 0, 2);
    o->rotated_at_us = pg_int(r, 0, 3);
    o->session_live = pg_int(r, 0, 4) != 0;
    o->tokens_invalidated_at = pg_int(r, 0, 5);
    o->box_len = 0;
    /* A box that does not fit cannot have been stored by a rotation: the
     * row is damaged, and a refresh must not go on from it. */
    rc = pg_bytea(r, 0, 6, o->box, sizeof o->box, &o->box_len);
    o->session_restricted = pg_int(r, 0, 7) != 0;
    o->created_at = pg_int(r, 0, 8);
    o->session_cookie = strcmp(pg_str(r, 0, 9), "cookie") == 0;
    o->session_created_at = pg_int(r, 0, 10);
    /* The text result held the sealed pair; libpq frees without wiping. */
    PQclear(r);
    if (rc) {
        gh_wipe(o->box, sizeof o->box);
        o->box_len = 0;
    }
    return rc;
}

enum gh_err pg_refresh_forget_successors(struct store_conn *c, const uint8_t *token_hash,
                                         int64_t rotated_before_us)
{
    if (token_hash)
        return PG_RUN(c, SQL_RT_FORGET_ONE, "refresh forget successor", PG_BYTEA(token_hash, 32),
                      PG_INT(rotated_before_us));
    return PG_RUN(c, SQL_RT_FORGET_ALL, "refresh forget successors", PG_INT(rotated_before_us));
}

struct rotate_args {
    const uint8_t *old_hash, *new_hash, *box;
    size_t box_len;
    int64_t now_us, new_expires;
};

static enum gh_err rotate_fn(struct store_conn *c, const void *arg)
{
    const struct rotate_args *a = arg;
    int64_t now = a->now_us / 1000000;
    char sid[STORE_ID_LEN + 1] = "";
    PGresult *r = NULL;
    struct pg_val box = a->box && a->box_len ? PG_BYTEA(a->box, a->box_len) : PG_TEXT(NULL);
    enum gh_err rc = PG_QUERY(c, SQL_RT_SPEND, "refresh spend", &r, PG_BYTEA(a->old_hash, 32),
                              PG_INT(a->now_us), box, PG_INT(now));
    if (rc) return rc;
    int rows = pg_rows(r);
    if (rows == 1) pg_text(r, 0, 0, sid, sizeof sid);
    PQclear(r);
    /* Already spent, expired or revoked (or lost to a concurrent rotation):
     * nothing was written; the caller reads the token again. */
    if (rows != 1) return GH_ERR_CONFLICT;
    if ((rc = insert_rt(c, a->new_hash, sid, now, a->new_expires))) return rc;
    return PG_RUN(c, SQL_SESS_TOUCH, "session touch", PG_TEXT(sid), PG_INT(now),
                  PG_INT(a->new_expires));
}

enum gh_err pg_refresh_rotate(struct store_conn *c, const uint8_t old_hash[32],
                              const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                              int64_t now_us, int64_t new_expires)
{
    struct rotate_args a = {old_hash, new_hash, box, box_len, now_us, new_expires};
    return pg_in_tx(c, NULL, rotate_fn, &a);
}
