/* Unit tests for src/sessions/jwt.c: ES256 access tokens.
 *
 * Tokens come from jwt_sign, from cjose with another key, or from a small
 * OpenSSL signer below that signs arbitrary header/payload bytes with the
 * real key, so every claim check can be reached with a valid signature. */
#include "testutil.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>

#include "core/util.h"
#include "sessions/jwt.h"

static char *pem;      /* the signing key given to jwt_init */
static EVP_PKEY *pkey; /* the same key, for the raw signer */
static int64_t now;

static const char *SUB = "7d4e2a3c-5b1f-4c8e-9a2d-0f6b3e8c1a57";
static const char *SID = "c0ffee00-1234-4abc-8def-0123456789ab";
static const char *JTI = "AAECAwQFBgcICQoLDA0ODw";

static int setup(void **state)
{
    (void)state;
    test_config();
    memcpy(gh_cfg.issuer, "https://auth.example.com", strlen("https://auth.example.com") + 1);
    memcpy(gh_cfg.audience, "gatehouse-test", strlen("gatehouse-test") + 1);
    pem = test_p256_pem();
    BIO *bio = BIO_new_mem_buf(pem, -1);
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!pkey) return -1;
    now = gh_now_s();
    return jwt_init(pem) == GH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    jwt_shutdown();
    EVP_PKEY_free(pkey);
    free(pem);
    return 0;
}

/* ---- helpers ---- */

static struct jwt_claims claims(int64_t iat, int64_t exp)
{
    struct jwt_claims c;
    memset(&c, 0, sizeof c);
    memcpy(c.sub, SUB, strlen(SUB) + 1);
    memcpy(c.sid, SID, strlen(SID) + 1);
    memcpy(c.jti, JTI, strlen(JTI) + 1);
    c.iat = iat;
    c.exp = exp;
    return c;
}

/* noinline: inlined, GCC -O2 takes the returned token for a pointer into
 * the local `tok` (a false -Wdangling-pointer in the release build). */
__attribute__((noinline)) static char *sign(int64_t iat, int64_t exp)
{
    struct jwt_claims c = claims(iat, exp);
    char *tok = NULL;
    assert_int_equal(jwt_sign(&c, &tok), GH_OK);
    assert_non_null(tok);
    return tok;
}

static enum gh_err verify(const char *tok, int64_t at)
{
    struct jwt_claims out;
    return jwt_verify(tok, strlen(tok), at, &out);
}

static char *b64(const void *in, size_t len)
{
    char *out = malloc(GH_B64URL_LEN(len) + 1);
    assert_non_null(out);
    assert_int_equal(gh_b64url_encode(out, GH_B64URL_LEN(len) + 1, in, len), GH_OK);
    return out;
}

/* Decodes segment i (0-based) of a compact token into a heap string. */
static char *segment(const char *tok, int i)
{
    const char *p = tok;
    for (int k = 0; k < i; k++) {
        p = strchr(p, '.');
        assert_non_null(p);
        p++;
    }
    size_t l = strcspn(p, ".");
    char *out = malloc(l + 1);
    assert_non_null(out);
    size_t n = 0;
    assert_int_equal(gh_b64url_decode(out, l, &n, p, l), GH_OK);
    out[n] = '\0';
    return out;
}

/* ES256 over "b64(header).b64(payload)" with key k (raw r||s signature). */
static char *sign_raw_with(EVP_PKEY *k, const char *header, const char *payload)
{
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    size_t inlen = strlen(h) + 1 + strlen(p);
    char *tok = malloc(inlen + 1 + 86 + 1);
    assert_non_null(tok);
    snprintf(tok, inlen + 1, "%s.%s", h, p);
    free(h);
    free(p);

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    size_t dlen = 0;
    assert_int_equal(EVP_DigestSign(md, NULL, &dlen, (const uint8_t *)tok, inlen), 1);
    uint8_t *der = malloc(dlen);
    assert_non_null(der);
    assert_int_equal(EVP_DigestSign(md, der, &dlen, (const uint8_t *)tok, inlen), 1);
    EVP_MD_CTX_free(md);
    const uint8_t *dp = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &dp, (long)dlen);
    assert_non_null(sig);
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    uint8_t raw[64];
    assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
    assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
    ECDSA_SIG_free(sig);
    free(der);
    char *sg = b64(raw, sizeof raw);
    assert_int_equal(strlen(sg), 86);
    tok[inlen] = '.';
    memcpy(tok + inlen + 1, sg, strlen(sg) + 1);
    free(sg);
    return tok;
}

