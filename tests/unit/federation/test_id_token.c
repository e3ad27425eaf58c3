/* ID token verification (src/federation/id_token.c): every check refuses a
 * token crafted to fail it, with keys made here. */
#include "fedtest.h"

#include "federation/id_token.h"

#define ISS "https://accounts.example.com"
#define CID "web-client.example"
#define NONCE "n-0S6_WzA2Mj-abcdefgh"
#define NOW 1800000000

static cjose_jwk_t *rsa1, *ec1, *rsa512, *rsa_enc, *rsa_small, *other, *ec384;
static struct fed_jwks *keys;

static int setup(void **st)
{
    test_config();
    rsa1 = ft_rsa(2048);
    ec1 = ft_ec(CJOSE_JWK_EC_P_256);
    rsa512 = ft_rsa(2048);
    rsa_enc = ft_rsa(2048);
    rsa_small = ft_rsa(1024);
    other = ft_rsa(2048);
    ec384 = ft_ec(CJOSE_JWK_EC_P_384);
    json_t *k[] = {
        ft_pub(rsa1, "r1", NULL, "sig"),         ft_pub(ec1, "e1", "ES256", NULL),
        ft_pub(rsa512, "r512", "RS512", NULL),   ft_pub(rsa_enc, "renc", NULL, "enc"),
        ft_pub(rsa_small, "rsmall", NULL, NULL), ft_pub(ec384, "e384", NULL, NULL),
    };
    char *j = ft_jwks_json(k, 6);
    char why[128];
    assert_int_equal(fed_jwks_parse(j, strlen(j), &keys, why, sizeof why), GH_OK);
    free(j);
    /* use "enc" and the 1024-bit key are dropped at parse. */
    assert_int_equal(keys->n, 4);
    return 0;
}

static int teardown(void **st)
{
    fed_jwks_free(keys);
    cjose_jwk_t *all[] = {rsa1, ec1, rsa512, rsa_enc, rsa_small, other, ec384};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cjose_jwk_release(all[i]);
    return 0;
}

static json_t *claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b, s:s}", "iss", ISS, "aud", CID, "sub",
                     "110169484474386276334", "exp", (json_int_t)NOW + 600, "iat",
                     (json_int_t)NOW - 10, "nonce", NONCE, "email", "Alice@Example.COM",
                     "email_verified", 1, "name", "Alice Example");
}

static const char *web_auds[] = {CID};

static struct fed_verify web(void)
{
    return (struct fed_verify){.issuer = ISS,
                               .auds = web_auds,
                               .n_auds = 1,
                               .nonce = NONCE,
                               .algs = FED_ALG_DEFAULT,
                               .now = NOW,
                               .skew = 60};
}

/* Verifies t (freed) and returns the result; out holds the claims. */
static enum gh_err check(char *t, const struct fed_verify *v, struct fed_claims *out, bool *unknown)
{
    char why[128] = "";
    bool u = false;
    enum gh_err rc = fed_id_token_verify(t, strlen(t), keys, v, out, &u, why, sizeof why);
    if (unknown) *unknown = u;
    if (rc == GH_OK) assert_string_equal(why, "");
    free(t);
    return rc;
}

static void assert_denied(char *t, const struct fed_verify *v)
{
    struct fed_claims out;
    assert_int_equal(check(t, v, &out, NULL), GH_ERR_DENIED);
    struct fed_claims zero = {0};
    assert_memory_equal(&out, &zero, sizeof out); /* nothing leaks out of a refusal */
}

static void t_valid_rs256_and_es256(void **st)
{
    struct fed_verify v = web();
    struct fed_claims c;
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", claims()), &v, &c, NULL), GH_OK);
    assert_string_equal(c.sub, "110169484474386276334");
    assert_string_equal(c.email, "Alice@example.com"); /* domain lower-cased */
    assert_true(c.email_verified);
    assert_string_equal(c.name, "Alice Example");
    assert_false(c.mfa);
    assert_int_equal(c.iat, NOW - 10);
    assert_int_equal(check(ft_sign(ec1, "ES256", "e1", claims()), &v, &c, NULL), GH_OK);
    assert_string_equal(c.sub, "110169484474386276334");
}

