#include "http/idempotency.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

#define T "idempotency"
#define C "response_sealed"

bool idem_key_valid(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= IDEM_KEY_MAX || v[n] <= 0x20 || v[n] >= 0x7f) return false;
    return n > 0;
}

/* HMAC-SHA256 under a vault subkey of the parts, each length-prefixed. */
static enum gh_err mac(const char *label, const char *const *parts, const size_t *lens, int n,
                       uint8_t out[32])
{
    uint8_t key[32];
    if (vault_derive(label, key) != GH_OK) return GH_ERR_INTERNAL;
    enum gh_err rc = GH_ERR_INTERNAL;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    if (ctx && EVP_MAC_init(ctx, key, sizeof key, params)) {
        int ok = 1;
        for (int i = 0; ok && i < n; i++) {
            uint8_t len[8];
            for (int k = 0; k < 8; k++)
                len[k] = (uint8_t)((uint64_t)lens[i] >> (56 - 8 * k));
            ok = EVP_MAC_update(ctx, len, 8) &&
                 EVP_MAC_update(ctx, (const uint8_t *)parts[i], lens[i]);
        }
        if (ok && EVP_MAC_final(ctx, out, &outl, 32) && outl == 32) rc = GH_OK;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    gh_wipe(key, sizeof key);
    return rc;
}

static void replay(struct gh_req *r, const char *sealed)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    if (vault_open(T, C, r->idem_id, sealed, &pt, &len) != GH_OK) {
        gh_log(GH_LOG_ERROR, "vault: %s.%s row %s does not open", T, C, r->idem_id);
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    json_t *j = json_loadb((const char *)pt, len, 0, NULL);
    vault_free(pt, len);
    json_t *st = json_object_get(j, "s"), *body = json_object_get(j, "b");
    if (!json_is_integer(st)) {
        json_decref(j);
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    r->idem_replayed = true;
    gh_reply(r, (int)json_integer_value(st), json_is_null(body) ? NULL : json_incref(body));
    /* A replayed error logs its code as the first did (a row's static string). */
    const char *code = json_string_value(json_object_get(json_object_get(body, "error"), "code"));
    const struct gh_error_row *row = code && r->status >= 400 ? gh_error_by_code(code) : NULL;
    if (row) r->error_code = row->code;
    json_decref(j); /* not wiped: the reply shares its body (req_put wipes that) */
}

/* Before the handler: true to run it; false when r's reply is already set
 * (a replay, 409, 422, or a failure). No-op (true) without a key. */
static bool idem_begin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (!r->idem_key[0] || !r->authed) return true;
    const char *route = r->route->name ? r->route->name : r->route->path;
    const char *id_parts[] = {r->ident.user_id, route, r->idem_key};
    size_t id_lens[] = {strlen(id_parts[0]), strlen(route), strlen(r->idem_key)};
    uint8_t id[32], body_mac[32];
    char *canon = r->body ? json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *b_parts[] = {r->param, canon ? canon : ""};
    size_t b_lens[] = {strlen(r->param), canon ? strlen(canon) : 0};
    enum gh_err rc = mac("gatehouse idempotency id v1", id_parts, id_lens, 3, id);
    if (rc == GH_OK) rc = mac("gatehouse idempotency body v1", b_parts, b_lens, 2, body_mac);
    gh_free_secret_str(canon); /* a password may be in it */
    if (rc) {
        gh_reply_fail(r, rc);
        return false;
    }
    gh_hex(r->idem_id, id, sizeof id);
    struct store_idem prev = {0};
    rc = ops->idem.claim(c, r->idem_id, body_mac, gh_now_s(), &prev);
    if (rc == GH_OK) {
        r->idem_claimed = true;
        return true;
    }
    if (rc == GH_ERR_CONFLICT) {
        if (CRYPTO_memcmp(prev.body_mac, body_mac, 32) != 0)
            gh_fail(r, GH_E_IDEMPOTENCY_MISMATCH);
        else if (prev.status == 0 || !prev.response_sealed)
            gh_fail(r, GH_E_IDEMPOTENCY_IN_PROGRESS);
        else
            replay(r, prev.response_sealed);
    } else {
        gh_reply_fail(r, rc);
    }
    free(prev.response_sealed);
    return false;
}

/* After the handler: records r's reply for replays, or frees the claim
 * when the reply is a 5xx. */
static void idem_end(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (!r->idem_claimed) return;
    /* Only a JSON reply without extra headers is recorded: a replay
     * rebuilds status and body alone. */
    if (r->status >= 500 || r->status == 0 || r->resp_text || r->resp_type || r->reply_nhdr) {
        if (ops->idem.release(c, r->idem_id) != GH_OK)
            gh_log(GH_LOG_ERROR, "idempotency: cannot release %s", r->idem_id);
        return;
    }
    json_t *j = json_pack("{s:i,s:O?}", "s", r->status, "b", r->resp);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL, *sealed = NULL;
    json_decref(j); /* not wiped: it shares r->resp, still to be sent */
    enum gh_err rc =
        text ? vault_seal(T, C, r->idem_id, (const uint8_t *)text, strlen(text), &sealed)
             : GH_ERR_NOMEM;
    gh_free_secret_str(text);
    if (rc == GH_OK) rc = ops->idem.complete(c, r->idem_id, r->status, sealed);
    free(sealed);
    /* Unrecorded, the claim must not stay "in progress" for a day. */
    if (rc != GH_OK && ops->idem.release(c, r->idem_id) != GH_OK)
        gh_log(GH_LOG_ERROR, "idempotency: cannot release %s", r->idem_id);
}

void idem_run(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (!idem_begin(r, ops, c)) return;
    r->route->fn(r, ops, c);
    idem_end(r, ops, c);
}
