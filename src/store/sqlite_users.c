/* SQLite backend: users (create, lookups, role, verification, reclaim,
 * password, email change). */
#include "store/sqlite_internal.h"

#include <string.h>

static enum gh_err user_insert(struct store_conn *c, const void *arg)
{
    const struct store_user *u = arg;
    return SQ_INSERT(c, S_USER_INSERT, "user insert", SQ_TEXT(u->id), SQ_TEXT(u->email),
                     SQ_TEXT(u->email_key), SQ_TEXT(u->password_hash), SQ_INT(u->created_at),
                     SQ_INT(u->updated_at), SQ_INT(u->tokens_invalidated_at));
}

enum gh_err sq_user_create(struct store_conn *c, const struct store_user *u,
                           const struct store_audit *ev)
{
    return sq_in_tx(c, ev, user_insert, u);
}

static enum gh_err read_user(struct store_conn *c, sqlite3_stmt *s, struct store_user *out)
{
    int r = sqlite3_step(s);
    if (r == SQLITE_DONE) {
        done(s);
        return GH_ERR_NOT_FOUND;
    }
    if (r != SQLITE_ROW) {
        done(s);
        return sq_fail(c, "user select");
    }
    col_text(s, 0, out->id, sizeof out->id);
    col_text(s, 1, out->email, sizeof out->email);
    col_text(s, 2, out->email_key, sizeof out->email_key);
    col_text(s, 3, out->password_hash, sizeof out->password_hash);
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
    out->tokens_invalidated_at = sqlite3_column_int64(s, 6);
    out->email_verified_at = sqlite3_column_int64(s, 7);
    col_text(s, 8, out->role, sizeof out->role);
    done(s);
    return GH_OK;
}

struct role_args {
    const char *id, *role;
};

static enum gh_err user_set_role_fn(struct store_conn *c, const void *arg)
{
    const struct role_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_USER_SET_ROLE, "user set role", SQ_TEXT(a->id), SQ_TEXT(a->role),
                            SQ_INT(gh_now_s()));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    return sq_event_add(c, STORE_EV_ROLE_CHANGED, a->id, NULL, a->role, 0);
}

enum gh_err sq_user_set_role(struct store_conn *c, const char *id, const char *role,
                             const struct store_audit *ev)
{
    struct role_args a = {id, role};
    return sq_in_tx(c, ev, user_set_role_fn, &a);
}

enum gh_err sq_user_by_email_key(struct store_conn *c, const char *key, struct store_user *out)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_USER_BY_EMAIL, SQ_TEXT(key));
    if (!s) return GH_ERR_INTERNAL;
    return read_user(c, s, out);
}

enum gh_err sq_user_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_USER_BY_ID, SQ_TEXT(id));
    if (!s) return GH_ERR_INTERNAL;
    return read_user(c, s, out);
}

struct verify_args {
    const char *id;
    int64_t now;
};

static enum gh_err user_verify_fn(struct store_conn *c, const void *arg)
{
    const struct verify_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_USER_VERIFY, "user verify", SQ_TEXT(a->id), SQ_INT(a->now));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err sq_user_verify_email(struct store_conn *c, const char *id, int64_t now,
                                 const struct store_audit *ev)
{
    struct verify_args a = {id, now};
    return sq_in_tx(c, ev, user_verify_fn, &a);
}

struct rehash_args {
    const char *id, *old_hash, *hash;
    int64_t now;
};

static enum gh_err user_rehash_fn(struct store_conn *c, const void *arg)
{
    const struct rehash_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_USER_REHASH, "user rehash", SQ_TEXT(a->id), SQ_TEXT(a->hash),
                            SQ_INT(a->now), SQ_TEXT(a->old_hash));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}

enum gh_err sq_user_rehash(struct store_conn *c, const char *id, const char *old_hash,
                           const char *hash, int64_t now, const struct store_audit *ev)
{
    struct rehash_args a = {id, old_hash, hash, now};
    return sq_in_tx(c, ev, user_rehash_fn, &a);
}

