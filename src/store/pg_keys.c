/* PostgreSQL backend: the vault's data keys, the signing keys, and the
 * sealed columns key rotation walks. Text keys compare and sort byte-wise
 * (COLLATE "C"), as in SQLite, whatever the database's collation: a
 * rotation pages through ids with "id > last". */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_VK_LIST[] = "SELECT kid, wrapped, created_at FROM vault_keys"
                                  " ORDER BY created_at, kid COLLATE \"C\" LIMIT $1";
static const char SQL_VK_INSERT[] =
    "INSERT INTO vault_keys (kid, wrapped, created_at) VALUES ($1, $2, $3)";
static const char SQL_VK_DELETE[] = "DELETE FROM vault_keys WHERE kid = $1";
static const char SQL_VK_REWRAP[] = "UPDATE vault_keys SET wrapped = $2 WHERE kid = $1";
/* The newest $1 keys, returned oldest first: a long history must never
 * hide the key that signs now. */
static const char SQL_SK_LIST[] =
    "SELECT kid, private_sealed, created_at, activates_at FROM (SELECT * FROM signing_keys"
    " ORDER BY activates_at DESC, created_at DESC, kid COLLATE \"C\" DESC LIMIT $1) k"
    " ORDER BY activates_at, created_at, kid COLLATE \"C\"";
static const char SQL_SK_INSERT[] = "INSERT INTO signing_keys (kid, private_sealed, created_at,"
                                    " activates_at) VALUES ($1, $2, $3, $4)";
static const char SQL_SK_DELETE[] = "DELETE FROM signing_keys WHERE kid = $1";

static const char SQL_SEALED_SK_LIST[] =
    "SELECT kid, private_sealed FROM signing_keys WHERE kid COLLATE \"C\" > $1"
    " ORDER BY kid COLLATE \"C\" LIMIT $2";
static const char SQL_SEALED_SK_REPLACE[] = "UPDATE signing_keys SET private_sealed = $3"
                                            " WHERE kid = $1 AND private_sealed = $2";
static const char SQL_SEALED_TOTP_LIST[] =
    "SELECT user_id, secret_sealed FROM mfa_totp WHERE user_id COLLATE \"C\" > $1"
    " ORDER BY user_id COLLATE \"C\" LIMIT $2";
static const char SQL_SEALED_TOTP_REPLACE[] = "UPDATE mfa_totp SET secret_sealed = $3"
                                              " WHERE user_id = $1 AND secret_sealed = $2";
static const char SQL_SEALED_MAIL_LIST[] =
    "SELECT id, message_sealed FROM mail_queue WHERE id COLLATE \"C\" > $1"
    " ORDER BY id COLLATE \"C\" LIMIT $2";
static const char SQL_SEALED_MAIL_REPLACE[] = "UPDATE mail_queue SET message_sealed = $3"
                                              " WHERE id = $1 AND message_sealed = $2";
static const char SQL_SEALED_IDEM_LIST[] =
    "SELECT id, response_sealed FROM idempotency WHERE id COLLATE \"C\" > $1"
    " AND response_sealed IS NOT NULL ORDER BY id COLLATE \"C\" LIMIT $2";
static const char SQL_SEALED_IDEM_REPLACE[] = "UPDATE idempotency SET response_sealed = $3"
                                              " WHERE id = $1 AND response_sealed = $2";
/* The sealed signer key of an imported Firebase hash sits between the
 * 17-character prefix and the first '$' (credentials/legacy_hash.h). */
static const char SQL_SEALED_PWKEY_LIST[] =
    "SELECT id, substr(password_hash, 18, strpos(password_hash, '$') - 18) FROM users"
    " WHERE id COLLATE \"C\" > $1 AND substr(password_hash, 1, 17) = '{firebase_scrypt}'"
    " AND strpos(password_hash, '$') > 18 ORDER BY id COLLATE \"C\" LIMIT $2";
static const char SQL_SEALED_PWKEY_REPLACE[] =
    "UPDATE users SET password_hash = '{firebase_scrypt}' || $3::text"
    " || substr(password_hash, 18 + length($2::text)) WHERE id = $1"
    " AND substr(password_hash, 1, 18 + length($2::text)) = '{firebase_scrypt}' || $2::text || '$'";

enum gh_err pg_vault_keys_list(struct store_conn *c, struct store_vault_key *out, size_t max,
                               size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_VK_LIST, "vault keys list", &r, PG_INT((int64_t)max));
    if (rc) return rc;
    size_t i = 0;
    for (; i < max && (int)i < pg_rows(r); i++) {
        pg_text(r, (int)i, 0, out[i].kid, sizeof out[i].kid);
        pg_text(r, (int)i, 1, out[i].wrapped, sizeof out[i].wrapped);
        out[i].created_at = pg_int(r, (int)i, 2);
    }
    PQclear(r);
    *n = i;
    return GH_OK;
}

enum gh_err pg_vault_key_insert(struct store_conn *c, const struct store_vault_key *k)
{
    return PG_RUN(c, SQL_VK_INSERT, "vault key insert", PG_TEXT(k->kid), PG_TEXT(k->wrapped),
                  PG_INT(k->created_at));
}