static char *std_header(void)
{
    static char h[256];
    snprintf(h, sizeof h, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", jwt_kid());
    return h;
}

static char *sign_raw(const char *header, const char *payload)
{
    return sign_raw_with(pkey, header, payload);
}

/* A valid payload with one claim replaced (or removed when value is NULL,
 * or added when the key is new). value is raw JSON. */
static char *payload_with(const char *key, const char *value)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "iss", gh_cfg.issuer, "aud",
                          gh_cfg.audience, "sub", SUB, "sid", SID, "jti", JTI, "iat",
                          (json_int_t)now, "exp", (json_int_t)(now + 600));
    assert_non_null(o);
    if (key && !value) json_object_del(o, key);
    if (key && value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_object_set_new(o, key, v);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(s);
    return s;
}

static void expect_raw(const char *header, const char *payload, enum gh_err want)
{
    char *tok = sign_raw(header, payload);
    enum gh_err rc = verify(tok, now);
    if (rc != want) fail_msg("header %s payload %s: got %d, want %d", header, payload, rc, want);
    free(tok);
}

static void expect_claim(const char *key, const char *value, enum gh_err want)
{
    char *p = payload_with(key, value);
    expect_raw(std_header(), p, want);
    free(p);
}

/* ---- sign / verify ---- */

static void round_trip(void **state)
{
    (void)state;
    char *tok = sign(now, now + 900);
    assert_true(strlen(tok) < JWT_MAX_LEN);
    struct jwt_claims out;
    memset(&out, 0x5a, sizeof out);
    assert_int_equal(jwt_verify(tok, strlen(tok), now, &out), GH_OK);
    assert_string_equal(out.sub, SUB);
    assert_string_equal(out.sid, SID);
    assert_string_equal(out.jti, JTI);
    assert_int_equal(out.iat, now);
    assert_int_equal(out.exp, now + 900);
    assert_int_equal(out.rev, 0);
    gh_free_secret_str(tok);

    /* "rev" round-trips; -1 leaves it out, and a token without it reads -1 */
    struct jwt_claims c = claims(now, now + 900);
    c.rev = now + 7;
    assert_int_equal(jwt_sign(&c, &tok), GH_OK);
    assert_int_equal(jwt_verify(tok, strlen(tok), now, &out), GH_OK);
    assert_int_equal(out.rev, now + 7);
    assert_true(jwt_current(&out, now + 7));
    assert_false(jwt_current(&out, now + 8));
    gh_free_secret_str(tok);
    c.rev = -1;
    assert_int_equal(jwt_sign(&c, &tok), GH_OK);
    char *pl0 = segment(tok, 1);
    assert_null(strstr(pl0, "\"rev\""));
    free(pl0);
    assert_int_equal(jwt_verify(tok, strlen(tok), now, &out), GH_OK);
    assert_int_equal(out.rev, -1);
    assert_true(jwt_current(&out, now));
    assert_false(jwt_current(&out, now + 1));
    gh_free_secret_str(tok);
    tok = sign(now, now + 900);

    /* shape: three segments, ES256 with our kid, iss and aud from config */
    char *hdr = segment(tok, 0), *pl = segment(tok, 1);
    json_t *h = json_loads(hdr, 0, NULL), *p = json_loads(pl, 0, NULL);
    assert_non_null(h);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), jwt_kid());
    assert_string_equal(json_string_value(json_object_get(p, "iss")), gh_cfg.issuer);
    assert_string_equal(json_string_value(json_object_get(p, "aud")), gh_cfg.audience);
    assert_int_equal(json_integer_value(json_object_get(p, "exp")), now + 900);
    json_decref(h);
    json_decref(p);
    free(hdr);
    free(pl);
    char *sig = strrchr(tok, '.');
    assert_int_equal(strlen(sig + 1), 86);

    /* the raw signer agrees with jwt_sign (control for the tests below) */
    char *pay = payload_with(NULL, NULL);
    char *raw = sign_raw(std_header(), pay);
    assert_int_equal(verify(raw, now), GH_OK);
    free(raw);
    free(pay);
    gh_free_secret_str(tok);
}