static void t_alg_none_refused(void **st)
{
    struct fed_verify v = web();
    assert_denied(ft_none("r1", claims()), &v);
}

static void t_hmac_with_public_key_refused(void **st)
{
    /* The classic confusion: HS256 keyed with the RSA key's public JSON. */
    cjose_err cerr;
    char *pub = cjose_jwk_to_json(rsa1, false, &cerr);
    cjose_jwk_t *hk = cjose_jwk_create_oct_spec((const uint8_t *)pub, strlen(pub), &cerr);
    assert_non_null(hk);
    struct fed_verify v = web();
    v.algs = ~0u; /* even if the provider listed everything */
    assert_denied(ft_sign(hk, "HS256", "r1", claims()), &v);
    cjose_jwk_release(hk);
    free(pub);
}

static void t_alg_allow_list_from_discovery(void **st)
{
    struct fed_verify v = web();
    assert_denied(ft_sign(rsa1, "RS384", "r1", claims()), &v);
    v.algs |= FED_ALG_RS384; /* discovery listed it */
    struct fed_claims c;
    assert_int_equal(check(ft_sign(rsa1, "RS384", "r1", claims()), &v, &c, NULL), GH_OK);
}

static void t_jwk_alg_must_agree(void **st)
{
    struct fed_verify v = web();
    v.algs = ~0u;
    assert_denied(ft_sign(rsa512, "RS256", "r512", claims()), &v); /* JWK says RS512 */
    struct fed_claims c;
    assert_int_equal(check(ft_sign(rsa512, "RS512", "r512", claims()), &v, &c, NULL), GH_OK);
}

static void t_kty_and_curve_must_agree(void **st)
{
    struct fed_verify v = web();
    v.algs = ~0u;
    bool unknown = true;
    struct fed_claims c;
    /* ES256 header naming an RSA key's kid: known kid, refused, no refresh. */
    assert_int_equal(check(ft_sign(ec1, "ES256", "r1", claims()), &v, &c, &unknown), GH_ERR_DENIED);
    assert_false(unknown);
    /* A P-384 key may not verify "ES256". */
    assert_denied(ft_sign(ec384, "ES256", "e384", claims()), &v);
    assert_int_equal(check(ft_sign(ec384, "ES384", "e384", claims()), &v, &c, NULL), GH_OK);
}

static void t_use_enc_and_small_keys_unknown(void **st)
{
    struct fed_verify v = web();
    bool unknown = false;
    struct fed_claims c;
    assert_int_equal(check(ft_sign(rsa_enc, "RS256", "renc", claims()), &v, &c, &unknown),
                     GH_ERR_DENIED);
    assert_true(unknown);
    unknown = false;
    assert_int_equal(check(ft_sign(rsa_small, "RS256", "rsmall", claims()), &v, &c, &unknown),
                     GH_ERR_DENIED);
    assert_true(unknown);
}

static void t_wrong_key_and_unknown_kid(void **st)
{
    struct fed_verify v = web();
    bool unknown = true;
    struct fed_claims c;
    /* Signed by a key we do not know, claiming a kid we do. */
    assert_int_equal(check(ft_sign(other, "RS256", "r1", claims()), &v, &c, &unknown),
                     GH_ERR_DENIED);
    assert_false(unknown);
    assert_int_equal(check(ft_sign(other, "RS256", "nope", claims()), &v, &c, &unknown),
                     GH_ERR_DENIED);
    assert_true(unknown);
    /* An ES256 signature with a byte appended: same r || s, not the token. */
    char *es = ft_sign(ec1, "ES256", "e1", claims());
    size_t el = strlen(es);
    char *longer = malloc(el + 5);
    memcpy(longer, es, el);
    memcpy(longer + el, "AAAA", 5); /* 86 + 4 characters: 67 bytes */
    free(es);
    assert_denied(longer, &v);
    /* A tampered payload fails the signature. */
    char *t = ft_sign(rsa1, "RS256", "r1", claims());
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_denied(t, &v);
}

