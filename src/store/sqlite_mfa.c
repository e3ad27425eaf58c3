/* SQLite backend: second factors (TOTP, backup codes, sign-in
 * challenges). */
#include "store/sqlite_internal.h"

#include <string.h>

/* ---- second factors ---- */

enum gh_err sq_totp_get(struct store_conn *c, const char *uid, struct store_totp *o)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_TOTP_GET, SQ_TEXT(uid));
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, o->secret_sealed, sizeof o->secret_sealed);
        o->created_at = sqlite3_column_int64(s, 1);
        o->confirmed_at = sqlite3_column_int64(s, 2);
        o->last_step = sqlite3_column_int64(s, 3);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    return r == SQLITE_ROW ? GH_OK : sq_fail(c, "totp get");
}

enum gh_err sq_totp_begin(struct store_conn *c, const char *uid, const char *sealed, int64_t now)
{
    enum gh_err rc =
        SQ_RUN(c, S_TOTP_BEGIN, "totp begin", SQ_TEXT(uid), SQ_TEXT(sealed), SQ_INT(now));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err insert_backup_codes(struct store_conn *c, const char *uid,
                                       const uint8_t hashes[STORE_BACKUP_CODES][32])
{
    enum gh_err rc = sq_delete_by_id(c, S_BACKUP_CLEAR, uid);
    for (int i = 0; rc == GH_OK && i < STORE_BACKUP_CODES; i++) {
        rc = SQ_RUN(c, S_BACKUP_INSERT, "backup insert", SQ_TEXT(uid), SQ_BLOB(hashes[i], 32));
    }
    return rc;
}

struct totp_confirm_args {
    const char *uid;
    int64_t step;
    const uint8_t (*hashes)[32];
    const char *keep_sid;
    int64_t now;
};

static enum gh_err totp_confirm_fn(struct store_conn *c, const void *arg)
{
    const struct totp_confirm_args *a = arg;
    enum gh_err rc =
        SQ_RUN(c, S_TOTP_CONFIRM, "totp confirm", SQ_TEXT(a->uid), SQ_INT(a->step), SQ_INT(a->now));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_CONFLICT;
    if ((rc = insert_backup_codes(c, a->uid, a->hashes))) return rc;
    /* A new factor ends the sessions that never had to pass it. */
    return sq_revoke_others(c, a->uid, a->keep_sid, a->now);
}

/* Its own write transaction, or the caller's when one is open (confirming
 * from a restricted session also releases that session in the same one). */
enum gh_err sq_totp_confirm(struct store_conn *c, const char *uid, int64_t step,
                            const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid,
                            int64_t now, const struct store_audit *ev)
{
    struct totp_confirm_args a = {uid, step, hashes, keep_sid, now};
    return sq_in_tx(c, ev, totp_confirm_fn, &a);
}

enum gh_err sq_backup_replace(struct store_conn *c, const char *uid,
                              const uint8_t hashes[STORE_BACKUP_CODES][32],
                              const struct store_audit *ev)
{
    enum gh_err rc = sq_tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = sq_stmt(c, S_TOTP_CONFIRMED);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, uid);
    int r = sqlite3_step(s);
    done(s);
    if (r == SQLITE_DONE)
        rc = GH_ERR_NOT_FOUND;
    else if (r != SQLITE_ROW)
        rc = sq_fail(c, "totp confirmed");
    if (rc) goto out;
    if ((rc = insert_backup_codes(c, uid, hashes))) goto out;
    if (ev && (rc = sq_append_audit(c, ev))) goto out;
    rc = sq_tx(c, S_COMMIT);
out:
    if (rc) sq_rollback(c);
    return rc;
}

enum gh_err sq_totp_use_step(struct store_conn *c, const char *uid, int64_t step)
{
    enum gh_err rc = SQ_RUN(c, S_TOTP_USE, "totp use", SQ_TEXT(uid), SQ_INT(step));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err totp_delete_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_args *a = arg;
    enum gh_err rc = sq_delete_by_id(c, S_BACKUP_CLEAR, a->uid);
    if (rc) return rc;
    if ((rc = sq_delete_by_id(c, S_TOTP_DELETE, a->uid))) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    return sq_revoke_others(c, a->uid, a->id, a->now);
}

enum gh_err sq_totp_delete(struct store_conn *c, const char *uid, const char *keep_sid, int64_t now,
                           const struct store_audit *ev)
{
    struct revoke_args a = {keep_sid, uid, now};
    return sq_in_tx(c, ev, totp_delete_fn, &a);
}

enum gh_err sq_backup_use(struct store_conn *c, const char *uid, const uint8_t hash[32],
                          int64_t now)
{
    enum gh_err rc =
        SQ_RUN(c, S_BACKUP_USE, "backup use", SQ_TEXT(uid), SQ_BLOB(hash, 32), SQ_INT(now));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_DENIED;
}

enum gh_err sq_challenge_create(struct store_conn *c, const uint8_t hash[32],
                                const struct store_challenge *ch)
{
    return SQ_RUN(c, S_CH_INSERT, "challenge insert", SQ_BLOB(hash, 32), SQ_TEXT(ch->user_id),
                  SQ_INT(ch->tokens_invalidated_at), SQ_INT(ch->expires_at),
                  SQ_TEXT(ch->first_factor[0] ? ch->first_factor : "password"));
}

enum gh_err sq_challenge_attempt(struct store_conn *c, const uint8_t hash[32], int max, int64_t now,
                                 struct store_challenge *o)
{
    enum gh_err rc =
        SQ_RUN(c, S_CH_ATTEMPT, "challenge attempt", SQ_BLOB(hash, 32), SQ_INT(max), SQ_INT(now));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_DENIED;
    sqlite3_stmt *s = SQ_QUERY(c, S_CH_GET, SQ_BLOB(hash, 32));
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, o->user_id, sizeof o->user_id);
        o->tokens_invalidated_at = sqlite3_column_int64(s, 1);
        o->expires_at = sqlite3_column_int64(s, 2);
        o->attempts = sqlite3_column_int(s, 3);
        o->used_at = sqlite3_column_int64(s, 4);
        col_text(s, 5, o->first_factor, sizeof o->first_factor);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_DENIED;
    return r == SQLITE_ROW ? GH_OK : sq_fail(c, "challenge get");
}

enum gh_err sq_challenge_consume(struct store_conn *c, const uint8_t hash[32], int64_t now)
{
    enum gh_err rc = SQ_RUN(c, S_CH_CONSUME, "challenge consume", SQ_BLOB(hash, 32), SQ_INT(now));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_DENIED;
}

/* ---- mail and magic links ---- */