static void signatures_differ(void **state)
{
    (void)state;
    /* ECDSA is randomised: the same claims give two different valid tokens. */
    char *a = sign(now, now + 900), *b = sign(now, now + 900);
    assert_string_not_equal(a, b);
    assert_int_equal(verify(a, now), GH_OK);
    assert_int_equal(verify(b, now), GH_OK);
    free(a);
    free(b);
}

static void time_checks(void **state)
{
    (void)state;
    char *tok = sign(now, now + 100);
    assert_int_equal(verify(tok, now + 99), GH_OK);
    assert_int_equal(verify(tok, now + 100), GH_ERR_DENIED); /* exp is exclusive */
    assert_int_equal(verify(tok, now + 100000), GH_ERR_DENIED);
    /* issued a little in the future (clock skew, plus the one second a
     * token issued right after a password change may carry) is fine */
    assert_int_equal(verify(tok, now - 61), GH_OK);
    assert_int_equal(verify(tok, now - 62), GH_ERR_DENIED);
    free(tok);
    /* already expired when signed */
    tok = sign(now - 1000, now - 1);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    free(tok);
    /* iat after exp */
    tok = sign(now + 10, now + 5);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    free(tok);
}

static void wrong_issuer_or_audience(void **state)
{
    (void)state;
    char *tok = sign(now, now + 900);
    char saved[sizeof gh_cfg.issuer];
    memcpy(saved, gh_cfg.issuer, strlen(gh_cfg.issuer) + 1);
    memcpy(gh_cfg.issuer, "https://evil.example.com", strlen("https://evil.example.com") + 1);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    memcpy(gh_cfg.issuer, "https://auth.example.com/", strlen("https://auth.example.com/") + 1);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    memcpy(gh_cfg.issuer, saved, strlen(saved) + 1);
    assert_int_equal(verify(tok, now), GH_OK);

    memcpy(saved, gh_cfg.audience, strlen(gh_cfg.audience) + 1);
    memcpy(gh_cfg.audience, "another-service", strlen("another-service") + 1);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    memcpy(gh_cfg.audience, "gatehouse-tes", strlen("gatehouse-tes") + 1);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    memcpy(gh_cfg.audience, saved, strlen(saved) + 1);
    assert_int_equal(verify(tok, now), GH_OK);
    free(tok);
}

static void tampering(void **state)
{
    (void)state;
    char *tok = sign(now, now + 900);
    size_t len = strlen(tok);
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *bad = malloc(len + 2);
    assert_non_null(bad);
    size_t positions[] = {5,
                          (size_t)(d1 - tok) + 5,
                          (size_t)(d1 - tok) + 40,
                          (size_t)(d2 - tok) + 1,
                          (size_t)(d2 - tok) + 43,
                          len - 2};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        memcpy(bad, tok, len + 1);
        size_t at = positions[i];
        bad[at] = bad[at] == 'Q' ? 'g' : 'Q';
        if (verify(bad, now) != GH_ERR_DENIED) fail_msg("accepted with char %zu changed", at);
    }
    /* last signature character: 86 chars carry 516 bits, the low 4 bits of
     * the last one are padding and must be zero (no second encoding) */
    memcpy(bad, tok, len + 1);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t v = (size_t)(strchr(alpha, bad[len - 1]) - alpha);
    bad[len - 1] = alpha[v | 1];
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);

    /* truncations */
    for (size_t l = 0; l < len; l += (l < 16 || l + 8 > len) ? 1 : 7) {
        memcpy(bad, tok, l);
        bad[l] = '\0';
        if (verify(bad, now) != GH_ERR_DENIED) fail_msg("accepted truncated to %zu", l);
    }
    /* extensions */
    snprintf(bad, len + 2, "%s=", tok);
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    snprintf(bad, len + 2, "%s.", tok);
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    snprintf(bad, len + 2, " %s", tok);
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    /* the signature dropped */
    memcpy(bad, tok, (size_t)(d2 - tok) + 1);
    bad[d2 - tok + 1] = '\0';
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    /* len is honoured: the same bytes with a shorter len */
    struct jwt_claims out;
    assert_int_equal(jwt_verify(tok, len - 1, now, &out), GH_ERR_DENIED);
    assert_int_equal(jwt_verify(NULL, 0, now, &out), GH_ERR_DENIED);
    assert_int_equal(jwt_verify("", 0, now, &out), GH_ERR_DENIED);
    assert_int_equal(verify(tok, now), GH_OK);
    free(bad);
    free(tok);
}

