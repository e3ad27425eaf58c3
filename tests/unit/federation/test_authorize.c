/* The relying party's calls (src/federation/authorize.c, discovery.c,
 * client_secret.c, fetch.c) against a fake provider plugged in through
 * fed_fetch_hook: the discovery and JWKS cache, the unknown-kid refresh and
 * its rate limit, client authentication, the token endpoint's answers,
 * providers that are down or answer garbage, the native flow, Apple's
 * client secret. */
#include "fedtest.h"

#include <pthread.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "federation/authorize.h"
#include "federation/client_secret.h"
#include "federation/discovery.h"
#include "federation/fetch.h"
#include "federation/providers.h"

#define ISS "https://idp.example.com"
#define NONCE "nonce-0123456789abcdef"
#define VERIFIER "verifier-0123456789abcdefghijklmnopqrstuvwxyz"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define REDIRECT "https://auth.example.com/v1/oauth/acme/callback"

/* ---- the fake provider ---- */
static struct {
    char *discovery, *jwks, *token;
    long discovery_status, token_status;
    bool down;   /* every request fails as a timeout would */
    size_t huge; /* token answer of this many bytes */
    int n_discovery, n_jwks, n_token;
    char last_form[8192], last_user[512], last_pass[512];
} op;

static enum gh_err fake(const struct fed_http_req *rq, struct fed_http_resp *out, char *why,
                        size_t whylen)
{
    const char *body = NULL;
    if (strstr(rq->url, "/.well-known/openid-configuration")) {
        __atomic_add_fetch(&op.n_discovery, 1, __ATOMIC_SEQ_CST);
        body = op.discovery;
        out->status = op.discovery_status;
    } else if (strstr(rq->url, "/jwks")) {
        __atomic_add_fetch(&op.n_jwks, 1, __ATOMIC_SEQ_CST);
        body = op.jwks;
        out->status = 200;
    } else if (strstr(rq->url, "/token")) {
        op.n_token++;
        assert_non_null(rq->form);
        snprintf(op.last_form, sizeof op.last_form, "%s", rq->form);
        snprintf(op.last_user, sizeof op.last_user, "%s", rq->auth_user ? rq->auth_user : "");
        snprintf(op.last_pass, sizeof op.last_pass, "%s", rq->auth_pass ? rq->auth_pass : "");
        body = op.token;
        out->status = op.token_status;
    }
    if (op.down) {
        snprintf(why, whylen, "Timeout was reached");
        return GH_ERR_BUSY;
    }
    if (op.huge && strstr(rq->url, "/token")) {
        out->body = malloc(op.huge + 1);
        memset(out->body, ' ', op.huge);
        out->body[op.huge] = '\0';
        out->len = op.huge;
        return GH_OK;
    }
    out->body = strdup(body ? body : "");
    out->len = strlen(out->body);
    return GH_OK;
}

static cjose_jwk_t *k1, *k2;
static char *apple_pem;
static char apple_dir[512], apple_path[600];

static void set_discovery(const char *issuer, const char *auth_methods)
{
    free(op.discovery);
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "issuer", issuer, "authorization_endpoint",
                          ISS "/authorize?tenant=1", "token_endpoint", ISS "/token", "jwks_uri",
                          ISS "/jwks");
    if (auth_methods)
        json_object_set_new(d, "token_endpoint_auth_methods_supported",
                            json_loads(auth_methods, 0, NULL));
    op.discovery = json_dumps(d, JSON_COMPACT);
    json_decref(d);
}

static void set_jwks(bool with_k2)
{
    free(op.jwks);
    json_t *k[] = {ft_pub(k1, "k1", "RS256", "sig"), with_k2 ? ft_pub(k2, "k2", NULL, NULL) : NULL};
    op.jwks = ft_jwks_json(k, with_k2 ? 2 : 1);
}

