/* PostgreSQL backend: users (create, lookups, role, verification, reclaim,
 * password, email change). The SQLite backend's semantics (sqlite_users.c),
 * made safe for several replicas writing at once under READ COMMITTED:
 * every check that guards a write is the write's own WHERE clause (an
 * UPDATE that waited for a concurrent writer re-checks it against the row
 * that writer committed), so a lost race changes nothing and is reported
 * as store.h says. */
#include "store/pg_internal.h"

#include <string.h>

static const char SQL_USER_INSERT[] =
    "INSERT INTO users (id, email, email_key, password_hash, created_at, updated_at,"
    " tokens_invalidated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_USER_BY_EMAIL[] =
    "SELECT id, email, email_key, password_hash, created_at, updated_at, tokens_invalidated_at,"
    " COALESCE(email_verified_at, 0), role FROM users WHERE email_key = $1";
static const char SQL_USER_BY_ID[] =
    "SELECT id, email, email_key, password_hash, created_at, updated_at, tokens_invalidated_at,"
    " COALESCE(email_verified_at, 0), role FROM users WHERE id = $1";
static const char SQL_USER_SET_ROLE[] = "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1";
static const char SQL_USER_VERIFY[] =
    "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1";
static const char SQL_USER_SET_EMAIL[] =
    "UPDATE users SET email = $2, email_key = $3, email_verified_at = $4, updated_at = $4"
    " WHERE id = $1";
/* Only if the hash is still the one that was checked (a password change
 * committed meanwhile wins). */
static const char SQL_USER_REHASH[] =
    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1 AND password_hash = $4";
static const char SQL_USER_OTHER_HASHES[] =
    "SELECT id, password_hash FROM users WHERE id > $2 AND password_hash <> '!'"
    " AND NOT starts_with(password_hash, $1::text) ORDER BY id LIMIT $3";
static const char SQL_USER_SET_PASSWORD[] =
    "UPDATE users SET password_hash = $2, tokens_invalidated_at = $3, updated_at = $4"
    " WHERE id = $1";
static const char SQL_IDENT_DELETE_USER[] = "DELETE FROM identities WHERE user_id = $1";

static enum gh_err user_insert(struct store_conn *c, const void *arg)
{
    const struct store_user *u = arg;
    /* A clash on id or email_key is a unique violation: GH_ERR_CONFLICT. */
    return PG_RUN(c, SQL_USER_INSERT, "user insert", PG_TEXT(u->id), PG_TEXT(u->email),
                  PG_TEXT(u->email_key), PG_TEXT(u->password_hash), PG_INT(u->created_at),
                  PG_INT(u->updated_at), PG_INT(u->tokens_invalidated_at));
}

enum gh_err pg_user_create(struct store_conn *c, const struct store_user *u,
                           const struct store_audit *ev)
{
    return pg_in_tx(c, ev, user_insert, u);
}

/* The first row of r into out; GH_ERR_NOT_FOUND if there is none. */
static enum gh_err read_user(PGresult *r, struct store_user *out)
{
    if (pg_rows(r) < 1) {
        PQclear(r);
        return GH_ERR_NOT_FOUND;
    }
    pg_text(r, 0, 0, out->id, sizeof out->id);
    pg_text(r, 0, 1, out->email, sizeof out->email);
    pg_text(r, 0, 2, out->email_key, sizeof out->email_key);
    pg_text(r, 0, 3, out->password_hash, sizeof out->password_hash);
    out->created_at = pg_int(r, 0, 4);
    out->updated_at = pg_int(r, 0, 5);
    out->tokens_invalidated_at = pg_int(r, 0, 6);
    out->email_verified_at = pg_int(r, 0, 7);
    pg_text(r, 0, 8, out->role, sizeof out->role);
    PQclear(r); /* libpq frees without wiping: the hash is not a secret */
    return GH_OK;
}

enum gh_err pg_user_by_email_key(struct store_conn *c, const char *key, struct store_user *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_USER_BY_EMAIL, "user by email", &r, PG_TEXT(key));
    if (rc) return rc;
    return read_user(r, out);
}

enum gh_err pg_user_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_USER_BY_ID, "user by id", &r, PG_TEXT(id));
    if (rc) return rc;
    return read_user(r, out);
}

struct role_args {
    const char *id, *role;
};

static enum gh_err user_set_role_fn(struct store_conn *c, const void *arg)
{
    const struct role_args *a = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_USER_SET_ROLE, "user set role", &n, PG_TEXT(a->id),
                              PG_TEXT(a->role), PG_INT(gh_now_s()));
    if (rc) return rc;
    if (n != 1) return GH_ERR_NOT_FOUND;
    return pg_event_add(c, STORE_EV_ROLE_CHANGED, a->id, NULL, a->role, 0);
}

enum gh_err pg_user_set_role(struct store_conn *c, const char *id, const char *role,
                             const struct store_audit *ev)
{
    struct role_args a = {id, role};
    return pg_in_tx(c, ev, user_set_role_fn, &a);
}

struct verify_args {
    const char *id;
    int64_t now;
};