static void alg_none(void **state)
{
    (void)state;
    char *tok = sign(now, now + 900);
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    size_t plen = (size_t)(d2 - d1 - 1);
    char bad[JWT_MAX_LEN + 1];

    /* {"alg":"none"} + the genuine payload + empty signature */
    snprintf(bad, sizeof bad, "eyJhbGciOiJub25lIn0.%.*s.", (int)plen, d1 + 1);
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    /* the same with the genuine signature kept */
    snprintf(bad, sizeof bad, "eyJhbGciOiJub25lIn0.%.*s.%s", (int)plen, d1 + 1, d2 + 1);
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    /* {"alg":"none","kid":<ours>} */
    char hdr[200];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"none\",\"kid\":\"%s\"}", jwt_kid());
    char *h = b64(hdr, strlen(hdr));
    snprintf(bad, sizeof bad, "%s.%.*s.", h, (int)plen, d1 + 1);
    assert_int_equal(verify(bad, now), GH_ERR_DENIED);
    free(h);
    /* other spellings of none, and other algorithms, signed with our key */
    const char *algs[] = {"none",  "None",  "NONE",  "HS256",  "ES384", "ES512",
                          "RS256", "PS256", "es256", "ES256 ", ""};
    char *pay = payload_with(NULL, NULL);
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", algs[i],
                 jwt_kid());
        expect_raw(hdr, pay, GH_ERR_DENIED);
    }
    free(pay);
    free(tok);
}

static void header_checks(void **state)
{
    (void)state;
    char *pay = payload_with(NULL, NULL);
    char hdr[512];
    const char *kid = jwt_kid();
    expect_raw(std_header(), pay, GH_OK);
    /* typ is not required */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    expect_raw(hdr, pay, GH_OK);
    /* kid missing, different, a prefix, or not a string */
    expect_raw("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pay, GH_ERR_DENIED);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%.*s\"}", (int)strlen(kid) - 1, kid);
    expect_raw(hdr, pay, GH_ERR_DENIED);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%sx\"}", kid);
    expect_raw(hdr, pay, GH_ERR_DENIED);
    expect_raw("{\"alg\":\"ES256\",\"kid\":42}", pay, GH_ERR_DENIED);
    /* alg missing or not a string */
    snprintf(hdr, sizeof hdr, "{\"kid\":\"%s\"}", kid);
    expect_raw(hdr, pay, GH_ERR_DENIED);
    snprintf(hdr, sizeof hdr, "{\"alg\":[\"ES256\"],\"kid\":\"%s\"}", kid);
    expect_raw(hdr, pay, GH_ERR_DENIED);
    /* critical extensions are not understood */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}", kid);
    expect_raw(hdr, pay, GH_ERR_DENIED);
    /* header not an object / not JSON */
    expect_raw("[\"ES256\"]", pay, GH_ERR_DENIED);
    expect_raw("not json", pay, GH_ERR_DENIED);
    free(pay);
}

