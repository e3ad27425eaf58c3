/* PostgreSQL backend: identities at OpenID providers linked to accounts,
 * the single-use nonces of the native-app sign-in flow (stored by SHA-256,
 * never in clear), and accounts brought from another system (gatehouse
 * import, a provider's first sign-in). The model is sqlite_identities.c
 * and sqlite_import.c.
 *
 * Inserts that may clash use ON CONFLICT DO NOTHING and count the row: a
 * clash answers GH_ERR_CONFLICT without failing the caller's transaction
 * (a unique violation would abort it in PostgreSQL, not in SQLite), and a
 * concurrent insert of the same key waits for the first to commit. */
#include "store/pg_internal.h"

#include <string.h>

static const char SQL_IDENT_INSERT[] =
    "INSERT INTO identities (provider, subject, user_id, email, created_at,"
    " last_used_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
static const char SQL_IDENT_BY_SUBJECT[] =
    "SELECT provider, subject, user_id, email, created_at, last_used_at"
    " FROM identities WHERE provider = $1 AND subject = $2";
static const char SQL_IDENT_LIST[] =
    "SELECT provider, subject, user_id, email, created_at, last_used_at"
    " FROM identities WHERE user_id = $1 ORDER BY created_at, provider, subject LIMIT $2";
static const char SQL_IDENT_DELETE[] = "DELETE FROM identities WHERE user_id = $1"
                                       " AND provider = $2 AND subject = $3";
static const char SQL_IDENT_TOUCH[] = "UPDATE identities SET last_used_at = $3"
                                      " WHERE provider = $1 AND subject = $2";
static const char SQL_NONCE_INSERT[] = "INSERT INTO oauth_nonces (nonce_hash, provider,"
                                       " expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
/* Matches only a live, unspent nonce of this provider: of concurrent
 * spends exactly one changes the row (the other re-reads it spent). */
static const char SQL_NONCE_CONSUME[] =
    "UPDATE oauth_nonces SET used_at = $3 WHERE nonce_hash = $1"
    " AND provider = $2 AND used_at IS NULL AND expires_at > $3";
/* Any unique key (id, email_key) clashing inserts nothing. */
static const char SQL_IMPORT_USER[] =
    "INSERT INTO users (id, email, email_key, password_hash, created_at,"
    " updated_at, tokens_invalidated_at, email_verified_at, role, name)"
    " VALUES ($1, $2, $3, $4, $5, $5, 0, NULLIF($6::bigint, 0), $7, $8) ON CONFLICT DO NOTHING";
static const char SQL_IMPORT_TOTP[] =
    "INSERT INTO mfa_totp (user_id, secret_sealed, created_at, confirmed_at,"
    " last_step) VALUES ($1, $2, $3, $3, -1)";

/* ---- identities ---- */

static enum gh_err identity_insert(struct store_conn *c, const void *arg)
{
    const struct store_identity *id = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_IDENT_INSERT, "identity insert", &n, PG_TEXT(id->provider),
                              PG_TEXT(id->subject), PG_TEXT(id->user_id), PG_TEXT(id->email),
                              PG_INT(id->created_at), PG_INT(id->last_used_at));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_CONFLICT;
}

enum gh_err pg_identity_link(struct store_conn *c, const struct store_identity *id,
                             const struct store_audit *ev)
{
    return pg_in_tx(c, ev, identity_insert, id);
}

static void read_identity(const PGresult *r, int row, struct store_identity *o)
{
    memset(o, 0, sizeof *o);
    pg_text(r, row, 0, o->provider, sizeof o->provider);
    pg_text(r, row, 1, o->subject, sizeof o->subject);
    pg_text(r, row, 2, o->user_id, sizeof o->user_id);
    pg_text(r, row, 3, o->email, sizeof o->email);
    o->created_at = pg_int(r, row, 4);
    o->last_used_at = pg_int(r, row, 5);
}

