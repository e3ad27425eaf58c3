/* SQLite backend: sessions and their refresh tokens (create, list,
 * revoke, rotate). */
#include "store/sqlite_internal.h"

#include <string.h>

static enum gh_err insert_rt(struct store_conn *c, const uint8_t hash[32], const char *sid,
                             int64_t now, int64_t expires)
{
    return SQ_INSERT(c, S_RT_INSERT, "refresh insert", SQ_BLOB(hash, 32), SQ_TEXT(sid), SQ_INT(now),
                     SQ_INT(expires));
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
        struct store_user u;
        rc = sq_user_by_id(c, ss->user_id, &u);
        int64_t tia = u.tokens_invalidated_at;
        gh_wipe(u.password_hash, sizeof u.password_hash);
        if (rc == GH_ERR_NOT_FOUND || (rc == GH_OK && tia != a->expect_tia)) rc = GH_ERR_CONFLICT;
        if (rc) return rc;
    }
    rc = SQ_RUN(c, S_SESS_INSERT, "session insert", SQ_TEXT(ss->id), SQ_TEXT(ss->user_id),
                SQ_INT(ss->created_at), SQ_INT(ss->last_used_at), SQ_INT(ss->expires_at),
                SQ_TEXT(ss->ip), SQ_TEXT(ss->user_agent), SQ_INT(ss->restricted ? 1 : 0),
                SQ_TEXT(ss->cookie ? "cookie" : "bearer"), SQ_INT(ss->mfa_at));
    if (rc) return rc;
    return insert_rt(c, a->token_hash, ss->id, ss->created_at, ss->expires_at);
}

/* Its own write transaction, or the caller's when one is open (sign-up
 * makes the account and its first session in one). */
enum gh_err sq_session_create(struct store_conn *c, const struct store_session *ss,
                              const uint8_t token_hash[32], int64_t expect_tia,
                              const struct store_audit *ev)
{
    struct session_create_args a = {ss, token_hash, expect_tia};
    return sq_in_tx(c, ev, session_create_fn, &a);
}

static void read_session(sqlite3_stmt *s, struct store_session *o)
{
    col_text(s, 0, o->id, sizeof o->id);
    col_text(s, 1, o->user_id, sizeof o->user_id);
    o->created_at = sqlite3_column_int64(s, 2);
    o->last_used_at = sqlite3_column_int64(s, 3);
    o->expires_at = sqlite3_column_int64(s, 4);
    o->revoked_at = sqlite3_column_int64(s, 5);
    col_text(s, 6, o->ip, sizeof o->ip);
    col_text(s, 7, o->user_agent, sizeof o->user_agent);
    o->restricted = sqlite3_column_int(s, 8) != 0;
    const unsigned char *mode = sqlite3_column_text(s, 9);
    o->cookie = mode && strcmp((const char *)mode, "cookie") == 0;
    o->mfa_at = sqlite3_column_int64(s, 10);
}

enum gh_err sq_session_get(struct store_conn *c, const char *id, struct store_session *out)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_SESS_GET, SQ_TEXT(id));
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) read_session(s, out);
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    if (r != SQLITE_ROW) return sq_fail(c, "session get");
    return GH_OK;
}

enum gh_err sq_session_list(struct store_conn *c, const char *uid, int64_t now,
                            struct store_session *out, size_t max, size_t *n)
{
    sqlite3_stmt *s =
        SQ_QUERY(c, S_SESS_LIST, SQ_TEXT(uid), SQ_INT(now), SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && i < max)
        read_session(s, &out[i++]);
    done(s);
    if (r != SQLITE_DONE && r != SQLITE_ROW) return sq_fail(c, "session list");
    *n = i;
    return GH_OK;
}

static enum gh_err session_revoke_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_args *a = arg;
    enum gh_err rc =
        SQ_RUN(c, S_SESS_REVOKE, "session revoke", SQ_TEXT(a->id), SQ_TEXT(a->uid), SQ_INT(a->now));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    return sq_event_add(c, STORE_EV_SESSION_REVOKED, a->uid, a->id, NULL, 0);
}