static json_t *claims(const char *aud, const char *nonce)
{
    int64_t now = gh_now_s();
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", ISS, "aud", aud, "sub",
                     "user-42", "exp", (json_int_t)now + 300, "iat", (json_int_t)now, "nonce",
                     nonce, "email", "bob@example.com", "email_verified", "true");
}

static void set_token_answer(char *id_token)
{
    free(op.token);
    json_t *t = json_pack("{s:s, s:s, s:s}", "access_token", "at-secret", "token_type", "Bearer",
                          "id_token", id_token);
    op.token = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    free(id_token);
    op.token_status = 200;
}

static int setup_group(void **st)
{
    test_config();
    k1 = ft_rsa(2048);
    k2 = ft_ec(CJOSE_JWK_EC_P_256);
    apple_pem = test_p256_pem();
    assert_int_equal(test_mkdtemp(apple_dir, sizeof apple_dir, "fedauth"), 0);
    snprintf(apple_path, sizeof apple_path, "%s/key.p8", apple_dir);
    FILE *f = fopen(apple_path, "w");
    fputs(apple_pem, f);
    fclose(f);
    chmod(apple_path, 0600);
    fed_fetch_hook = fake;
    return 0;
}

static int teardown_group(void **st)
{
    fed_config_free();
    cjose_jwk_release(k1);
    cjose_jwk_release(k2);
    free(op.discovery);
    free(op.jwks);
    free(op.token);
    unlink(apple_path);
    rmdir(apple_dir);
    free(apple_pem);
    return 0;
}

/* A fresh configuration (acme: generic, with a secret; apple: the preset
 * on a test issuer) and a healthy provider. */
static int setup_each(void **st)
{
    setenv("GATEHOUSE_OIDC_ACME_CLIENT_ID", "web-client", 1);
    setenv("GATEHOUSE_OIDC_ACME_ISSUER", ISS, 1);
    setenv("GATEHOUSE_OIDC_ACME_CLIENT_SECRET", "s3cr:et&x", 1);
    setenv("GATEHOUSE_OIDC_ACME_NATIVE_CLIENT_IDS", "ios-app", 1);
    setenv("GATEHOUSE_OIDC_APPLE_CLIENT_ID", "com.example.web", 1);
    setenv("GATEHOUSE_OIDC_APPLE_ISSUER", ISS, 1);
    setenv("GATEHOUSE_OIDC_APPLE_TEAM_ID", "TEAM123456", 1);
    setenv("GATEHOUSE_OIDC_APPLE_KEY_ID", "KEYID12345", 1);
    setenv("GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE", apple_path, 1);
    char err[256];
    assert_int_equal(fed_config_load(err, sizeof err), GH_OK);
    free(op.token);
    op.token = NULL;
    op.discovery_status = 200;
    op.down = false;
    op.huge = 0;
    op.n_discovery = op.n_jwks = op.n_token = 0;
    set_discovery(ISS, NULL);
    set_jwks(false);
    return 0;
}

static const struct fed_provider *acme(void)
{
    return fed_provider_find("acme");
}

static void t_authorize_url(void **st)
{
    char url[2048];
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_OK);
    assert_string_equal(url, ISS "/authorize?tenant=1&response_type=code&client_id=web-client"
                                 "&redirect_uri=https%3A%2F%2Fauth.example.com%2Fv1%2Foauth%2F"
                                 "acme%2Fcallback&scope=openid%20email%20profile"
                                 "&state=state-0123456789abcdef&nonce=" NONCE
                                 "&code_challenge=" CHALLENGE "&code_challenge_method=S256");
    assert_int_equal(fed_authorize_url(fed_provider_find("apple"), REDIRECT,
                                       "state-0123456789abcdef", NONCE, CHALLENGE, url, sizeof url),
                     GH_OK);
    assert_non_null(strstr(url, "&scope=openid%20email%20name&"));
    assert_non_null(strstr(url, "&response_mode=form_post"));
    /* Cached: one discovery fetch for both calls of acme. */
    assert_int_equal(op.n_discovery, 2);
    /* Bad inputs and a buffer too small. */
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "st&ate-0123456789abcdef", NONCE,
                                       CHALLENGE, url, sizeof url),
                     GH_ERR_INVALID);
    assert_int_equal(
        fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE, url, 64),
        GH_ERR_INVALID);
    assert_string_equal(url, "");
}

