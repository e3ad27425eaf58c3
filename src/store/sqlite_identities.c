/* SQLite backend: identities at OpenID providers linked to accounts, and
 * the single-use nonces of the native-app sign-in flow (stored by
 * SHA-256, never in clear). */
#include "store/sqlite_internal.h"

#include <string.h>

static enum gh_err identity_insert(struct store_conn *c, const void *arg)
{
    const struct store_identity *id = arg;
    return SQ_INSERT(c, S_IDENT_INSERT, "identity insert", SQ_TEXT(id->provider),
                     SQ_TEXT(id->subject), SQ_TEXT(id->user_id), SQ_TEXT(id->email),
                     SQ_INT(id->created_at), SQ_INT(id->last_used_at));
}

enum gh_err sq_identity_link(struct store_conn *c, const struct store_identity *id,
                             const struct store_audit *ev)
{
    return sq_in_tx(c, ev, identity_insert, id);
}

static void read_identity(sqlite3_stmt *s, struct store_identity *o)
{
    memset(o, 0, sizeof *o);
    col_text(s, 0, o->provider, sizeof o->provider);
    col_text(s, 1, o->subject, sizeof o->subject);
    col_text(s, 2, o->user_id, sizeof o->user_id);
    col_text(s, 3, o->email, sizeof o->email);
    o->created_at = sqlite3_column_int64(s, 4);
    o->last_used_at = sqlite3_column_int64(s, 5);
}

enum gh_err sq_identity_by_subject(struct store_conn *c, const char *provider, const char *subject,
                                   struct store_identity *out)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_IDENT_BY_SUBJECT, SQ_TEXT(provider), SQ_TEXT(subject));
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) read_identity(s, out);
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    return r == SQLITE_ROW ? GH_OK : sq_fail(c, "identity by subject");
}

enum gh_err sq_identity_list(struct store_conn *c, const char *user_id, struct store_identity *out,
                             size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = SQ_QUERY(c, S_IDENT_LIST, SQ_TEXT(user_id), SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW)
        read_identity(s, &out[i++]);
    if (i == max) r = SQLITE_DONE;
    done(s);
    if (r != SQLITE_DONE) return sq_fail(c, "identity list");
    *n = i;
    return GH_OK;
}

struct unlink_args {
    const char *user_id, *provider, *subject;
};

static enum gh_err identity_delete(struct store_conn *c, const void *arg)
{
    const struct unlink_args *a = arg;
    enum gh_err rc = SQ_RUN(c, S_IDENT_DELETE, "identity delete", SQ_TEXT(a->user_id),
                            SQ_TEXT(a->provider), SQ_TEXT(a->subject));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err sq_identity_unlink(struct store_conn *c, const char *user_id, const char *provider,
                               const char *subject, const struct store_audit *ev)
{
    struct unlink_args a = {user_id, provider, subject};
    return sq_in_tx(c, ev, identity_delete, &a);
}

enum gh_err sq_identity_touch(struct store_conn *c, const char *provider, const char *subject,
                              int64_t now)
{
    enum gh_err rc = SQ_RUN(c, S_IDENT_TOUCH, "identity touch", SQ_TEXT(provider), SQ_TEXT(subject),
                            SQ_INT(now));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err sq_nonce_create(struct store_conn *c, const uint8_t hash[32], const char *provider,
                            int64_t expires_at)
{
    return SQ_INSERT(c, S_NONCE_INSERT, "oauth nonce insert", SQ_BLOB(hash, 32), SQ_TEXT(provider),
                     SQ_INT(expires_at));
}

/* One UPDATE that matches only a live, unspent nonce of this provider:
 * of two concurrent spends exactly one changes the row. */
enum gh_err sq_nonce_consume(struct store_conn *c, const uint8_t hash[32], const char *provider,
                             int64_t now)
{
    enum gh_err rc = SQ_RUN(c, S_NONCE_CONSUME, "oauth nonce consume", SQ_BLOB(hash, 32),
                            SQ_TEXT(provider), SQ_INT(now));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_DENIED;
}