enum gh_err sq_session_revoke(struct store_conn *c, const char *id, const char *uid, int64_t now,
                              const struct store_audit *ev)
{
    struct revoke_args a = {id, uid, now};
    return sq_in_tx(c, ev, session_revoke_fn, &a);
}

enum gh_err sq_revoke_user_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_args *a = arg;
    enum gh_err rc =
        SQ_RUN(c, S_SESS_REVOKE_USER, "revoke user sessions", SQ_TEXT(a->uid), SQ_INT(a->now));
    if (rc) return rc;
    return sq_event_add(c, STORE_EV_USER_SESSIONS_REVOKED, a->uid, NULL, NULL, 0);
}

enum gh_err sq_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                             int64_t now)
{
    enum gh_err rc = SQ_RUN(c, S_SESS_REVOKE_OTHERS, "revoke other sessions", SQ_TEXT(uid),
                            SQ_TEXT(keep_sid ? keep_sid : ""), SQ_INT(now));
    if (rc) return rc;
    return sq_event_add(c, STORE_EV_USER_SESSIONS_REVOKED, uid, keep_sid, NULL, 0);
}

struct revoke_others_args {
    const char *uid, *keep_sid;
    int64_t now;
    size_t *n;
};

static enum gh_err revoke_others_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_others_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_SESS_REVOKE_OTHERS, "revoke other sessions", SQ_TEXT(a->uid),
                            SQ_TEXT(a->keep_sid), SQ_INT(a->now));
    if (rc) return rc;
    *a->n = (size_t)sqlite3_changes(c->db); /* before the event's own insert */
    return sq_event_add(c, STORE_EV_USER_SESSIONS_REVOKED, a->uid, a->keep_sid, NULL, 0);
}

enum gh_err sq_sessions_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                                      int64_t now, size_t *n)
{
    struct revoke_others_args a = {uid, keep_sid, now, n};
    *n = 0;
    return sq_in_tx(c, NULL, revoke_others_fn, &a);
}

static enum gh_err session_unrestrict_fn(struct store_conn *c, const void *arg)
{
    const char *id = arg;
    enum gh_err rc = SQ_RUN(c, S_SESS_UNRESTRICT, "session unrestrict", SQ_TEXT(id));
    if (rc || sqlite3_changes(c->db) == 0) return rc;
    return sq_event_add(c, STORE_EV_SESSION_UNRESTRICTED, NULL, id, NULL, 0);
}

enum gh_err sq_session_unrestrict(struct store_conn *c, const char *id)
{
    return sq_in_tx(c, NULL, session_unrestrict_fn, id);
}

struct set_mfa_args {
    const char *id;
    int64_t at;
};

static enum gh_err session_set_mfa_fn(struct store_conn *c, const void *arg)
{
    const struct set_mfa_args *a = arg;
    enum gh_err rc =
        SQ_RUN(c, S_SESS_SET_MFA_AT, "session set mfa_at", SQ_TEXT(a->id), SQ_INT(a->at));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    /* Other processes' caches learn of the step-up from the change feed. */
    return sq_event_add(c, STORE_EV_SESSION_MFA, NULL, a->id, NULL, a->at);
}

enum gh_err sq_session_set_mfa_at(struct store_conn *c, const char *id, int64_t at,
                                  const struct store_audit *ev)
{
    struct set_mfa_args a = {id, at};
    return sq_in_tx(c, ev, session_set_mfa_fn, &a);
}

enum gh_err sq_sessions_revoke_user(struct store_conn *c, const char *uid, int64_t now,
                                    const struct store_audit *ev)
{
    struct revoke_args a = {NULL, uid, now};
    return sq_in_tx(c, ev, sq_revoke_user_fn, &a);
}