enum gh_err pg_vault_key_rewrap(struct store_conn *c, const char *kid, const char *wrapped)
{
    int64_t changed = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_VK_REWRAP, "vault key rewrap", &changed, PG_TEXT(kid), PG_TEXT(wrapped));
    if (rc) return rc;
    return changed == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err pg_vault_key_delete(struct store_conn *c, const char *kid)
{
    return PG_RUN(c, SQL_VK_DELETE, "vault key delete", PG_TEXT(kid));
}

enum gh_err pg_signing_keys_list(struct store_conn *c, struct store_signing_key *out, size_t max,
                                 size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_SK_LIST, "signing keys list", &r, PG_INT((int64_t)max));
    if (rc) return rc;
    size_t i = 0;
    for (; i < max && (int)i < pg_rows(r); i++) {
        pg_text(r, (int)i, 0, out[i].kid, sizeof out[i].kid);
        pg_text(r, (int)i, 1, out[i].private_sealed, sizeof out[i].private_sealed);
        out[i].created_at = pg_int(r, (int)i, 2);
        out[i].activates_at = pg_int(r, (int)i, 3);
    }
    PQclear(r);
    *n = i;
    return GH_OK;
}

/* Every server reloads its signing keys on this event (sessions/changes.h)
 * instead of waiting for the next periodic reload. */
static enum gh_err signing_key_insert_fn(struct store_conn *c, const void *arg)
{
    const struct store_signing_key *k = arg;
    enum gh_err rc =
        PG_RUN(c, SQL_SK_INSERT, "signing key insert", PG_TEXT(k->kid), PG_TEXT(k->private_sealed),
               PG_INT(k->created_at), PG_INT(k->activates_at));
    if (rc) return rc;
    return pg_event_add(c, STORE_EV_SIGNING_KEYS_CHANGED, NULL, NULL, k->kid, 0);
}

enum gh_err pg_signing_key_insert(struct store_conn *c, const struct store_signing_key *k)
{
    return pg_in_tx(c, NULL, signing_key_insert_fn, k);
}

static enum gh_err signing_key_delete_fn(struct store_conn *c, const void *arg)
{
    const char *kid = arg;
    int64_t changed = 0;
    enum gh_err rc = PG_COUNT(c, SQL_SK_DELETE, "signing key delete", &changed, PG_TEXT(kid));
    if (rc || changed == 0) return rc;
    return pg_event_add(c, STORE_EV_SIGNING_KEYS_CHANGED, NULL, NULL, kid, 0);
}

enum gh_err pg_signing_key_delete(struct store_conn *c, const char *kid)
{
    return pg_in_tx(c, NULL, signing_key_delete_fn, kid);
}

/* A switch, not a table: a field left out must fail. */
static const char *sealed_sql(enum store_sealed_field f, bool replace)
{
    switch (f) {
    case STORE_SEALED_SIGNING_KEY:
        return replace ? SQL_SEALED_SK_REPLACE : SQL_SEALED_SK_LIST;
    case STORE_SEALED_TOTP:
        return replace ? SQL_SEALED_TOTP_REPLACE : SQL_SEALED_TOTP_LIST;
    case STORE_SEALED_MAIL:
        return replace ? SQL_SEALED_MAIL_REPLACE : SQL_SEALED_MAIL_LIST;
    case STORE_SEALED_IDEMPOTENCY:
        return replace ? SQL_SEALED_IDEM_REPLACE : SQL_SEALED_IDEM_LIST;
    case STORE_SEALED_PASSWORD_KEY:
        return replace ? SQL_SEALED_PWKEY_REPLACE : SQL_SEALED_PWKEY_LIST;
    case STORE_SEALED_COUNT:
        break;
    }
    return NULL;
}

enum gh_err pg_sealed_list(struct store_conn *c, enum store_sealed_field f, const char *after,
                           struct store_sealed *out, size_t max, size_t *n)
{
    *n = 0;
    const char *sql = sealed_sql(f, false);
    if (!sql) return GH_ERR_INVALID;
    PGresult *r = NULL;
    enum gh_err rc =
        PG_QUERY(c, sql, "sealed list", &r, PG_TEXT(after ? after : ""), PG_INT((int64_t)max));
    if (rc) return rc;
    size_t i = 0;
    for (; i < max && (int)i < pg_rows(r); i++) {
        pg_text(r, (int)i, 0, out[i].id, sizeof out[i].id);
        if (!(out[i].value = pg_strdup(r, (int)i, 1))) {
            rc = GH_ERR_NOMEM;
            break;
        }
    }
    PQclear(r);
    if (rc) {
        store_sealed_clear(out, i);
        return rc;
    }
    *n = i;
    return GH_OK;
}

enum gh_err pg_sealed_replace(struct store_conn *c, enum store_sealed_field f, const char *id,
                              const char *old, const char *value)
{
    const char *sql = sealed_sql(f, true);
    if (!sql) return GH_ERR_INVALID;
    int64_t changed = 0;
    enum gh_err rc =
        PG_COUNT(c, sql, "sealed replace", &changed, PG_TEXT(id), PG_TEXT(old), PG_TEXT(value));
    if (rc) return rc;
    return changed == 1 ? GH_OK : GH_ERR_CONFLICT;
}
