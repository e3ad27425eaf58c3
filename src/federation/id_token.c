/* ID token verification (id_token.h). */
#include "federation/id_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <jansson.h>

#include "accounts/email.h"
#include "core/util.h"

static enum gh_err deny(char *why, size_t whylen, const char *what)
{
    snprintf(why, whylen, "%s", what);
    return GH_ERR_DENIED;
}

/* v is a JSON string equal to s, byte for byte (an embedded NUL does not
 * end the comparison early). */
static bool jstr_is(const json_t *v, const char *s)
{
    return json_is_string(v) && s && json_string_length(v) == strlen(s) &&
           memcmp(json_string_value(v), s, strlen(s)) == 0;
}

/* The key type and curve an alg needs. */
static bool key_fits(const struct fed_jwk *k, const char *alg)
{
    if (k->alg[0] && strcmp(k->alg, alg) != 0) return false;
    if (alg[0] == 'R' || alg[0] == 'P') return strcmp(k->kty, "RSA") == 0;
    if (strcmp(k->kty, "EC") != 0) return false;
    if (strcmp(alg, "ES256") == 0) return strcmp(k->crv, "P-256") == 0;
    if (strcmp(alg, "ES384") == 0) return strcmp(k->crv, "P-384") == 0;
    if (strcmp(alg, "ES512") == 0) return strcmp(k->crv, "P-521") == 0;
    return false;
}

/* ECDSA signatures have one length per curve (r || s); cjose alone would
 * take a longer one, so a token could be re-encoded without the key. */
static bool es_sig_len_ok(const char *token, size_t len, const char *alg)
{
    size_t want = strcmp(alg, "ES256") == 0   ? 64
                  : strcmp(alg, "ES384") == 0 ? 96
                  : strcmp(alg, "ES512") == 0 ? 132
                                              : 0;
    if (!want) return true;
    const char *sig = memrchr(token, '.', len);
    uint8_t buf[140];
    size_t got = 0;
    return sig &&
           gh_b64url_decode(buf, sizeof buf, &got, sig + 1, len - (size_t)(sig + 1 - token)) ==
               GH_OK &&
           got == want;
}

static bool sig_ok(cjose_jws_t *jws, const struct fed_jwk *k)
{
    cjose_err cerr;
    cjose_jwk_t *jwk = cjose_jwk_import(k->json, strlen(k->json), &cerr);
    bool ok = jwk && cjose_jws_verify(jws, jwk, &cerr);
    if (jwk) cjose_jwk_release(jwk);
    return ok;
}

/* A string claim of at most cap - 1 bytes of UTF-8 without control
 * characters; false otherwise. */
static bool text_claim(const json_t *v, char *dst, size_t cap)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!s || n == 0 || n >= cap || strlen(s) != n || !gh_utf8_valid(s, n)) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* Cuts s to at most cap - 1 bytes at a character boundary. */
static void utf8_cut(char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n < cap) return;
    n = cap - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    s[n] = '\0';
}

static void take_name(const json_t *j, struct fed_claims *out)
{
    char buf[512];
    if (text_claim(json_object_get(j, "name"), buf, sizeof buf)) {
        utf8_cut(buf, sizeof out->name);
        memcpy(out->name, buf, strlen(buf) + 1);
        return;
    }
    char g[256] = "", f[256] = "";
    bool hg = text_claim(json_object_get(j, "given_name"), g, sizeof g);
    bool hf = text_claim(json_object_get(j, "family_name"), f, sizeof f);
    if (!hg && !hf) return;
    snprintf(buf, sizeof buf, "%s%s%s", g, hg && hf ? " " : "", f);
    utf8_cut(buf, sizeof out->name);
    memcpy(out->name, buf, strlen(buf) + 1);
}

static const char *const second_factors[] = {"mfa", "otp", "hwk", "swk", "sms", "tel", "sc"};

static bool amr_mfa(const json_t *amr)
{
    size_t i;
    const json_t *v;
    json_array_foreach(amr, i, v)
    {
        const char *s = json_string_value(v);
        for (size_t k = 0; s && k < sizeof second_factors / sizeof second_factors[0]; k++)
            if (strcmp(s, second_factors[k]) == 0) return true;
    }
    return false;
}