static void t_no_kid(void **st)
{
    struct fed_verify v = web();
    struct fed_claims c;
    /* No kid: the fitting keys are tried (here the only ES256 P-256 key). */
    assert_int_equal(check(ft_sign(ec1, "ES256", NULL, claims()), &v, &c, NULL), GH_OK);
    assert_denied(ft_sign(other, "RS256", NULL, claims()), &v);
}

static void t_crit_and_bad_kid_refused(void **st)
{
    struct fed_verify v = web();
    assert_denied(ft_sign_hdr(rsa1, "RS256", "r1", claims(), "crit", "[\"exp\"]"), &v);
}

static void t_issuer_exact(void **st)
{
    struct fed_verify v = web();
    const char *bad[] = {ISS "/", "https://evil.example.com", "http://accounts.example.com",
                         "HTTPS://accounts.example.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = claims();
        json_object_set_new(c, "iss", json_string(bad[i]));
        assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    }
    json_t *c = claims();
    json_object_del(c, "iss");
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    /* The alternative form is accepted only when given (Google's bare host). */
    v.issuer_alt = "accounts.example.com";
    c = claims();
    json_object_set_new(c, "iss", json_string("accounts.example.com"));
    struct fed_claims out;
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    c = claims();
    json_object_set_new(c, "iss", json_string("accounts.example.co"));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    v.issuer_alt = NULL;
    c = claims();
    json_object_set_new(c, "iss", json_string("accounts.example.com"));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    /* An embedded NUL neither ends the comparison nor parses (iss, aud). */
    c = claims();
    json_object_set_new(c, "iss", json_stringn(ISS "\0.evil", strlen(ISS) + 6));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "aud", json_stringn(CID "\0x", strlen(CID) + 2));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
}

static void t_audience(void **st)
{
    struct fed_verify v = web();
    struct fed_claims out;
    json_t *c = claims();
    json_object_set_new(c, "aud", json_string("another-client"));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    /* Several audiences: azp must be us. */
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "another-client", CID));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "another-client", CID));
    json_object_set_new(c, "azp", json_string("another-client"));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "another-client", CID));
    json_object_set_new(c, "azp", json_string(CID));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    c = claims();
    json_object_set_new(c, "aud", json_pack("[i]", 5));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
}

static void t_times(void **st)
{
    struct fed_verify v = web();
    struct fed_claims out;
    json_t *c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - 61)); /* beyond the skew */
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - 30)); /* within it */
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    c = claims();
    json_object_set_new(c, "iat", json_integer(NOW + 61));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "iat", json_integer(NOW + 30));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    c = claims();
    json_object_set_new(c, "nbf", json_integer(NOW + 600));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "exp", json_string("soon"));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_del(c, "iat");
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
}

static void t_nonce(void **st)
{
    struct fed_verify v = web();
    struct fed_claims out;
    json_t *c = claims();
    json_object_set_new(c, "nonce", json_string(NONCE "x"));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_del(c, "nonce");
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    /* The hashed form is for the native flow only. */
    uint8_t h[32];
    char hex[65];
    assert_int_equal(gh_sha256(h, NONCE, strlen(NONCE)), GH_OK);
    gh_hex(hex, h, 32);
    c = claims();
    json_object_set_new(c, "nonce", json_string(hex));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    v.nonce_hashed_ok = true;
    c = claims();
    json_object_set_new(c, "nonce", json_string(hex));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    c = claims();
    json_object_set_new(c, "nonce", json_string(hex)); /* upper-case hex: not the form */
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    /* An empty expected nonce never matches an empty claim. */
    v.nonce = "";
    c = claims();
    json_object_set_new(c, "nonce", json_string(""));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
}

static void t_sub(void **st)
{
    struct fed_verify v = web();
    struct fed_claims out;
    char s[300];
    memset(s, 'a', sizeof s);
    s[255] = '\0';
    json_t *c = claims();
    json_object_set_new(c, "sub", json_string(s));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    assert_int_equal(strlen(out.sub), 255);
    s[255] = 'a';
    s[256] = '\0';
    c = claims();
    json_object_set_new(c, "sub", json_string(s));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "sub", json_string(""));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_set_new(c, "sub", json_integer(42));
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
    c = claims();
    json_object_del(c, "sub");
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v);
}

