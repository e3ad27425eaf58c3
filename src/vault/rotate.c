#include "vault/rotate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

#define BATCH 200

static const struct {
    enum store_sealed_field f;
    const char *table, *column;
} fields[] = {
    {STORE_SEALED_SIGNING_KEY, "signing_keys", "private_sealed"},
    {STORE_SEALED_TOTP, "mfa_totp", "secret_sealed"},
    {STORE_SEALED_MAIL, "mail_queue", "message_sealed"},
    {STORE_SEALED_IDEMPOTENCY, "idempotency", "response_sealed"},
    {STORE_SEALED_PASSWORD_KEY, "users", "password_hash"}, /* imported Firebase hashes */
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* One pass over every sealed value. Counts values not under kid in
 * *stale; re-seals them when reseal is set. */
static enum gh_err pass(const struct store_ops *ops, struct store_conn *c, const char *kid,
                        int reseal, size_t *stale, size_t *resealed)
{
    struct store_sealed *rows = calloc(BATCH, sizeof *rows);
    if (!rows) return GH_ERR_NOMEM;
    enum gh_err rc = GH_OK;
    *stale = 0;
    for (size_t fi = 0; rc == GH_OK && fi < NFIELDS; fi++) {
        char after[STORE_KID_MAX + 1] = "";
        for (;;) {
            size_t n = 0;
            if ((rc = ops->sealed.list(c, fields[fi].f, after, rows, BATCH, &n))) break;
            if (n == 0) break;
            bool in_tx = false;
            for (size_t i = 0; rc == GH_OK && i < n; i++) {
                char vk[VAULT_KID_LEN + 1];
                if (vault_sealed_kid(rows[i].value, vk) == GH_OK && strcmp(vk, kid) == 0) continue;
                (*stale)++;
                if (!reseal) continue;
                uint8_t *pt = NULL;
                size_t len = 0;
                char *fresh = NULL;
                rc = vault_open(fields[fi].table, fields[fi].column, rows[i].id, rows[i].value, &pt,
                                &len);
                if (rc) {
                    gh_log(GH_LOG_ERROR, "vault: %s.%s row %s does not open (%s); left as is",
                           fields[fi].table, fields[fi].column, rows[i].id, gh_err_name(rc));
                    rc = GH_ERR_DENIED;
                    break;
                }
                rc = vault_seal(fields[fi].table, fields[fi].column, rows[i].id, pt, len, &fresh);
                vault_free(pt, len);
                if (rc == GH_OK && !in_tx) {
                    rc = ops->tx.begin_write(c);
                    in_tx = rc == GH_OK;
                }
                if (rc == GH_OK) {
                    rc = ops->sealed.replace(c, fields[fi].f, rows[i].id, rows[i].value, fresh);
                    if (rc == GH_OK) (*resealed)++;
                    if (rc == GH_ERR_CONFLICT) rc = GH_OK; /* changed meanwhile: next pass */
                }
                free(fresh);
            }
            if (in_tx) {
                if (rc == GH_OK)
                    rc = ops->tx.commit(c);
                else
                    ops->tx.rollback(c);
            }
            memcpy(after, rows[n - 1].id, sizeof after);
            store_sealed_clear(rows, n);
            if (rc || n < BATCH) break;
        }
    }
    free(rows);
    return rc;
}

/* Deletes data keys that no sealed value uses, except the current one. */
static enum gh_err retire_unused(const struct store_ops *ops, struct store_conn *c,
                                 const char *current, size_t *retired)
{
    struct store_vault_key *keys = calloc(VAULT_MAX_KEYS, sizeof *keys);
    struct store_sealed *rows = calloc(BATCH, sizeof *rows);
    bool used[VAULT_MAX_KEYS] = {false};
    size_t nk = 0;
    enum gh_err rc =
        (keys && rows) ? ops->vault_keys.list(c, keys, VAULT_MAX_KEYS, &nk) : GH_ERR_NOMEM;
    for (size_t fi = 0; rc == GH_OK && fi < NFIELDS; fi++) {
        char after[STORE_KID_MAX + 1] = "";
        for (;;) {
            size_t n = 0;
            if ((rc = ops->sealed.list(c, fields[fi].f, after, rows, BATCH, &n)) || n == 0) break;
            for (size_t i = 0; i < n; i++) {
                char vk[VAULT_KID_LEN + 1];
                if (vault_sealed_kid(rows[i].value, vk)) continue;
                for (size_t k = 0; k < nk; k++)
                    if (strcmp(keys[k].kid, vk) == 0) used[k] = true;
            }
            memcpy(after, rows[n - 1].id, sizeof after);
            store_sealed_clear(rows, n);
            if (n < BATCH) break;
        }
    }
    for (size_t k = 0; rc == GH_OK && k < nk; k++) {
        if (used[k] || strcmp(keys[k].kid, current) == 0) continue;
        if ((rc = ops->vault_keys.delete(c, keys[k].kid)) == GH_OK) (*retired)++;
    }
    if (keys) gh_wipe(keys, VAULT_MAX_KEYS * sizeof *keys);
    free(keys);
    free(rows);
    return rc;
}

enum gh_err vault_rotate(const struct store_ops *ops, struct store_conn *c,
                         struct vault_rotation *out)
{
    memset(out, 0, sizeof *out);
    char kid[VAULT_KID_LEN + 1];
    size_t stale = 0;
    vault_current_kid(kid);
    enum gh_err rc = pass(ops, c, kid, 0, &stale, &out->resealed);
    if (rc) return rc;
    if (stale > 0 && kid[0]) {
        out->resumed = 1;
    } else if ((rc = vault_add_key(ops, c, kid))) {
        return rc;
    }
    memcpy(out->new_kid, kid, sizeof kid);
    if ((rc = pass(ops, c, kid, 1, &stale, &out->resealed))) return rc;
    /* A server that loaded the keys just before the new one was added may
     * still seal with the old key for a moment (servers reload every 2 s):
     * wait that out, then sweep again before retiring old keys. */
    sleep(3);
    if ((rc = pass(ops, c, kid, 1, &stale, &out->resealed))) return rc;
    if ((rc = pass(ops, c, kid, 0, &stale, &out->resealed))) return rc;
    if (stale) return GH_ERR_CONFLICT; /* still changing under us: run again */
    return retire_unused(ops, c, kid, &out->retired);
}