static void t_exchange_basic_auth(void **st)
{
    set_token_answer(ft_sign(k1, "RS256", "k1", claims("web-client", NONCE)));
    struct fed_claims c;
    char why[160] = "";
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why), GH_OK);
    assert_string_equal(c.sub, "user-42");
    assert_true(c.email_verified); /* the string "true" */
    assert_string_equal(op.last_form, "grant_type=authorization_code&code=code-1&redirect_uri="
                                      "https%3A%2F%2Fauth.example.com%2Fv1%2Foauth%2Facme%2F"
                                      "callback&code_verifier=" VERIFIER);
    /* client_secret_basic: id and secret form-encoded (RFC 6749 2.3.1). */
    assert_string_equal(op.last_user, "web-client");
    assert_string_equal(op.last_pass, "s3cr%3Aet%26x");
}

static void t_exchange_post_auth(void **st)
{
    set_discovery(ISS, "[\"client_secret_post\",\"private_key_jwt\"]");
    set_token_answer(ft_sign(k1, "RS256", "k1", claims("web-client", NONCE)));
    struct fed_claims c;
    char why[160];
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why), GH_OK);
    assert_non_null(strstr(op.last_form, "&client_id=web-client&client_secret=s3cr%3Aet%26x"));
    assert_string_equal(op.last_user, "");
}

static void t_exchange_refusals(void **st)
{
    struct fed_claims c, zero = {0};
    char why[160];
    /* The provider refuses the code (replayed, expired). */
    free(op.token);
    op.token = strdup("{\"error\":\"invalid_grant\",\"error_description\":\"code used\"}");
    op.token_status = 400;
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    assert_string_equal(why, "token endpoint: invalid_grant");
    assert_memory_equal(&c, &zero, sizeof c);
    /* A token for the native app presented on the web flow. */
    set_token_answer(ft_sign(k1, "RS256", "k1", claims("ios-app", NONCE)));
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    assert_string_equal(why, "wrong audience");
    /* Another nonce. */
    set_token_answer(ft_sign(k1, "RS256", "k1", claims("web-client", "other-nonce-123456")));
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    assert_string_equal(why, "wrong nonce");
    /* Malformed inputs never reach the provider. */
    int before = op.n_token;
    assert_int_equal(
        fed_exchange_code(acme(), "co de", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    assert_int_equal(
        fed_exchange_code(acme(), "code", "short", REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    assert_int_equal(op.n_token, before);
}

static void t_provider_unwell(void **st)
{
    struct fed_claims c;
    char why[160];
    /* 500, garbage, too large: busy (502 provider_unavailable), not denied. */
    free(op.token);
    op.token = strdup("<html>oops</html>");
    op.token_status = 500;
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_BUSY);
    op.token_status = 200;
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_BUSY);
    op.huge = FED_FETCH_MAX + 1;
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_BUSY);
    assert_string_equal(why, "response too large");
    op.huge = 0;
    /* Discovery down: busy, and not asked again during the back-off. */
    fed_cache_reset(acme());
    op.down = true;
    char url[2048];
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_ERR_BUSY);
    int n = op.n_discovery;
    op.down = false;
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_ERR_BUSY);
    assert_int_equal(op.n_discovery, n);
    fed_cache_age(acme(), FED_DOWN_BACKOFF_S);
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_OK);
    assert_int_equal(op.n_discovery, n + 1);
    /* A discovery document for another issuer is refused. */
    fed_cache_reset(acme());
    set_discovery("https://evil.example.com", NULL);
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_ERR_BUSY);
    /* Stale metadata keeps serving while the provider is down. */
    fed_cache_reset(acme());
    set_discovery(ISS, NULL);
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_OK);
    fed_cache_age(acme(), FED_META_TTL_S + 1);
    op.down = true;
    assert_int_equal(fed_authorize_url(acme(), REDIRECT, "state-0123456789abcdef", NONCE, CHALLENGE,
                                       url, sizeof url),
                     GH_OK);
}