enum gh_err sq_user_other_hashes(struct store_conn *c, const char *keep_prefix, const char *after,
                                 struct store_hash_row *out, size_t max, size_t *n)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_USER_OTHER_HASHES, SQ_TEXT(keep_prefix), SQ_TEXT(after),
                               SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r = SQLITE_DONE;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].id, sizeof out[i].id);
        col_text(s, 1, out[i].hash, sizeof out[i].hash);
        i++;
    }
    if (i < max && r != SQLITE_DONE) {
        done(s);
        return sq_fail(c, "user other hashes");
    }
    done(s);
    *n = i;
    return GH_OK;
}

struct set_password_args {
    const char *id, *hash, *keep_sid;
    int64_t tia, now;
};

static enum gh_err set_password_fn(struct store_conn *c, const void *arg)
{
    const struct set_password_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_USER_SET_PASSWORD, "set password", SQ_TEXT(a->id),
                            SQ_TEXT(a->hash), SQ_INT(a->tia), SQ_INT(a->now));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    if ((rc = sq_event_add(c, STORE_EV_TOKENS_INVALIDATED, a->id, NULL, NULL, a->tia))) return rc;
    return sq_revoke_others(c, a->id, a->keep_sid, a->now);
}

/* Its own transaction, or the caller's (a reset spends its link in it). */
enum gh_err sq_user_set_password(struct store_conn *c, const char *id, const char *hash,
                                 int64_t tia, const char *keep_sid, int64_t now,
                                 const struct store_audit *ev)
{
    struct set_password_args a = {id, hash, keep_sid, tia, now};
    return sq_in_tx(c, ev, set_password_fn, &a);
}

struct reclaim_args {
    const char *id;
    int64_t now, tia;
};

static enum gh_err user_reclaim_fn(struct store_conn *c, const void *arg)
{
    const struct reclaim_args *a = arg;
    struct verify_args v = {a->id, a->now};
    enum gh_err rc = user_verify_fn(c, &v);
    if (rc) return rc;
    /* "!" matches no password. */
    rc = SQ_RUN(c, S_USER_SET_PASSWORD, "reclaim: password", SQ_TEXT(a->id), SQ_TEXT("!"),
                SQ_INT(a->tia), SQ_INT(a->now));
    if (rc) return rc;
    /* Whoever held the account before the address was proved may have
     * linked their own provider identity: it goes with their password. */
    rc = SQ_RUN(c, S_IDENT_DELETE_USER, "reclaim: identities", SQ_TEXT(a->id));
    if (rc) return rc;
    if ((rc = sq_event_add(c, STORE_EV_TOKENS_INVALIDATED, a->id, NULL, NULL, a->tia))) return rc;
    struct revoke_args r = {NULL, a->id, a->now};
    return sq_revoke_user_fn(c, &r);
}

enum gh_err sq_user_reclaim(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                            const struct store_audit *ev)
{
    struct reclaim_args a = {id, now, tia};
    return sq_in_tx(c, ev, user_reclaim_fn, &a);
}

struct set_email_args {
    const char *id, *email, *key;
    int64_t now;
};

static enum gh_err set_email_fn(struct store_conn *c, const void *arg)
{
    const struct set_email_args *a = arg;
    /* A clash on users.email_key: another account has the address. */
    enum gh_err rc = SQ_INSERT(c, S_USER_SET_EMAIL, "set email", SQ_TEXT(a->id), SQ_TEXT(a->email),
                               SQ_TEXT(a->key), SQ_INT(a->now));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    return sq_event_add(c, STORE_EV_USER_CHANGED, a->id, NULL, NULL, 0);
}

/* Its own transaction, or the caller's (the link is spent in it). */
enum gh_err sq_user_set_email(struct store_conn *c, const char *id, const char *email,
                              const char *key, int64_t now, const struct store_audit *ev)
{
    struct set_email_args a = {id, email, key, now};
    return sq_in_tx(c, ev, set_email_fn, &a);
}