static void claim_checks(void **state)
{
    (void)state;
    /* the control */
    expect_claim(NULL, NULL, GH_OK);
    /* required claims */
    const char *required[] = {"iss", "aud", "sub", "sid", "jti", "iat", "exp"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        expect_claim(required[i], NULL, GH_ERR_DENIED);
    /* "rev" (issue 9) is optional, but when present a non-negative integer */
    expect_claim("rev", "12", GH_OK);
    expect_claim("rev", "0", GH_OK);
    expect_claim("rev", "-1", GH_ERR_DENIED);
    expect_claim("rev", "\"12\"", GH_ERR_DENIED);
    expect_claim("rev", "1.5", GH_ERR_DENIED);
    expect_claim("rev", "null", GH_ERR_DENIED);
    /* types */
    expect_claim("iss", "42", GH_ERR_DENIED);
    expect_claim("iss", "[\"https://auth.example.com\"]", GH_ERR_DENIED);
    expect_claim("aud", "42", GH_ERR_DENIED);
    expect_claim("aud", "null", GH_ERR_DENIED);
    expect_claim("sub", "42", GH_ERR_DENIED);
    expect_claim("sub", "\"\"", GH_ERR_DENIED);
    expect_claim("sid", "null", GH_ERR_DENIED);
    expect_claim("sid", "\"\"", GH_ERR_DENIED);
    expect_claim("jti", "\"\"", GH_ERR_DENIED);
    char v[200];
    snprintf(v, sizeof v, "\"%lld\"", (long long)(now + 600));
    expect_claim("exp", v, GH_ERR_DENIED);
    snprintf(v, sizeof v, "%lld.5", (long long)(now + 600));
    expect_claim("exp", v, GH_ERR_DENIED);
    expect_claim("iat", "null", GH_ERR_DENIED);
    expect_claim("iat", "true", GH_ERR_DENIED);
    /* lengths: ids fit their buffers, longer ones are refused */
    expect_claim("sub", "\"123456789012345678901234567890123456\"", GH_OK);
    expect_claim("sub", "\"1234567890123456789012345678901234567\"", GH_ERR_DENIED);
    expect_claim("sid", "\"1234567890123456789012345678901234567\"", GH_ERR_DENIED);
    char jti[JWT_JTI_MAX + 4];
    memset(jti, 'j', sizeof jti);
    jti[0] = '"';
    jti[JWT_JTI_MAX + 1] = '"';
    jti[JWT_JTI_MAX + 2] = '\0';
    expect_claim("jti", jti, GH_OK);
    jti[JWT_JTI_MAX + 1] = 'j';
    jti[JWT_JTI_MAX + 2] = '"';
    jti[JWT_JTI_MAX + 3] = '\0';
    expect_claim("jti", jti, GH_ERR_DENIED);
    /* aud as an array */
    expect_claim("aud", "[\"other\",\"gatehouse-test\"]", GH_OK);
    expect_claim("aud", "[\"other\",\"gatehouse-tes\"]", GH_ERR_DENIED);
    expect_claim("aud", "[]", GH_ERR_DENIED);
    expect_claim("aud", "[42,[\"gatehouse-test\"]]", GH_ERR_DENIED);
    /* nbf */
    snprintf(v, sizeof v, "%lld", (long long)now);
    expect_claim("nbf", v, GH_OK);
    snprintf(v, sizeof v, "%lld", (long long)now + 1);
    expect_claim("nbf", v, GH_ERR_DENIED);
    snprintf(v, sizeof v, "\"%lld\"", (long long)now - 10);
    expect_claim("nbf", v, GH_ERR_DENIED);
    /* unknown claims are ignored */
    expect_claim("email", "\"alice@example.com\"", GH_OK);

    /* payloads that are not one JSON object */
    expect_raw(std_header(), "[]", GH_ERR_DENIED);
    expect_raw(std_header(), "\"str\"", GH_ERR_DENIED);
    expect_raw(std_header(), "", GH_ERR_DENIED);
    /* duplicate claims: which one counts would be ambiguous */
    char *p = payload_with(NULL, NULL);
    char dup[1024];
    snprintf(dup, sizeof dup, "{\"sub\":\"someone-else\",%s", p + 1);
    expect_raw(std_header(), dup, GH_ERR_DENIED);
    snprintf(dup, sizeof dup, "%.*s,\"iss\":\"https://evil.example.com\"}", (int)strlen(p) - 1, p);
    expect_raw(std_header(), dup, GH_ERR_DENIED);
    /* trailing garbage after the object */
    snprintf(dup, sizeof dup, "%s x", p);
    expect_raw(std_header(), dup, GH_ERR_DENIED);
    free(p);
}

static void other_key_same_kid(void **state)
{
    (void)state;
    cjose_err err;
    cjose_jwk_t *other = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    assert_non_null(other);
    cjose_header_t *hdr = cjose_header_new(&err);
    assert_non_null(hdr);
    assert_true(cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err));
    assert_true(cjose_header_set(hdr, CJOSE_HDR_KID, jwt_kid(), &err));
    assert_true(cjose_header_set(hdr, "typ", "JWT", &err));
    char *pay = payload_with(NULL, NULL);
    cjose_jws_t *jws = cjose_jws_sign(other, hdr, (const uint8_t *)pay, strlen(pay), &err);
    assert_non_null(jws);
    const char *ser = NULL;
    assert_true(cjose_jws_export(jws, &ser, &err));
    assert_int_equal(verify(ser, now), GH_ERR_DENIED);

    /* embedding the attacker's public key in the header changes nothing */
    char *pubjson = cjose_jwk_to_json(other, false, &err);
    assert_non_null(pubjson);
    cjose_header_t *hdr2 = cjose_header_new(&err);
    assert_true(cjose_header_set(hdr2, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err));
    assert_true(cjose_header_set(hdr2, CJOSE_HDR_KID, jwt_kid(), &err));
    assert_true(cjose_header_set_raw(hdr2, "jwk", pubjson, &err));
    cjose_jws_t *jws2 = cjose_jws_sign(other, hdr2, (const uint8_t *)pay, strlen(pay), &err);
    assert_non_null(jws2);
    const char *ser2 = NULL;
    assert_true(cjose_jws_export(jws2, &ser2, &err));
    assert_int_equal(verify(ser2, now), GH_ERR_DENIED);

    free(pubjson);
    cjose_jws_release(jws2);
    cjose_header_release(hdr2);
    cjose_jws_release(jws);
    cjose_header_release(hdr);
    cjose_jwk_release(other);
    free(pay);
}

