#include "pages/form_token.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "core/util.h"
#include "http/server.h"
#include "sessions/cookie.h"
#include "vault/vault.h"

#define COOKIE_LABEL "gatehouse form cookie v1"
#define FIELD_LABEL "gatehouse form field v1"
#define EXPIRY_BYTES 8
#define MAC_BYTES 32
#define RAW_BYTES (EXPIRY_BYTES + PAGES_FORM_NONCE_BYTES + MAC_BYTES)

_Static_assert(PAGES_FORM_COOKIE_LEN == GH_FORM_COOKIE_LEN, "r->form_cookie holds one cookie");
_Static_assert(PAGES_FORM_COOKIE_LEN == GH_B64URL_LEN(RAW_BYTES), "the cookie's length");
_Static_assert(PAGES_FORM_TOKEN_LEN == GH_B64URL_LEN(MAC_BYTES), "the field's length");

/* Guarded memory, read-only after init (read on loops and workers alike,
 * like the CSRF key of cookie.c). */
static struct pages_form_keys *keys;

enum gh_err pages_form_token_init(char *err, size_t errlen)
{
    if (!keys) keys = sodium_malloc(sizeof *keys);
    if (!keys || sodium_mprotect_readwrite(keys) != 0) {
        snprintf(err, errlen, "out of memory");
        return GH_ERR_NOMEM;
    }
    enum gh_err rc = vault_derive(COOKIE_LABEL, keys->cookie);
    if (rc == GH_OK) rc = vault_derive(FIELD_LABEL, keys->field);
    if (rc) sodium_memzero(keys, sizeof *keys);
    sodium_mprotect_readonly(keys);
    if (rc) snprintf(err, errlen, "cannot derive the form token keys");
    return rc;
}

void pages_form_token_shutdown(void)
{
    if (keys) {
        sodium_mprotect_readwrite(keys);
        sodium_free(keys); /* wipes before unmapping */
        keys = NULL;
    }
}

const char *pages_form_cookie_name(void)
{
    return cookie_secure() ? "__Host-gh_form" : "gh_form";
}

/* HMAC-SHA256(key, label with its NUL || msg); msg at most 64 bytes. */
static bool mac(const uint8_t key[PAGES_FORM_KEYBYTES], const char *label, const uint8_t *msg,
                size_t ml, uint8_t out[MAC_BYTES])
{
    uint8_t buf[64 + 64];
    size_t ll = strlen(label) + 1;
    unsigned int n = 0;
    bool ok = ll <= 64 && ml <= 64;
    if (ok) {
        memcpy(buf, label, ll);
        memcpy(buf + ll, msg, ml);
        ok = HMAC(EVP_sha256(), key, PAGES_FORM_KEYBYTES, buf, ll + ml, out, &n) && n == MAC_BYTES;
    }
    gh_wipe(buf, sizeof buf);
    if (!ok) gh_wipe(out, MAC_BYTES);
    return ok;
}

static void put_be64(uint8_t out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)u;
        u >>= 8;
    }
}

static int64_t get_be64(const uint8_t in[8])
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | in[i];
    return (int64_t)u;
}

bool pages_form_cookie_make(const struct pages_form_keys *k, int64_t expiry,
                            const uint8_t nonce[PAGES_FORM_NONCE_BYTES],
                            char out[PAGES_FORM_COOKIE_LEN + 1])
{
    uint8_t raw[RAW_BYTES];
    put_be64(raw, expiry);
    memcpy(raw + EXPIRY_BYTES, nonce, PAGES_FORM_NONCE_BYTES);
    bool ok = mac(k->cookie, COOKIE_LABEL, raw, EXPIRY_BYTES + PAGES_FORM_NONCE_BYTES,
                  raw + EXPIRY_BYTES + PAGES_FORM_NONCE_BYTES) &&
              gh_b64url_encode(out, PAGES_FORM_COOKIE_LEN + 1, raw, sizeof raw) == GH_OK;
    gh_wipe(raw, sizeof raw);
    if (!ok) out[0] = '\0';
    return ok;
}