static void t_unknown_kid_one_refresh(void **st)
{
    struct fed_claims c;
    char why[160];
    /* Prime the cache with k1 only. */
    set_token_answer(ft_sign(k1, "RS256", "k1", claims("web-client", NONCE)));
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why), GH_OK);
    assert_int_equal(op.n_jwks, 1);
    /* A forged kid right after: the refresh is not due, no fetch, denied. */
    set_token_answer(ft_sign(k2, "ES256", "k2", claims("web-client", NONCE)));
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    assert_int_equal(op.n_jwks, 1);
    /* Later: one refresh, still unknown, denied; and no second fetch. */
    fed_cache_age(acme(), FED_JWKS_MIN_REFRESH_S);
    for (int i = 0; i < 3; i++) {
        set_token_answer(ft_sign(k2, "ES256", "k2", claims("web-client", NONCE)));
        assert_int_equal(
            fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
            GH_ERR_DENIED);
        assert_string_equal(why, "unknown key");
        assert_int_equal(op.n_jwks, 2);
    }
    /* The provider rotates k2 in: after the interval, the refresh finds it. */
    set_jwks(true);
    fed_cache_age(acme(), FED_JWKS_MIN_REFRESH_S);
    set_token_answer(ft_sign(k2, "ES256", "k2", claims("web-client", NONCE)));
    assert_int_equal(
        fed_exchange_code(acme(), "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why), GH_OK);
    assert_int_equal(op.n_jwks, 3);
}

static void t_native(void **st)
{
    struct fed_claims c;
    char why[160];
    uint8_t h[32];
    char hex[65];
    assert_int_equal(gh_sha256(h, NONCE, strlen(NONCE)), GH_OK);
    gh_hex(hex, h, 32);
    char *t = ft_sign(k1, "RS256", "k1", claims("ios-app", hex));
    assert_int_equal(fed_verify_native(acme(), t, strlen(t), NONCE, &c, why, sizeof why), GH_OK);
    assert_string_equal(c.sub, "user-42");
    free(t);
    t = ft_sign(k1, "RS256", "k1", claims("ios-app", NONCE));
    assert_int_equal(fed_verify_native(acme(), t, strlen(t), NONCE, &c, why, sizeof why), GH_OK);
    free(t);
    /* The web client's token is not the app's. */
    t = ft_sign(k1, "RS256", "k1", claims("web-client", NONCE));
    assert_int_equal(fed_verify_native(acme(), t, strlen(t), NONCE, &c, why, sizeof why),
                     GH_ERR_DENIED);
    /* A provider without native ids takes none. */
    assert_int_equal(
        fed_verify_native(fed_provider_find("apple"), t, strlen(t), NONCE, &c, why, sizeof why),
        GH_ERR_DENIED);
    free(t);
}

/* The public half of the Apple test key, as a cjose key. */
static cjose_jwk_t *apple_pub(void)
{
    BIO *b = BIO_new_mem_buf(apple_pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    uint8_t x[32], y[32];
    BIGNUM *bx = NULL, *by = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by), 1);
    BN_bn2binpad(bx, x, 32);
    BN_bn2binpad(by, y, 32);
    BN_free(bx);
    BN_free(by);
    EVP_PKEY_free(k);
    cjose_jwk_ec_keyspec spec = {.crv = CJOSE_JWK_EC_P_256, .x = x, .xlen = 32, .y = y, .ylen = 32};
    cjose_err cerr;
    cjose_jwk_t *j = cjose_jwk_create_EC_spec(&spec, &cerr);
    assert_non_null(j);
    return j;
}