/* jwt_verify in a child process: a library abort() must show up as a
 * test failure, not take the whole test binary down. */
static void expect_denied_no_crash(const char *tok)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct jwt_claims out;
        _exit(jwt_verify(tok, strlen(tok), now, &out) == GH_ERR_DENIED ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) fail_msg("jwt_verify killed by signal %d on \"%s\"", WTERMSIG(st), tok);
    if (WEXITSTATUS(st) != 0) fail_msg("jwt_verify accepted \"%s\"", tok);
}

static void base64_padding_in_segments(void **state)
{
    (void)state;
    /* '=' inside a segment, at a position where cjose's decoder has read
     * 4k+1 characters (it asserts on that); the signature is 64 zero bytes. */
    char sig[87];
    memset(sig, 'A', 86);
    sig[86] = '\0';
    char tok[256];
    snprintf(tok, sizeof tok, "A=AA.A=AA.%s", sig);
    expect_denied_no_crash(tok);
    char *good = sign(now, now + 900);
    char *d1 = strchr(good, '.');
    snprintf(tok, sizeof tok, "eyJhbGciOiJFUzI1NiJ9.%.*s=AA.%s", 5, d1 + 1, sig);
    expect_denied_no_crash(tok);
    /* padding at the end of a segment, as standard base64 would write it */
    snprintf(tok, sizeof tok, "eyJhbGciOiJFUzI1NiJ9==.e30=.%s", sig);
    expect_denied_no_crash(tok);
    free(good);
}