enum gh_err sq_refresh_get(struct store_conn *c, const uint8_t hash[32], struct store_refresh *o)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_RT_GET, SQ_BLOB(hash, 32), SQ_INT(gh_now_s()));
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, o->session_id, sizeof o->session_id);
        col_text(s, 1, o->user_id, sizeof o->user_id);
        o->expires_at = sqlite3_column_int64(s, 2);
        o->rotated_at_us = sqlite3_column_int64(s, 3);
        o->session_live = sqlite3_column_int(s, 4) != 0;
        o->tokens_invalidated_at = sqlite3_column_int64(s, 5);
        int bl = sqlite3_column_bytes(s, 6);
        const void *b = sqlite3_column_blob(s, 6);
        o->box_len = 0;
        if (b && bl > 0 && (size_t)bl <= sizeof o->box) {
            memcpy(o->box, b, (size_t)bl);
            o->box_len = (size_t)bl;
        }
        o->session_restricted = sqlite3_column_int(s, 7) != 0;
        o->created_at = sqlite3_column_int64(s, 8);
        const unsigned char *mode = sqlite3_column_text(s, 9);
        o->session_cookie = mode && strcmp((const char *)mode, "cookie") == 0;
        o->session_created_at = sqlite3_column_int64(s, 10);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    if (r != SQLITE_ROW) return sq_fail(c, "refresh get");
    return GH_OK;
}

enum gh_err sq_refresh_forget_successors(struct store_conn *c, const uint8_t *token_hash,
                                         int64_t rotated_before_us)
{
    sqlite3_stmt *s = sq_stmt(c, token_hash ? S_RT_FORGET_ONE : S_RT_FORGET_ALL);
    if (!s) return GH_ERR_INTERNAL;
    if (token_hash) {
        sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, rotated_before_us);
    } else {
        sqlite3_bind_int64(s, 1, rotated_before_us);
    }
    return sq_exec(c, s, "refresh forget successors");
}

enum gh_err sq_refresh_rotate(struct store_conn *c, const uint8_t old_hash[32],
                              const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                              int64_t now_us, int64_t new_expires)
{
    int64_t now = now_us / 1000000;
    char sid[STORE_ID_LEN + 1] = "";
    enum gh_err rc = sq_tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = sq_stmt(c, S_RT_SPEND);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    sqlite3_bind_blob(s, 1, old_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_us);
    sqlite3_bind_blob(s, 3, box, (int)box_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    if ((rc = sq_exec(c, s, "refresh spend"))) goto out;
    if (sqlite3_changes(c->db) != 1) {
        rc = GH_ERR_CONFLICT; /* already spent, expired or revoked: caller re-reads */
        goto out;
    }
    struct store_refresh cur;
    if ((rc = sq_refresh_get(c, old_hash, &cur))) goto out;
    snprintf(sid, sizeof sid, "%s", cur.session_id);
    if ((rc = insert_rt(c, new_hash, sid, now, new_expires))) goto out;
    if (!(s = sq_stmt(c, S_SESS_TOUCH))) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, sid);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, new_expires);
    if ((rc = sq_exec(c, s, "session touch"))) goto out;
    rc = sq_tx(c, S_COMMIT);
out:
    if (rc) sq_rollback(c);
    return rc;
}

struct revoke_all_args {
    int64_t tia, now;
    int64_t *n;
};

static enum gh_err revoke_all_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_all_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_SESS_REVOKE_ALL, "revoke every session", SQ_INT(a->now));
    if (rc) return rc;
    *a->n = sqlite3_changes64(c->db);
    if ((rc = SQ_RUN(c, S_USER_INVALIDATE_ALL, "invalidate every token", SQ_INT(a->tia))))
        return rc;
    /* The feed other processes follow: each account's cached sessions and
     * tokens go, as after a password change. */
    if ((rc = SQ_RUN(c, S_EVENT_EVERY_USER, "change events",
                     SQ_TEXT(store_event_kind_name(STORE_EV_USER_SESSIONS_REVOKED)), SQ_INT(0),
                     SQ_TEXT(store_origin()), SQ_INT(a->now))))
        return rc;
    return SQ_RUN(c, S_EVENT_EVERY_USER, "change events",
                  SQ_TEXT(store_event_kind_name(STORE_EV_TOKENS_INVALIDATED)), SQ_INT(a->tia),
                  SQ_TEXT(store_origin()), SQ_INT(a->now));
}

enum gh_err sq_sessions_revoke_all(struct store_conn *c, int64_t tia, int64_t now,
                                   const struct store_audit *ev, int64_t *n)
{
    struct revoke_all_args a = {tia, now, n};
    *n = 0;
    return sq_in_tx(c, ev, revoke_all_fn, &a);
}