/* Verifiers on several threads while others force JWKS refreshes (an
 * unknown kid after the interval): the key sets are swapped under the
 * verifiers, which must neither crash (ASan: no use after free) nor see
 * a wrong answer. */
static char *tok_good, *tok_forged;

static void *verifier_thread(void *arg)
{
    bool forger = (intptr_t)arg == 0;
    for (int i = 0; i < 60; i++) {
        struct fed_claims c;
        char why[160];
        const char *t = forger ? tok_forged : tok_good;
        enum gh_err rc = fed_verify_native(acme(), t, strlen(t), NONCE, &c, why, sizeof why);
        if (forger) {
            if (rc != GH_ERR_DENIED) return (void *)1;
            fed_cache_age(acme(), FED_JWKS_MIN_REFRESH_S);
        } else if (rc != GH_OK || strcmp(c.sub, "user-42") != 0) {
            return (void *)1;
        }
    }
    return NULL;
}

static void t_concurrent_refresh(void **st)
{
    tok_good = ft_sign(k1, "RS256", "k1", claims("ios-app", NONCE));
    tok_forged = ft_sign(k2, "ES256", "forged", claims("ios-app", NONCE));
    pthread_t th[6];
    for (intptr_t i = 0; i < 6; i++)
        pthread_create(&th[i], NULL, verifier_thread, (void *)i);
    for (int i = 0; i < 6; i++) {
        void *bad = NULL;
        pthread_join(th[i], &bad);
        assert_null(bad);
    }
    /* The forger refreshed (at most once per interval each time it aged the
     * cache), the others never caused a fetch of their own. */
    assert_true(op.n_jwks >= 2 && op.n_jwks <= 61);
    free(tok_good);
    free(tok_forged);
}

static void t_apple_client_secret(void **st)
{
    const struct fed_provider *p = fed_provider_find("apple");
    set_token_answer(ft_sign(k1, "RS256", "k1", claims("com.example.web", NONCE)));
    struct fed_claims c;
    char why[160];
    assert_int_equal(fed_exchange_code(p, "code-1", VERIFIER, REDIRECT, NONCE, &c, why, sizeof why),
                     GH_OK);
    /* client_secret_post with a fresh ES256 JWT. */
    assert_string_equal(op.last_user, "");
    char *s = strstr(op.last_form, "&client_secret=");
    assert_non_null(s);
    assert_non_null(strstr(op.last_form, "&client_id=com.example.web&"));
    s += strlen("&client_secret=");
    cjose_err cerr;
    cjose_jws_t *jws = cjose_jws_import(s, strcspn(s, "&"), &cerr);
    assert_non_null(jws);
    cjose_jwk_t *pub = apple_pub();
    assert_true(cjose_jws_verify(jws, pub, &cerr));
    cjose_header_t *h = cjose_jws_get_protected(jws);
    assert_string_equal(cjose_header_get(h, CJOSE_HDR_ALG, &cerr), "ES256");
    assert_string_equal(cjose_header_get(h, CJOSE_HDR_KID, &cerr), "KEYID12345");
    uint8_t *pt;
    size_t ptlen;
    assert_true(cjose_jws_get_plaintext(jws, &pt, &ptlen, &cerr));
    json_t *cl = json_loadb((const char *)pt, ptlen, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(cl, "iss")), "TEAM123456");
    assert_string_equal(json_string_value(json_object_get(cl, "sub")), "com.example.web");
    assert_string_equal(json_string_value(json_object_get(cl, "aud")), ISS);
    json_int_t iat = json_integer_value(json_object_get(cl, "iat"));
    assert_true(iat >= gh_now_s() - 5 && iat <= gh_now_s());
    assert_int_equal(json_integer_value(json_object_get(cl, "exp")) - iat, FED_CLIENT_SECRET_TTL);
    json_decref(cl);
    cjose_jwk_release(pub);
    cjose_jws_release(jws);
}

