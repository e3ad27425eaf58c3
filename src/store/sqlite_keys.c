/* SQLite backend: the vault's data keys, the signing keys, and the sealed
 * columns key rotation walks. */
#include "store/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

enum gh_err sq_vault_keys_list(struct store_conn *c, struct store_vault_key *out, size_t max,
                               size_t *n)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_VK_LIST, SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].kid, sizeof out[i].kid);
        col_text(s, 1, out[i].wrapped, sizeof out[i].wrapped);
        out[i].created_at = sqlite3_column_int64(s, 2);
        i++;
    }
    if (i < max && r != SQLITE_DONE) {
        done(s);
        return sq_fail(c, "vault keys list");
    }
    done(s);
    *n = i;
    return GH_OK;
}

enum gh_err sq_vault_key_insert(struct store_conn *c, const struct store_vault_key *k)
{
    return SQ_RUN(c, S_VK_INSERT, "vault key insert", SQ_TEXT(k->kid), SQ_TEXT(k->wrapped),
                  SQ_INT(k->created_at));
}

enum gh_err sq_vault_key_rewrap(struct store_conn *c, const char *kid, const char *wrapped)
{
    enum gh_err rc = SQ_RUN(c, S_VK_REWRAP, "vault key rewrap", SQ_TEXT(kid), SQ_TEXT(wrapped));
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

enum gh_err sq_vault_key_delete(struct store_conn *c, const char *kid)
{
    return sq_delete_by_id(c, S_VK_DELETE, kid);
}

enum gh_err sq_signing_keys_list(struct store_conn *c, struct store_signing_key *out, size_t max,
                                 size_t *n)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_SK_LIST, SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r = SQLITE_DONE;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].kid, sizeof out[i].kid);
        col_text(s, 1, out[i].private_sealed, sizeof out[i].private_sealed);
        out[i].created_at = sqlite3_column_int64(s, 2);
        out[i].activates_at = sqlite3_column_int64(s, 3);
        i++;
    }
    done(s);
    if (r != SQLITE_DONE && r != SQLITE_ROW) return sq_fail(c, "signing keys list");
    *n = i;
    return GH_OK;
}

/* Every server reloads its signing keys on this event (sessions/changes.h)
 * instead of waiting for the next periodic reload. */
static enum gh_err signing_key_insert_fn(struct store_conn *c, const void *arg)
{
    const struct store_signing_key *k = arg;
    enum gh_err rc =
        SQ_INSERT(c, S_SK_INSERT, "signing key insert", SQ_TEXT(k->kid), SQ_TEXT(k->private_sealed),
                  SQ_INT(k->created_at), SQ_INT(k->activates_at));
    if (rc) return rc;
    return sq_event_add(c, STORE_EV_SIGNING_KEYS_CHANGED, NULL, NULL, k->kid, 0);
}

enum gh_err sq_signing_key_insert(struct store_conn *c, const struct store_signing_key *k)
{
    return sq_in_tx(c, NULL, signing_key_insert_fn, k);
}

static enum gh_err signing_key_delete_fn(struct store_conn *c, const void *arg)
{
    const char *kid = arg;
    enum gh_err rc = sq_delete_by_id(c, S_SK_DELETE, kid);
    if (rc || sqlite3_changes(c->db) == 0) return rc;
    return sq_event_add(c, STORE_EV_SIGNING_KEYS_CHANGED, NULL, NULL, kid, 0);
}

enum gh_err sq_signing_key_delete(struct store_conn *c, const char *kid)
{
    return sq_in_tx(c, NULL, signing_key_delete_fn, kid);
}

/* A switch, not a table: a field left out must fail, not map to
 * statement 0 (which is BEGIN). */
static int sealed_stmt(enum store_sealed_field f, bool replace, enum stmt_id *out)
{
    switch (f) {
    case STORE_SEALED_SIGNING_KEY:
        *out = replace ? S_SEALED_SK_REPLACE : S_SEALED_SK_LIST;
        return 0;
    case STORE_SEALED_TOTP:
        *out = replace ? S_SEALED_TOTP_REPLACE : S_SEALED_TOTP_LIST;
        return 0;
    case STORE_SEALED_MAIL:
        *out = replace ? S_SEALED_MAIL_REPLACE : S_SEALED_MAIL_LIST;
        return 0;
    case STORE_SEALED_IDEMPOTENCY:
        *out = replace ? S_SEALED_IDEM_REPLACE : S_SEALED_IDEM_LIST;
        return 0;
    case STORE_SEALED_PASSWORD_KEY:
        *out = replace ? S_SEALED_PWKEY_REPLACE : S_SEALED_PWKEY_LIST;
        return 0;
    case STORE_SEALED_COUNT:
        break;
    }
    return -1;
}

enum gh_err sq_sealed_list(struct store_conn *c, enum store_sealed_field f, const char *after,
                           struct store_sealed *out, size_t max, size_t *n)
{
    enum stmt_id id;
    if (sealed_stmt(f, false, &id)) return GH_ERR_INVALID;
    sqlite3_stmt *s = sq_stmt(c, id);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, after ? after : "");
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    size_t i = 0;
    int r = SQLITE_DONE;
    enum gh_err rc = GH_OK;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].id, sizeof out[i].id);
        if (!(out[i].value = strdup(ctext(s, 1)))) {
            rc = GH_ERR_NOMEM;
            break;
        }
        i++;
    }
    done(s);
    if (rc == GH_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = sq_fail(c, "sealed list");
    if (rc) {
        store_sealed_clear(out, i);
        return rc;
    }
    *n = i;
    return GH_OK;
}

enum gh_err sq_sealed_replace(struct store_conn *c, enum store_sealed_field f, const char *id,
                              const char *old, const char *value)
{
    enum stmt_id sid;
    if (sealed_stmt(f, true, &sid)) return GH_ERR_INVALID;
    sqlite3_stmt *s = sq_stmt(c, sid);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    bind_text(s, 2, old);
    bind_text(s, 3, value);
    enum gh_err rc = sq_exec(c, s, "sealed replace");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}