enum pages_form_result pages_form_cookie_open(const struct pages_form_keys *k, const char *val,
                                              size_t len, int64_t now,
                                              uint8_t nonce[PAGES_FORM_NONCE_BYTES],
                                              int64_t *expiry)
{
    uint8_t raw[RAW_BYTES], want[MAC_BYTES];
    size_t n = 0;
    enum pages_form_result res = PAGES_FORM_NO_COOKIE;
    if (nonce) memset(nonce, 0, PAGES_FORM_NONCE_BYTES);
    if (expiry) *expiry = 0;
    if (!val || len != PAGES_FORM_COOKIE_LEN ||
        gh_b64url_decode(raw, sizeof raw, &n, val, len) != GH_OK || n != RAW_BYTES)
        goto out;
    res = PAGES_FORM_BAD_COOKIE;
    if (!mac(k->cookie, COOKIE_LABEL, raw, EXPIRY_BYTES + PAGES_FORM_NONCE_BYTES, want) ||
        sodium_memcmp(want, raw + EXPIRY_BYTES + PAGES_FORM_NONCE_BYTES, MAC_BYTES) != 0)
        goto out;
    int64_t exp = get_be64(raw);
    /* Signed by us, so never further off than PAGES_FORM_TTL_S; a value
     * beyond it means the clock went back a lot, which is refused too. */
    res = PAGES_FORM_EXPIRED;
    if (exp <= now || exp > now + PAGES_FORM_TTL_S + 300) goto out;
    res = PAGES_FORM_OK;
    if (nonce) memcpy(nonce, raw + EXPIRY_BYTES, PAGES_FORM_NONCE_BYTES);
    if (expiry) *expiry = exp;
out:
    gh_wipe(raw, sizeof raw);
    gh_wipe(want, sizeof want);
    return res;
}

bool pages_form_field_of(const struct pages_form_keys *k,
                         const uint8_t nonce[PAGES_FORM_NONCE_BYTES],
                         char out[PAGES_FORM_TOKEN_LEN + 1])
{
    uint8_t m[MAC_BYTES];
    bool ok = mac(k->field, FIELD_LABEL, nonce, PAGES_FORM_NONCE_BYTES, m) &&
              gh_b64url_encode(out, PAGES_FORM_TOKEN_LEN + 1, m, sizeof m) == GH_OK;
    gh_wipe(m, sizeof m);
    if (!ok) out[0] = '\0';
    return ok;
}

enum pages_form_result pages_form_check(const struct pages_form_keys *k, const char *cookie,
                                        size_t cookie_len, const char *field, size_t field_len,
                                        int64_t now)
{
    uint8_t nonce[PAGES_FORM_NONCE_BYTES];
    char want[PAGES_FORM_TOKEN_LEN + 1];
    enum pages_form_result res = pages_form_cookie_open(k, cookie, cookie_len, now, nonce, NULL);
    if (res == PAGES_FORM_OK) {
        bool ok = pages_form_field_of(k, nonce, want) && field &&
                  gh_ct_equal(want, PAGES_FORM_TOKEN_LEN, field, field_len);
        if (!ok) res = PAGES_FORM_BAD_FIELD;
    }
    gh_wipe(nonce, sizeof nonce);
    gh_wipe(want, sizeof want);
    return res;
}

bool pages_form_token(struct gh_req *r, char out[PAGES_FORM_TOKEN_LEN + 1])
{
    uint8_t nonce[PAGES_FORM_NONCE_BYTES];
    int64_t now = gh_now_s(), expiry = 0;
    bool ok = false;
    out[0] = '\0';
    if (!keys) goto out;
    if (pages_form_cookie_open(keys, r->form_cookie, strlen(r->form_cookie), now, nonce, &expiry) ==
            PAGES_FORM_OK &&
        expiry - now >= PAGES_FORM_REUSE_MIN_S) {
        ok = pages_form_field_of(keys, nonce, out);
        goto out;
    }
    char value[PAGES_FORM_COOKIE_LEN + 1];
    gh_random(nonce, sizeof nonce);
    ok = pages_form_cookie_make(keys, now + PAGES_FORM_TTL_S, nonce, value) &&
         pages_form_field_of(keys, nonce, out) &&
         gh_reply_cookie(r, pages_form_cookie_name(), value, PAGES_FORM_TTL_S) == GH_OK;
    /* Later calls for this request reuse it instead of setting another. */
    if (ok) memcpy(r->form_cookie, value, sizeof value);
    gh_wipe(value, sizeof value);
out:
    gh_wipe(nonce, sizeof nonce);
    if (!ok) {
        gh_wipe(out, PAGES_FORM_TOKEN_LEN + 1);
        gh_reply_fail(r, GH_ERR_INTERNAL);
    }
    return ok;
}

enum pages_form_result pages_form_request_check(const struct gh_req *r)
{
    if (!keys) return PAGES_FORM_NO_COOKIE;
    return pages_form_check(keys, r->form_cookie, strlen(r->form_cookie), r->csrf, r->csrf_len,
                            gh_now_s());
}