enum gh_err pg_identity_by_subject(struct store_conn *c, const char *provider, const char *subject,
                                   struct store_identity *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_IDENT_BY_SUBJECT, "identity by subject", &r, PG_TEXT(provider),
                              PG_TEXT(subject));
    if (rc) return rc;
    if (pg_rows(r) == 1)
        read_identity(r, 0, out);
    else
        rc = GH_ERR_NOT_FOUND;
    PQclear(r);
    return rc;
}

enum gh_err pg_identity_list(struct store_conn *c, const char *user_id, struct store_identity *out,
                             size_t max, size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc =
        PG_QUERY(c, SQL_IDENT_LIST, "identity list", &r, PG_TEXT(user_id), PG_INT(max));
    if (rc) return rc;
    size_t i = 0;
    for (; i < (size_t)pg_rows(r) && i < max; i++)
        read_identity(r, (int)i, &out[i]);
    PQclear(r);
    *n = i;
    return GH_OK;
}

struct unlink_args {
    const char *user_id, *provider, *subject;
};

static enum gh_err identity_delete(struct store_conn *c, const void *arg)
{
    const struct unlink_args *a = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_IDENT_DELETE, "identity delete", &n, PG_TEXT(a->user_id),
                              PG_TEXT(a->provider), PG_TEXT(a->subject));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err pg_identity_unlink(struct store_conn *c, const char *user_id, const char *provider,
                               const char *subject, const struct store_audit *ev)
{
    struct unlink_args a = {user_id, provider, subject};
    return pg_in_tx(c, ev, identity_delete, &a);
}

enum gh_err pg_identity_touch(struct store_conn *c, const char *provider, const char *subject,
                              int64_t now)
{
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_IDENT_TOUCH, "identity touch", &n, PG_TEXT(provider),
                              PG_TEXT(subject), PG_INT(now));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

/* ---- native-flow nonces ---- */

enum gh_err pg_nonce_create(struct store_conn *c, const uint8_t hash[32], const char *provider,
                            int64_t expires_at)
{
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_NONCE_INSERT, "oauth nonce insert", &n, PG_BYTEA(hash, 32),
                              PG_TEXT(provider), PG_INT(expires_at));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_CONFLICT;
}

enum gh_err pg_nonce_consume(struct store_conn *c, const uint8_t hash[32], const char *provider,
                             int64_t now)
{
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_NONCE_CONSUME, "oauth nonce consume", &n, PG_BYTEA(hash, 32),
                              PG_TEXT(provider), PG_INT(now));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_DENIED;
}

/* ---- imported accounts ---- */

struct import_args {
    const struct store_user *u;
    const char *name, *totp_sealed;
};

static enum gh_err import_fn(struct store_conn *c, const void *arg)
{
    const struct import_args *a = arg;
    const struct store_user *u = a->u;
    int64_t n = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_IMPORT_USER, "import user", &n, PG_TEXT(u->id), PG_TEXT(u->email),
                 PG_TEXT(u->email_key), PG_TEXT(u->password_hash), PG_INT(u->created_at),
                 PG_INT(u->email_verified_at), PG_TEXT(u->role), PG_TEXT(a->name ? a->name : ""));
    if (rc) return rc;
    if (n != 1) return GH_ERR_CONFLICT;
    if (!a->totp_sealed) return GH_OK;
    /* Confirmed at import: the person set it up in the other system. */
    return PG_RUN(c, SQL_IMPORT_TOTP, "import totp", PG_TEXT(u->id), PG_TEXT(a->totp_sealed),
                  PG_INT(gh_now_s()));
}

/* Its own write transaction, or the caller's (the importer's batch). A
 * clash of the address leaves nothing: the factor is inserted after. */
enum gh_err pg_import_user(struct store_conn *c, const struct store_user *u, const char *name,
                           const char *totp_sealed, const struct store_audit *ev)
{
    struct import_args a = {u, name, totp_sealed};
    return pg_in_tx(c, ev, import_fn, &a);
}
