#include "federation/state_cookie.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "sessions/cookie.h"
#include "vault/vault.h"

#define MAGIC "gho1"
#define MAGIC_LEN 4
#define KID_LEN VAULT_KID_LEN
#define GCM_NONCE_LEN 16 /* base64url of the vault's 12-byte GCM nonce */

const char *state_cookie_name(void)
{
    return cookie_secure() ? "__Host-gh_oauth" : "gh_oauth";
}

static bool b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool provider_ok(const char *s, size_t n)
{
    if (n == 0 || n > STATE_COOKIE_PROVIDER_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* A user id: canonical UUID text (hex and dashes). */
static bool user_id_ok(const char *s, size_t n)
{
    if (n != STORE_ID_LEN) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
            return false;
    return true;
}

/* A checked return URL: visible ASCII only. */
static bool rd_ok(const char *s, size_t n)
{
    if (n > STATE_COOKIE_RD_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

void state_cookie_wipe(struct state_cookie *sc)
{
    gh_wipe(sc, sizeof *sc);
}

enum gh_err state_cookie_new(struct state_cookie *sc, const char *provider, const char *rd,
                             const char *link_user_id, int64_t now)
{
    state_cookie_wipe(sc);
    size_t pl = provider ? strlen(provider) : 0;
    size_t rl = rd ? strlen(rd) : 0;
    if (!provider_ok(provider, pl) ||
        (link_user_id && !user_id_ok(link_user_id, strlen(link_user_id))))
        return GH_ERR_INVALID;
    if (gh_random_token(sc->state, sizeof sc->state, 32) ||
        gh_random_token(sc->nonce, sizeof sc->nonce, 32) ||
        gh_random_token(sc->verifier, sizeof sc->verifier, 32)) {
        state_cookie_wipe(sc);
        return GH_ERR_INTERNAL;
    }
    memcpy(sc->provider, provider, pl + 1);
    if (rl && rd_ok(rd, rl)) memcpy(sc->rd, rd, rl + 1);
    if (link_user_id) {
        memcpy(sc->user_id, link_user_id, STORE_ID_LEN + 1);
        sc->link = true;
    }
    sc->expires_at = now + STATE_COOKIE_TTL_S;
    return GH_OK;
}

enum gh_err state_cookie_challenge(const struct state_cookie *sc,
                                   char out[STATE_COOKIE_RANDOM_LEN + 1])
{
    uint8_t h[GH_SHA256_BYTES];
    enum gh_err rc = gh_sha256(h, sc->verifier, strlen(sc->verifier));
    if (rc == GH_OK) rc = gh_b64url_encode(out, STATE_COOKIE_RANDOM_LEN + 1, h, sizeof h);
    gh_wipe(h, sizeof h);
    return rc;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

enum gh_err state_cookie_encode(const struct state_cookie *sc, uint8_t *out, size_t cap,
                                size_t *len)
{
    size_t pl = strnlen(sc->provider, sizeof sc->provider),
           ul = strnlen(sc->user_id, sizeof sc->user_id), rl = strnlen(sc->rd, sizeof sc->rd);
    const char *rnd[3] = {sc->state, sc->nonce, sc->verifier};
    for (int i = 0; i < 3; i++)
        if (strnlen(rnd[i], STATE_COOKIE_RANDOM_LEN + 1) != STATE_COOKIE_RANDOM_LEN ||
            !b64url_chars(rnd[i], STATE_COOKIE_RANDOM_LEN))
            return GH_ERR_INVALID;
    if (!provider_ok(sc->provider, pl) || !rd_ok(sc->rd, rl) || sc->link != (ul > 0) ||
        (ul && !user_id_ok(sc->user_id, ul)) || cap < STATE_COOKIE_PLAIN_MAX)
        return GH_ERR_INVALID;
    size_t o = 0;
    memcpy(out, MAGIC, MAGIC_LEN);
    o += MAGIC_LEN;
    put_be(out + o, (uint64_t)sc->expires_at, 8);
    o += 8;
    out[o++] = sc->link ? 1 : 0;
    for (int i = 0; i < 3; i++, o += STATE_COOKIE_RANDOM_LEN)
        memcpy(out + o, rnd[i], STATE_COOKIE_RANDOM_LEN);
    out[o++] = (uint8_t)pl;
    memcpy(out + o, sc->provider, pl);
    o += pl;
    out[o++] = (uint8_t)ul;
    memcpy(out + o, sc->user_id, ul);
    o += ul;
    put_be(out + o, rl, 2);
    o += 2;
    memcpy(out + o, sc->rd, rl);
    *len = o + rl;
    return GH_OK;
}

/* Takes n bytes at *o of in (len) into dst (NUL-terminated). */
static bool take(const uint8_t *in, size_t len, size_t *o, size_t n, char *dst)
{
    if (n > len - *o) return false;
    memcpy(dst, in + *o, n);
    dst[n] = '\0';
    *o += n;
    return true;
}

enum gh_err state_cookie_parse(const uint8_t *in, size_t len, struct state_cookie *out)
{
    state_cookie_wipe(out);
    size_t o = MAGIC_LEN + 8 + 1;
    if (!in || len < o || len > STATE_COOKIE_PLAIN_MAX || memcmp(in, MAGIC, MAGIC_LEN) != 0 ||
        in[MAGIC_LEN + 8] > 1)
        goto bad;
    out->expires_at = (int64_t)get_be(in + MAGIC_LEN, 8);
    out->link = in[MAGIC_LEN + 8] == 1;
    char *rnd[3] = {out->state, out->nonce, out->verifier};
    for (int i = 0; i < 3; i++)
        if (!take(in, len, &o, STATE_COOKIE_RANDOM_LEN, rnd[i]) ||
            !b64url_chars(rnd[i], STATE_COOKIE_RANDOM_LEN))
            goto bad;
    size_t n;
    if (o >= len || (n = in[o++]) == 0 || n > STATE_COOKIE_PROVIDER_MAX ||
        !take(in, len, &o, n, out->provider) || !provider_ok(out->provider, n))
        goto bad;
    if (o >= len || ((n = in[o++]) != 0 && n != STORE_ID_LEN) ||
        !take(in, len, &o, n, out->user_id) || (n && !user_id_ok(out->user_id, n)) ||
        out->link != (n > 0))
        goto bad;
    if (len - o < 2) goto bad;
    n = (size_t)get_be(in + o, 2);
    o += 2;
    if (n > STATE_COOKIE_RD_MAX || n != len - o || !take(in, len, &o, n, out->rd) ||
        !rd_ok(out->rd, n))
        goto bad;
    return GH_OK;
bad:
    state_cookie_wipe(out);
    return GH_ERR_INVALID;
}

bool state_cookie_unwrap(const char *value, size_t len, char *out, size_t cap)
{
    if (!value || len <= KID_LEN + GCM_NONCE_LEN || len > STATE_COOKIE_VALUE_MAX || cap < len + 4 ||
        !b64url_chars(value, len))
        return false;
    int n = snprintf(out, cap, "v1.%.*s.%.*s.%.*s", KID_LEN, value, GCM_NONCE_LEN, value + KID_LEN,
                     (int)(len - KID_LEN - GCM_NONCE_LEN), value + KID_LEN + GCM_NONCE_LEN);
    return n > 0 && (size_t)n < cap;
}

enum gh_err state_cookie_seal(const struct state_cookie *sc, char out[STATE_COOKIE_VALUE_MAX + 1])
{
    uint8_t plain[STATE_COOKIE_PLAIN_MAX];
    size_t len = 0;
    char *sealed = NULL;
    enum gh_err rc = state_cookie_encode(sc, plain, sizeof plain, &len);
    if (rc == GH_OK) rc = vault_seal("cookie", "gh_oauth", sc->provider, plain, len, &sealed);
    gh_wipe(plain, sizeof plain);
    if (rc) return rc == GH_ERR_INVALID ? GH_ERR_INVALID : GH_ERR_INTERNAL;
    /* "v1." kid "." nonce "." ct: the kid and the nonce have fixed lengths */
    size_t sl = strlen(sealed);
    rc = GH_ERR_INTERNAL;
    if (sl > 3 + KID_LEN + 1 + GCM_NONCE_LEN + 1 && sealed[3 + KID_LEN] == '.' &&
        sealed[3 + KID_LEN + 1 + GCM_NONCE_LEN] == '.' && sl - 5 <= STATE_COOKIE_VALUE_MAX) {
        size_t o = 0;
        memcpy(out + o, sealed + 3, KID_LEN);
        o += KID_LEN;
        memcpy(out + o, sealed + 3 + KID_LEN + 1, GCM_NONCE_LEN);
        o += GCM_NONCE_LEN;
        size_t ct = sl - (3 + KID_LEN + 1 + GCM_NONCE_LEN + 1);
        memcpy(out + o, sealed + sl - ct, ct);
        out[o + ct] = '\0';
        rc = GH_OK;
    }
    gh_free_secret_str(sealed);
    return rc;
}

enum gh_err state_cookie_open(const char *value, size_t len, const char *provider, int64_t now,
                              struct state_cookie *out)
{
    state_cookie_wipe(out);
    char sealed[STATE_COOKIE_VALUE_MAX + 8];
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    if (!provider || !state_cookie_unwrap(value, len, sealed, sizeof sealed)) return GH_ERR_DENIED;
    enum gh_err rc = vault_open("cookie", "gh_oauth", provider, sealed, &pt, &ptlen);
    gh_wipe(sealed, sizeof sealed);
    if (rc == GH_ERR_NOMEM) return rc;
    if (rc) return GH_ERR_DENIED;
    rc = state_cookie_parse(pt, ptlen, out);
    vault_free(pt, ptlen);
    if (rc || strcmp(out->provider, provider) != 0 || now >= out->expires_at) {
        state_cookie_wipe(out);
        return GH_ERR_DENIED;
    }
    return GH_OK;
}

bool state_cookie_state_ok(const struct state_cookie *sc, const char *state, size_t len)
{
    /* fail closed on a wiped sc: its state is never empty */
    return state && len == STATE_COOKIE_RANDOM_LEN &&
           strnlen(sc->state, sizeof sc->state) == STATE_COOKIE_RANDOM_LEN &&
           gh_ct_equal(sc->state, STATE_COOKIE_RANDOM_LEN, state, len);
}