static void t_token_response_parse(void **st)
{
    char *t, why[128];
    assert_int_equal(
        fed_token_response_parse(200, "{\"id_token\":\"a.b.c\"}", 20, &t, why, sizeof why), GH_OK);
    assert_string_equal(t, "a.b.c");
    gh_free_secret_str(t);
    const char *deny = "{\"error\":\"bad thing\\n\"}";
    assert_int_equal(fed_token_response_parse(401, deny, strlen(deny), &t, why, sizeof why),
                     GH_ERR_DENIED);
    assert_string_equal(why, "token endpoint: refused"); /* not echoed: not a plain word */
    assert_null(t);
    assert_int_equal(fed_token_response_parse(200, "{}", 2, &t, why, sizeof why), GH_ERR_DENIED);
    assert_int_equal(fed_token_response_parse(200, "[]", 2, &t, why, sizeof why), GH_ERR_BUSY);
    assert_int_equal(fed_token_response_parse(302, "{}", 2, &t, why, sizeof why), GH_ERR_BUSY);
    assert_int_equal(fed_token_response_parse(200, "{\"id_token\":5}", 14, &t, why, sizeof why),
                     GH_ERR_DENIED);
}

static void t_discovery_and_jwks_parse(void **st)
{
    struct fed_metadata m;
    char why[128];
    const char *d = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/a\","
                    "\"token_endpoint\":\"http://idp.example.com/t\",\"jwks_uri\":\"" ISS "/k\"}";
    assert_int_equal(fed_discovery_parse(d, strlen(d), ISS, true, &m, why, sizeof why),
                     GH_ERR_INVALID); /* plain http off loopback */
    d = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/a\","
        "\"token_endpoint\":\"" ISS "/t\",\"jwks_uri\":\"" ISS "/k\","
        "\"id_token_signing_alg_values_supported\":[\"RS256\",\"HS256\",\"none\",\"PS256\"]}";
    assert_int_equal(fed_discovery_parse(d, strlen(d), ISS, false, &m, why, sizeof why), GH_OK);
    assert_int_equal(m.algs, FED_ALG_DEFAULT | FED_ALG_PS256); /* never HS256 or none */
    assert_false(m.auth_post);
    struct fed_jwks *s;
    const char *ks = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"},"
                     "{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\"}]}";
    assert_int_equal(fed_jwks_parse(ks, strlen(ks), &s, why, sizeof why), GH_OK);
    assert_int_equal(s->n, 0); /* the HMAC key and the broken RSA key are skipped */
    fed_jwks_free(s);
    /* Found by fuzz_oidc_jwks: cjose's base64 decoder aborts the process on
     * a '=' inside a member (or a length of 4n + 1); such keys never reach it. */
    const char *bad = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"vdHB=-X3_Act11nUh5pV\",\"e\":\"AQAB\"},"
                      "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAAA\",\"y\":\"AAAA\"}]}";
    assert_int_equal(fed_jwks_parse(bad, strlen(bad), &s, why, sizeof why), GH_OK);
    assert_int_equal(s->n, 0);
    fed_jwks_free(s);
    assert_int_equal(fed_jwks_parse("{\"keys\":{}}", 11, &s, why, sizeof why), GH_ERR_INVALID);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(t_authorize_url, setup_each),
        cmocka_unit_test_setup(t_exchange_basic_auth, setup_each),
        cmocka_unit_test_setup(t_exchange_post_auth, setup_each),
        cmocka_unit_test_setup(t_exchange_refusals, setup_each),
        cmocka_unit_test_setup(t_provider_unwell, setup_each),
        cmocka_unit_test_setup(t_unknown_kid_one_refresh, setup_each),
        cmocka_unit_test_setup(t_native, setup_each),
        cmocka_unit_test_setup(t_apple_client_secret, setup_each),
        cmocka_unit_test_setup(t_concurrent_refresh, setup_each),
        cmocka_unit_test(t_token_response_parse),
        cmocka_unit_test(t_discovery_and_jwks_parse),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