static enum gh_err user_verify_fn(struct store_conn *c, const void *arg)
{
    const struct verify_args *a = arg;
    int64_t n = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_USER_VERIFY, "user verify", &n, PG_TEXT(a->id), PG_INT(a->now));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err pg_user_verify_email(struct store_conn *c, const char *id, int64_t now,
                                 const struct store_audit *ev)
{
    struct verify_args a = {id, now};
    return pg_in_tx(c, ev, user_verify_fn, &a);
}

struct rehash_args {
    const char *id, *old_hash, *hash;
    int64_t now;
};

static enum gh_err user_rehash_fn(struct store_conn *c, const void *arg)
{
    const struct rehash_args *a = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_USER_REHASH, "user rehash", &n, PG_TEXT(a->id),
                              PG_TEXT(a->hash), PG_INT(a->now), PG_TEXT(a->old_hash));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_CONFLICT;
}

enum gh_err pg_user_rehash(struct store_conn *c, const char *id, const char *old_hash,
                           const char *hash, int64_t now, const struct store_audit *ev)
{
    struct rehash_args a = {id, old_hash, hash, now};
    return pg_in_tx(c, ev, user_rehash_fn, &a);
}

enum gh_err pg_user_other_hashes(struct store_conn *c, const char *keep_prefix, const char *after,
                                 struct store_hash_row *out, size_t max, size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_USER_OTHER_HASHES, "user other hashes", &r,
                              PG_TEXT(keep_prefix), PG_TEXT(after), PG_INT(max));
    if (rc) return rc;
    size_t rows = (size_t)pg_rows(r), i = 0;
    for (; i < rows && i < max; i++) {
        pg_text(r, (int)i, 0, out[i].id, sizeof out[i].id);
        pg_text(r, (int)i, 1, out[i].hash, sizeof out[i].hash);
    }
    PQclear(r);
    *n = i;
    return GH_OK;
}

struct set_password_args {
    const char *id, *hash, *keep_sid;
    int64_t tia, now;
};

/* The user row is updated first: a session being created for the old
 * password holds it FOR SHARE (pg_sessions.c), so either that session
 * commits first and is revoked below, or its check sees the new
 * tokens_invalidated_at and writes nothing. The change events are
 * written at the commit (pg_tail.c), after every row lock of the
 * transaction: PG_LOCK_EVENTS is never held while waiting for a row. */
static enum gh_err set_password_fn(struct store_conn *c, const void *arg)
{
    const struct set_password_args *a = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_USER_SET_PASSWORD, "set password", &n, PG_TEXT(a->id),
                              PG_TEXT(a->hash), PG_INT(a->tia), PG_INT(a->now));
    if (rc) return rc;
    if (n != 1) return GH_ERR_NOT_FOUND;
    if ((rc = pg_revoke_others(c, a->id, a->keep_sid, a->now))) return rc;
    return pg_event_add(c, STORE_EV_TOKENS_INVALIDATED, a->id, NULL, NULL, a->tia);
}

/* Its own transaction, or the caller's (a reset spends its link in it). */
enum gh_err pg_user_set_password(struct store_conn *c, const char *id, const char *hash,
                                 int64_t tia, const char *keep_sid, int64_t now,
                                 const struct store_audit *ev)
{
    struct set_password_args a = {id, hash, keep_sid, tia, now};
    return pg_in_tx(c, ev, set_password_fn, &a);
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
    rc = PG_RUN(c, SQL_USER_SET_PASSWORD, "reclaim: password", PG_TEXT(a->id), PG_TEXT("!"),
                PG_INT(a->tia), PG_INT(a->now));
    if (rc) return rc;
    /* Whoever held the account before the address was proved may have
     * linked their own provider identity: it goes with their password. */
    rc = PG_RUN(c, SQL_IDENT_DELETE_USER, "reclaim: identities", PG_TEXT(a->id));
    if (rc) return rc;
    /* Every session goes (NULL keeps none); rows first, events last. */
    if ((rc = pg_revoke_others(c, a->id, NULL, a->now))) return rc;
    return pg_event_add(c, STORE_EV_TOKENS_INVALIDATED, a->id, NULL, NULL, a->tia);
}

enum gh_err pg_user_reclaim(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                            const struct store_audit *ev)
{
    struct reclaim_args a = {id, now, tia};
    return pg_in_tx(c, ev, user_reclaim_fn, &a);
}

struct set_email_args {
    const char *id, *email, *key;
    int64_t now;
};

static enum gh_err set_email_fn(struct store_conn *c, const void *arg)
{
    const struct set_email_args *a = arg;
    int64_t n = 0;
    /* A clash on users.email_key (another account has the address) is a
     * unique violation: GH_ERR_CONFLICT, and the transaction rolls back. */
    enum gh_err rc = PG_COUNT(c, SQL_USER_SET_EMAIL, "set email", &n, PG_TEXT(a->id),
                              PG_TEXT(a->email), PG_TEXT(a->key), PG_INT(a->now));
    if (rc) return rc;
    if (n != 1) return GH_ERR_NOT_FOUND;
    return pg_event_add(c, STORE_EV_USER_CHANGED, a->id, NULL, NULL, 0);
}

/* Its own transaction, or the caller's (the link is spent in it). */
enum gh_err pg_user_set_email(struct store_conn *c, const char *id, const char *email,
                              const char *key, int64_t now, const struct store_audit *ev)
{
    struct set_email_args a = {id, email, key, now};
    return pg_in_tx(c, ev, set_email_fn, &a);
}
