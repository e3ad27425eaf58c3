#include "federation/pending_link.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/util.h"
#include "federation/federated.h"
#include "sessions/cookie.h"
#include "vault/vault.h"

/* The vault binds a sealed value to (table, column, row): a pseudo row no
 * table has, so no stored value opens as a pending link, nor the reverse. */
#define SEAL_TABLE "cookie"
#define SEAL_COLUMN "pending_link"
#define SEAL_ROW "v1"

const char *fed_pending_cookie_name(void)
{
    return cookie_secure() ? "__Host-gh_link" : "gh_link";
}

enum gh_err fed_pending_encode(const char *provider, const struct fed_claims *cl,
                               int64_t expires_at, char *out, size_t cap)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:s,s:b,s:I,s:I}", "p", provider, "s", cl->sub, "e",
                          cl->email, "v", cl->email_verified, "n", cl->name, "m", cl->mfa, "i",
                          (json_int_t)cl->iat, "x", (json_int_t)expires_at);
    char *pt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    gh_json_wipe(j);
    json_decref(j);
    if (!pt) return GH_ERR_NOMEM;
    char *sealed = NULL;
    size_t ptlen = strlen(pt);
    enum gh_err rc =
        vault_seal(SEAL_TABLE, SEAL_COLUMN, SEAL_ROW, (const uint8_t *)pt, ptlen, &sealed);
    gh_wipe(pt, ptlen);
    free(pt);
    if (rc) return rc;
    rc = gh_b64url_encode(out, cap, sealed, strlen(sealed));
    free(sealed);
    return rc;
}

/* A string member of at most cap - 1 bytes into out. */
static bool str_member(json_t *o, const char *k, char *out, size_t cap)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || json_string_length(v) >= cap) return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return strlen(out) == json_string_length(v); /* no NUL inside */
}

bool fed_pending_parse(const uint8_t *pt, size_t len, int64_t now, char provider[FED_NAME_MAX + 1],
                       struct fed_claims *out)
{
    memset(out, 0, sizeof *out);
    provider[0] = '\0';
    json_t *j = json_loadb((const char *)pt, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *x = json_object_get(j, "x"), *i = json_object_get(j, "i");
    json_t *v = json_object_get(j, "v"), *m = json_object_get(j, "m");
    bool ok = json_is_object(j) && json_is_integer(x) && json_integer_value(x) > now &&
              json_is_integer(i) && json_is_boolean(v) && json_is_boolean(m) &&
              str_member(j, "p", provider, FED_NAME_MAX + 1) &&
              str_member(j, "s", out->sub, sizeof out->sub) &&
              str_member(j, "e", out->email, sizeof out->email) &&
              str_member(j, "n", out->name, sizeof out->name) &&
              federated_provider_name_ok(provider) && out->sub[0];
    if (ok) {
        out->email_verified = json_is_true(v);
        out->mfa = json_is_true(m);
        out->iat = (int64_t)json_integer_value(i);
    } else {
        gh_wipe(out, sizeof *out);
        provider[0] = '\0';
    }
    gh_json_wipe(j);
    json_decref(j);
    return ok;
}

bool fed_pending_decode(const char *value, int64_t now, char provider[FED_NAME_MAX + 1],
                        struct fed_claims *out)
{
    size_t vlen = strlen(value), slen = 0;
    char *sealed = vlen ? malloc(vlen + 1) : NULL;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    bool ok = false;
    if (sealed && gh_b64url_decode(sealed, vlen, &slen, value, vlen) == GH_OK && slen < vlen) {
        sealed[slen] = '\0';
        ok = strlen(sealed) == slen &&
             vault_open(SEAL_TABLE, SEAL_COLUMN, SEAL_ROW, sealed, &pt, &ptlen) == GH_OK &&
             fed_pending_parse(pt, ptlen, now, provider, out);
    }
    if (pt) vault_free(pt, ptlen);
    free(sealed);
    if (!ok) {
        memset(out, 0, sizeof *out);
        provider[0] = '\0';
    }
    return ok;
}

bool fed_pending_set(struct gh_req *r, const char *provider, const struct fed_claims *cl)
{
    char v[GH_LINK_COOKIE_MAX + 1];
    enum gh_err rc = fed_pending_encode(provider, cl, gh_now_s() + FED_PENDING_TTL, v, sizeof v);
    if (rc == GH_OK) rc = gh_reply_cookie(r, fed_pending_cookie_name(), v, FED_PENDING_TTL);
    gh_wipe(v, sizeof v);
    if (rc) gh_reply_fail(r, GH_ERR_INTERNAL);
    return rc == GH_OK;
}

bool fed_pending_get(struct gh_req *r, char provider[FED_NAME_MAX + 1], struct fed_claims *out)
{
    if (!r->link_cookie[0]) {
        memset(out, 0, sizeof *out);
        provider[0] = '\0';
        return false;
    }
    return fed_pending_decode(r->link_cookie, gh_now_s(), provider, out);
}

bool fed_pending_clear(struct gh_req *r)
{
    enum gh_err rc = gh_reply_cookie(r, fed_pending_cookie_name(), "", 0);
    if (rc) gh_reply_fail(r, GH_ERR_INTERNAL);
    return rc == GH_OK;
}