static void length_limit(void **state)
{
    (void)state;
    /* Grow a filler claim until the token is exactly JWT_MAX_LEN, then one more. */
    char filler[JWT_MAX_LEN];
    char *tok = NULL;
    size_t fl = 0;
    for (;;) {
        memset(filler, 'f', fl);
        filler[fl] = '\0';
        char quoted[JWT_MAX_LEN + 3];
        snprintf(quoted, sizeof quoted, "\"%s\"", filler);
        char *p = payload_with("pad", quoted);
        free(tok);
        tok = sign_raw(std_header(), p);
        free(p);
        if (strlen(tok) >= JWT_MAX_LEN) break;
        fl++;
    }
    /* base64 grows in steps: find lengths at and just past the limit */
    if (strlen(tok) == JWT_MAX_LEN) {
        assert_int_equal(verify(tok, now), GH_OK);
        fl++;
        memset(filler, 'f', fl);
        filler[fl] = '\0';
        char quoted[JWT_MAX_LEN + 3];
        snprintf(quoted, sizeof quoted, "\"%s\"", filler);
        char *p = payload_with("pad", quoted);
        free(tok);
        tok = sign_raw(std_header(), p);
        free(p);
    }
    assert_true(strlen(tok) > JWT_MAX_LEN);
    assert_int_equal(verify(tok, now), GH_ERR_DENIED);
    free(tok);

    /* a long run of garbage */
    char big[JWT_MAX_LEN * 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[100] = '.';
    big[200] = '.';
    assert_int_equal(verify(big, now), GH_ERR_DENIED);
}

static void jwks_document(void **state)
{
    (void)state;
    json_t *j = jwt_jwks();
    assert_non_null(j);
    char *doc = json_dumps(j, JSON_COMPACT);
    assert_non_null(doc);
    assert_null(strstr(doc, "\"d\""));
    free(doc);
    json_t *keys = json_object_get(j, "keys");
    assert_true(json_is_array(keys));
    assert_int_equal(json_array_size(keys), 1);
    json_t *k = json_array_get(keys, 0);
    assert_string_equal(json_string_value(json_object_get(k, "kty")), "EC");
    assert_string_equal(json_string_value(json_object_get(k, "crv")), "P-256");
    assert_string_equal(json_string_value(json_object_get(k, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(k, "kid")), jwt_kid());
    assert_null(json_object_get(k, "d"));
    assert_null(json_object_get(k, "p"));
    const char *x = json_string_value(json_object_get(k, "x"));
    const char *y = json_string_value(json_object_get(k, "y"));
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(strlen(x), 43);
    assert_int_equal(strlen(y), 43);

    /* x and y are the public point of the configured key */
    uint8_t want[32], got[32];
    BIGNUM *bn = NULL;
    size_t n = 0;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, want, 32), 32);
    BN_free(bn);
    assert_int_equal(gh_b64url_decode(got, sizeof got, &n, x, strlen(x)), GH_OK);
    assert_int_equal(n, 32);
    assert_memory_equal(got, want, 32);
    bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, want, 32), 32);
    BN_free(bn);
    assert_int_equal(gh_b64url_decode(got, sizeof got, &n, y, strlen(y)), GH_OK);
    assert_memory_equal(got, want, 32);

    /* kid is the RFC 7638 thumbprint */
    char tp[256];
    snprintf(tp, sizeof tp, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    uint8_t h[32];
    assert_int_equal(gh_sha256(h, tp, strlen(tp)), GH_OK);
    char *kid = b64(h, sizeof h);
    assert_string_equal(kid, jwt_kid());
    free(kid);
    json_decref(j);
}

static void init_rejects_other_keys(void **state)
{
    (void)state;
    /* Run last: re-initialises the module. */
    jwt_shutdown();
    gh_log_set_level(GH_LOG_CRIT + 1);
    assert_int_equal(jwt_init("not a pem"), GH_ERR_CONFIG);
    assert_int_equal(jwt_init(""), GH_ERR_CONFIG);

    const char *others[] = {"P-384", "RSA", "ED25519"};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = i == 0   ? EVP_EC_gen("P-384")
                      : i == 1 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)
                               : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_non_null(k);
        BIO *bio = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        char *p = strndup(data, (size_t)n);
        if (jwt_init(p) != GH_ERR_CONFIG) fail_msg("jwt_init accepted a %s key", others[i]);
        free(p);
        BIO_free(bio);
        EVP_PKEY_free(k);
    }
    /* a public key alone cannot sign */
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *p = strndup(data, (size_t)n);
    assert_int_equal(jwt_init(p), GH_ERR_CONFIG);
    free(p);
    BIO_free(bio);

    /* and the real key still works after all that */
    assert_int_equal(jwt_init(pem), GH_OK);
    char *tok = sign(now, now + 60);
    assert_int_equal(verify(tok, now), GH_OK);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(signatures_differ),
        cmocka_unit_test(time_checks),
        cmocka_unit_test(wrong_issuer_or_audience),
        cmocka_unit_test(tampering),
        cmocka_unit_test(alg_none),
        cmocka_unit_test(header_checks),
        cmocka_unit_test(claim_checks),
        cmocka_unit_test(other_key_same_kid),
        cmocka_unit_test(base64_padding_in_segments),
        cmocka_unit_test(length_limit),
        cmocka_unit_test(jwks_document),
        cmocka_unit_test(init_rejects_other_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