/* aud (a string or a list) holds one of v->auds; with several audiences
 * azp must be that one. */
static bool aud_ok(const json_t *j, const struct fed_verify *v)
{
    const json_t *aud = json_object_get(j, "aud");
    const json_t *list[FED_MAX_AUDS];
    size_t n = 0;
    if (json_is_string(aud))
        list[n++] = aud;
    else if (json_is_array(aud) && json_array_size(aud) <= FED_MAX_AUDS) {
        size_t i;
        const json_t *a;
        json_array_foreach(aud, i, a)
        {
            if (!json_is_string(a)) return false;
            list[n++] = a;
        }
    } else
        return false;
    const json_t *azp = json_object_get(j, "azp");
    if (azp && !json_is_string(azp)) return false;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < v->n_auds; k++) {
            if (!v->auds[k] || !v->auds[k][0] || !jstr_is(list[i], v->auds[k])) continue;
            /* Several audiences: the party the token was issued to must be us.
             * One audience: azp may name another client of the same project
             * (Google's Android tokens carry aud = the server's client id and
             * azp = the app's), which OIDC Core leaves to the client. */
            if (n > 1 && !jstr_is(azp, v->auds[k])) return false;
            return true;
        }
    return false;
}

static bool nonce_ok(const json_t *j, const struct fed_verify *v)
{
    const char *got = json_string_value(json_object_get(j, "nonce"));
    if (!got || !v->nonce || !v->nonce[0]) return false;
    size_t gl = json_string_length(json_object_get(j, "nonce")), nl = strlen(v->nonce);
    bool eq = gh_ct_equal(got, gl, v->nonce, nl);
    if (v->nonce_hashed_ok) {
        uint8_t h[GH_SHA256_BYTES];
        char hex[2 * GH_SHA256_BYTES + 1];
        if (gh_sha256(h, v->nonce, nl) != GH_OK) return false;
        gh_hex(hex, h, sizeof h);
        eq |= gh_ct_equal(got, gl, hex, strlen(hex));
        gh_wipe(hex, sizeof hex);
        gh_wipe(h, sizeof h);
    }
    return eq;
}

/* A NumericDate claim: an integer (or a real without a fraction, as some
 * providers write), in a sane range. */
static bool time_claim(const json_t *v, int64_t *out)
{
    if (json_is_integer(v))
        *out = (int64_t)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1e11)
        *out = (int64_t)json_real_value(v);
    else
        return false;
    return *out >= 0 && *out < 100000000000LL;
}

/* The reason a time claim fails, or NULL. */
static const char *times_fail(const json_t *j, const struct fed_verify *v, int64_t *iat)
{
    int64_t exp, nbf;
    if (!time_claim(json_object_get(j, "exp"), &exp)) return "no exp";
    if (!time_claim(json_object_get(j, "iat"), iat)) return "no iat";
    if (exp <= v->now - v->skew) return "expired";
    if (*iat > v->now + v->skew) return "issued in the future";
    const json_t *n = json_object_get(j, "nbf");
    if (n && (!time_claim(n, &nbf) || nbf > v->now + v->skew)) return "not yet valid";
    return NULL;
}

/* The reason the claims fail a check, or NULL (c->iat and c->sub set). */
static const char *claims_fail(const json_t *j, const struct fed_verify *v, struct fed_claims *c)
{
    if (!json_is_object(j)) return "claims are not a JSON object";
    const json_t *iss = json_object_get(j, "iss");
    if (!jstr_is(iss, v->issuer) && !(v->issuer_alt && jstr_is(iss, v->issuer_alt)))
        return "wrong issuer";
    if (!aud_ok(j, v)) return "wrong audience";
    const char *t = times_fail(j, v, &c->iat);
    if (t) return t;
    if (!nonce_ok(j, v)) return "wrong nonce";
    if (!text_claim(json_object_get(j, "sub"), c->sub, sizeof c->sub)) return "no usable sub";
    return NULL;
}

