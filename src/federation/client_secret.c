/* Apple's ES256 client-secret JWT (client_secret.h). */
#include "federation/client_secret.h"

#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/util.h"

/* The key as an EVP_PKEY, or NULL unless it is an EC P-256 private key. */
static EVP_PKEY *load_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, (int)strlen(pem));
    if (!b) return NULL;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    char group[32] = "";
    if (k && (!EVP_PKEY_is_a(k, "EC") ||
              EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                             NULL) != 1 ||
              strcmp(group, "prime256v1") != 0)) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

enum gh_err fed_client_secret_check_key(const char *pem)
{
    EVP_PKEY *k = pem ? load_key(pem) : NULL;
    if (!k) return GH_ERR_CONFIG;
    EVP_PKEY_free(k);
    return GH_OK;
}

/* A P-256 scalar or coordinate as 32 big-endian bytes. */
static bool bn32(EVP_PKEY *k, const char *name, uint8_t out[32])
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) return false;
    bool ok = BN_bn2binpad(bn, out, 32) == 32;
    BN_clear_free(bn);
    return ok;
}

static cjose_jwk_t *cjose_key(const char *pem)
{
    EVP_PKEY *k = pem ? load_key(pem) : NULL;
    uint8_t d[32], x[32], y[32];
    cjose_jwk_t *jwk = NULL;
    if (k && bn32(k, OSSL_PKEY_PARAM_PRIV_KEY, d) && bn32(k, OSSL_PKEY_PARAM_EC_PUB_X, x) &&
        bn32(k, OSSL_PKEY_PARAM_EC_PUB_Y, y)) {
        cjose_jwk_ec_keyspec spec = {
            .crv = CJOSE_JWK_EC_P_256, .d = d, .dlen = 32, .x = x, .xlen = 32, .y = y, .ylen = 32};
        cjose_err cerr;
        jwk = cjose_jwk_create_EC_spec(&spec, &cerr);
    }
    gh_wipe(d, sizeof d);
    EVP_PKEY_free(k);
    return jwk;
}

enum gh_err fed_client_secret_make(const struct fed_provider *p, int64_t now, char **out)
{
    *out = NULL;
    cjose_jwk_t *jwk = cjose_key(p->private_key_pem);
    if (!jwk) return GH_ERR_CONFIG;
    enum gh_err rc = GH_ERR_INTERNAL;
    cjose_err cerr;
    cjose_header_t *hdr = NULL;
    cjose_jws_t *jws = NULL;
    char *payload = NULL;
    json_t *cl = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", p->team_id, "sub", p->client_id,
                           "aud", p->issuer, "iat", (json_int_t)now, "exp",
                           (json_int_t)(now + FED_CLIENT_SECRET_TTL));
    if (!cl || !(payload = json_dumps(cl, JSON_COMPACT))) goto out;
    hdr = cjose_header_new(&cerr);
    if (!hdr || !cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &cerr) ||
        !cjose_header_set(hdr, CJOSE_HDR_KID, p->key_id, &cerr))
        goto out;
    jws = cjose_jws_sign(jwk, hdr, (const uint8_t *)payload, strlen(payload), &cerr);
    const char *ser = NULL;
    if (!jws || !cjose_jws_export(jws, &ser, &cerr) || !ser) goto out;
    *out = strdup(ser);
    rc = *out ? GH_OK : GH_ERR_NOMEM;
out:
    free(payload);
    json_decref(cl);
    if (jws) cjose_jws_release(jws);
    if (hdr) cjose_header_release(hdr);
    cjose_jwk_release(jwk);
    return rc;
}
