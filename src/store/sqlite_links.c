/* SQLite backend: the emailed links (sign-in, reset, verification, email
 * change). */
#include "store/sqlite_internal.h"

#include <string.h>

struct magic_args {
    const uint8_t *hash;
    const struct store_magic *m;
    int64_t now;
};

/* A new link replaces the account's unused ones of the same purpose: only
 * the newest email works. */
static enum gh_err magic_create_fn(struct store_conn *c, const void *arg)
{
    const struct magic_args *a = arg;
    const char *purpose = a->m->purpose[0] ? a->m->purpose : "signin";
    enum gh_err rc = SQ_RUN(c, S_MAGIC_SUPERSEDE, "magic supersede", SQ_TEXT(a->m->email_key),
                            SQ_TEXT(purpose), SQ_INT(a->now));
    if (rc) return rc;
    return SQ_RUN(c, S_MAGIC_INSERT, "magic insert", SQ_BLOB(a->hash, 32), SQ_TEXT(a->m->email_key),
                  SQ_TEXT(a->m->email), SQ_INT(a->now), SQ_INT(a->m->expires_at), SQ_TEXT(purpose),
                  SQ_TEXT(a->m->new_email));
}

enum gh_err sq_magic_create(struct store_conn *c, const uint8_t hash[32],
                            const struct store_magic *m, int64_t now)
{
    struct magic_args a = {hash, m, now};
    return sq_in_tx(c, NULL, magic_create_fn, &a);
}

enum gh_err sq_magic_revoke_all(struct store_conn *c, const char *email_key, int64_t now)
{
    return SQ_RUN(c, S_MAGIC_REVOKE_ALL, "magic revoke all", SQ_TEXT(email_key), SQ_INT(now));
}

enum gh_err sq_magic_get(struct store_conn *c, const uint8_t hash[32], struct store_magic *out)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_MAGIC_GET, SQ_BLOB(hash, 32));
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, out->email_key, sizeof out->email_key);
        col_text(s, 1, out->email, sizeof out->email);
        out->expires_at = sqlite3_column_int64(s, 2);
        out->used_at = sqlite3_column_int64(s, 3);
        col_text(s, 4, out->purpose, sizeof out->purpose);
        col_text(s, 5, out->new_email, sizeof out->new_email);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    return r == SQLITE_ROW ? GH_OK : sq_fail(c, "magic get");
}

enum gh_err sq_magic_consume(struct store_conn *c, const uint8_t hash[32], const char *purpose,
                             int64_t now, struct store_magic *out)
{
    enum gh_err rc = SQ_RUN(c, S_MAGIC_CONSUME, "magic consume", SQ_BLOB(hash, 32), SQ_INT(now),
                            SQ_TEXT(purpose));
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_DENIED; /* unknown or used: one winner */
    rc = sq_magic_get(c, hash, out);
    return rc == GH_ERR_NOT_FOUND ? GH_ERR_DENIED : rc;
}