enum gh_err fed_id_token_claims(const char *payload, size_t len, const struct fed_verify *v,
                                struct fed_claims *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    struct fed_claims c = {0};
    const char *fail = claims_fail(j, v, &c);
    enum gh_err rc = fail ? deny(why, whylen, fail) : GH_OK;
    if (rc == GH_OK) {
        char addr[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
        const json_t *em = json_object_get(j, "email"), *ev = json_object_get(j, "email_verified");
        if (json_is_string(em) && strlen(json_string_value(em)) == json_string_length(em) &&
            email_normalize(json_string_value(em), json_string_length(em), addr, key) == GH_OK) {
            memcpy(c.email, addr, strlen(addr) + 1);
            /* JSON true, or Apple's string "true"; nothing else. */
            c.email_verified = json_is_true(ev) || jstr_is(ev, "true");
        }
        take_name(j, &c);
        c.mfa = amr_mfa(json_object_get(j, "amr"));
        *out = c;
    }
    gh_json_wipe(j);
    json_decref(j);
    gh_wipe(&c, sizeof c);
    return rc;
}

/* The keys of s that may verify this header: by kid (all keys when the
 * header has none), of a type fitting alg. *known: some key has the kid. */
static size_t pick_keys(const struct fed_jwks *s, const char *kid, const char *alg,
                        const struct fed_jwk *out[FED_JWKS_MAX_KEYS], bool *known)
{
    size_t n = 0;
    *known = false;
    for (size_t i = 0; s && i < s->n; i++) {
        if (kid && strcmp(s->k[i].kid, kid) != 0) continue;
        *known = true;
        if (key_fits(&s->k[i], alg)) out[n++] = &s->k[i];
    }
    return n;
}

enum gh_err fed_id_token_verify(const char *token, size_t len, const struct fed_jwks *keys,
                                const struct fed_verify *v, struct fed_claims *out,
                                bool *unknown_kid, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    *unknown_kid = false;
    if (!token || len == 0 || len > FED_ID_TOKEN_MAX) return deny(why, whylen, "token size");
    for (size_t i = 0; i < len; i++) /* base64url and dots only */
        if (!(token[i] == '.' || token[i] == '-' || token[i] == '_' ||
              (token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'z') ||
              (token[i] >= 'A' && token[i] <= 'Z')))
            return deny(why, whylen, "malformed token");
    cjose_err cerr;
    cjose_jws_t *jws = cjose_jws_import(token, len, &cerr);
    if (!jws) return deny(why, whylen, "malformed token");
    enum gh_err rc = GH_ERR_DENIED;
    cjose_header_t *hdr = cjose_jws_get_protected(jws);
    const char *alg = hdr ? cjose_header_get(hdr, CJOSE_HDR_ALG, &cerr) : NULL;
    const char *kid = hdr ? cjose_header_get(hdr, CJOSE_HDR_KID, &cerr) : NULL;
    const struct fed_jwk *cand[FED_JWKS_MAX_KEYS];
    bool known = false;
    size_t n = 0;
    if (!alg || !(fed_alg_bit(alg) & v->algs)) {
        deny(why, whylen, "algorithm not allowed");
        goto out;
    }
    /* cjose's header is a jansson object. crit: no extension is understood;
     * jku, x5u, jwk, x5c are ignored (only the provider's JWKS is trusted). */
    const json_t *hj = (const json_t *)hdr, *hk = json_object_get(hj, "kid");
    if (json_object_get(hj, "crit") || (hk && !json_is_string(hk))) {
        deny(why, whylen, "unsupported header");
        goto out;
    }
    if (!es_sig_len_ok(token, len, alg)) {
        deny(why, whylen, "bad signature");
        goto out;
    }
    n = pick_keys(keys, kid, alg, cand, &known);
    if (!known || (!kid && n == 0)) {
        *unknown_kid = true;
        deny(why, whylen, "unknown key");
        goto out;
    }
    bool ok = false;
    for (size_t i = 0; !ok && i < n; i++)
        ok = sig_ok(jws, cand[i]);
    if (!ok) {
        deny(why, whylen, n ? "bad signature" : "key does not fit the algorithm");
        goto out;
    }
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    if (!cjose_jws_get_plaintext(jws, &pt, &ptlen, &cerr) || !pt) {
        deny(why, whylen, "malformed token");
        goto out;
    }
    rc = fed_id_token_claims((const char *)pt, ptlen, v, out, why, whylen);
out:
    cjose_jws_release(jws);
    return rc;
}