static void t_email_verified_forms(void **st)
{
    struct fed_verify v = web();
    struct fed_claims out;
    struct {
        json_t *val;
        bool want;
    } cases[] = {
        {json_true(), true},           {json_string("true"), true},  {json_false(), false},
        {json_string("false"), false}, {json_string("True"), false}, {json_string("yes"), false},
        {json_integer(1), false},      {json_null(), false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *c = claims();
        json_object_set_new(c, "email_verified", cases[i].val);
        assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
        assert_int_equal(out.email_verified, cases[i].want);
    }
    /* "true" and a NUL: claims with \u0000 are refused whole (jansson). */
    json_t *n = claims();
    json_object_set_new(n, "email_verified", json_stringn("true\0", 5));
    assert_denied(ft_sign(rsa1, "RS256", "r1", n), &v);
    /* Not an address: no email, so never verified. */
    json_t *c = claims();
    json_object_set_new(c, "email", json_string("not an address"));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    assert_string_equal(out.email, "");
    assert_false(out.email_verified);
}

static void t_amr_and_name(void **st)
{
    struct fed_verify v = web();
    struct fed_claims out;
    json_t *c = claims();
    json_object_set_new(c, "amr", json_pack("[s,s]", "pwd", "otp"));
    json_object_del(c, "name");
    json_object_set_new(c, "given_name", json_string("Ada"));
    json_object_set_new(c, "family_name", json_string("Lovelace"));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    assert_true(out.mfa);
    assert_string_equal(out.name, "Ada Lovelace");
    c = claims();
    json_object_set_new(c, "amr", json_pack("[s]", "pwd"));
    char longname[400];
    memset(longname, 'x', sizeof longname);
    longname[399] = '\0';
    json_object_set_new(c, "name", json_string(longname));
    assert_int_equal(check(ft_sign(rsa1, "RS256", "r1", c), &v, &out, NULL), GH_OK);
    assert_false(out.mfa);
    assert_int_equal(strlen(out.name), 127);
}

static void t_sizes_and_garbage(void **st)
{
    struct fed_verify v = web();
    json_t *c = claims();
    char *pad = malloc(20000);
    memset(pad, 'p', 19999);
    pad[19999] = '\0';
    json_object_set_new(c, "pad", json_string(pad));
    free(pad);
    assert_denied(ft_sign(rsa1, "RS256", "r1", c), &v); /* over FED_ID_TOKEN_MAX */
    assert_denied(strdup("not.a.token"), &v);
    assert_denied(strdup("a b.c.d"), &v);
    assert_denied(strdup(""), &v);
    /* Duplicate claims: the first iss could be ours, the second not. */
    char *dup = strdup("{\"iss\":\"" ISS "\",\"iss\":\"https://evil\"}");
    struct fed_claims out;
    char why[64];
    assert_int_equal(fed_id_token_claims(dup, strlen(dup), &v, &out, why, sizeof why),
                     GH_ERR_DENIED);
    free(dup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_valid_rs256_and_es256),
        cmocka_unit_test(t_alg_none_refused),
        cmocka_unit_test(t_hmac_with_public_key_refused),
        cmocka_unit_test(t_alg_allow_list_from_discovery),
        cmocka_unit_test(t_jwk_alg_must_agree),
        cmocka_unit_test(t_kty_and_curve_must_agree),
        cmocka_unit_test(t_use_enc_and_small_keys_unknown),
        cmocka_unit_test(t_wrong_key_and_unknown_kid),
        cmocka_unit_test(t_no_kid),
        cmocka_unit_test(t_crit_and_bad_kid_refused),
        cmocka_unit_test(t_issuer_exact),
        cmocka_unit_test(t_audience),
        cmocka_unit_test(t_times),
        cmocka_unit_test(t_nonce),
        cmocka_unit_test(t_sub),
        cmocka_unit_test(t_email_verified_forms),
        cmocka_unit_test(t_amr_and_name),
        cmocka_unit_test(t_sizes_and_garbage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
