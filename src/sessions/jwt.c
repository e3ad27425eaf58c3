#include "sessions/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

static cjose_jwk_t *signing_jwk;
static char kid[GH_B64URL_LEN(32) + 1];
static char *jwks_doc;

enum gh_err jwt_dev_key(const char *data_dir, char **pem)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/signing-key.pem", data_dir);
    enum gh_err rc = config_read_file(path, 16384, pem);
    if (rc != GH_ERR_NOT_FOUND) return rc;

    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (!pkey) return GH_ERR_INTERNAL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        EVP_PKEY_free(pkey);
        gh_log(GH_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
        return GH_ERR_CONFIG;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    if (f) ok = (fflush(f) == 0 && fsync(fd) == 0) && ok;
    if (f)
        fclose(f);
    else
        close(fd);
    EVP_PKEY_free(pkey);
    if (!ok) {
        unlink(path);
        return GH_ERR_INTERNAL;
    }
    gh_log(GH_LOG_INFO, "generated development signing key %s (mode 0600)", path);
    return config_read_file(path, 16384, pem);
}

/* P-256 coordinates / scalar as 32-byte big-endian. */
static int bn_param(EVP_PKEY *pkey, const char *name, uint8_t out[32])
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return -1;
    int ok = BN_bn2binpad(bn, out, 32) == 32;
    BN_clear_free(bn);
    return ok ? 0 : -1;
}

static enum gh_err build_jwks(void)
{
    cjose_err cerr;
    char *pub = cjose_jwk_to_json(signing_jwk, false, &cerr);
    if (!pub) return GH_ERR_INTERNAL;
    json_t *k = json_loads(pub, 0, NULL);
    free(pub);
    if (!k) return GH_ERR_INTERNAL;
    /* RFC 7638: members crv, kty, x, y in lexicographic order, no spaces. */
    json_t *tp = json_pack("{s:O,s:O,s:O,s:O}", "crv", json_object_get(k, "crv"), "kty",
                           json_object_get(k, "kty"), "x", json_object_get(k, "x"), "y",
                           json_object_get(k, "y"));
    char *tps = tp ? json_dumps(tp, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(tp);
    uint8_t h[32];
    if (!tps || gh_sha256(h, tps, strlen(tps)) || gh_b64url_encode(kid, sizeof kid, h, 32)) {
        free(tps);
        json_decref(k);
        return GH_ERR_INTERNAL;
    }
    free(tps);
    json_t *pubk = json_pack("{s:s,s:s,s:O,s:O,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
                             json_object_get(k, "x"), "y", json_object_get(k, "y"), "kid", kid,
                             "alg", "ES256", "use", "sig");
    json_decref(k);
    json_t *doc = pubk ? json_pack("{s:[o]}", "keys", pubk) : NULL;
    if (!doc) return GH_ERR_INTERNAL;
    jwks_doc = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!jwks_doc) return GH_ERR_NOMEM;
    if (!cjose_jwk_set_kid(signing_jwk, kid, strlen(kid), &cerr)) return GH_ERR_INTERNAL;
    return GH_OK;
}

enum gh_err jwt_init(const char *pem)
{
    uint8_t d[32], x[32], y[32];
    enum gh_err rc = GH_ERR_CONFIG;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char group[64] = "";
    if (!pkey || !EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       NULL) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        gh_log(GH_LOG_ERROR, "signing key: not an EC P-256 private key in PEM");
        goto out;
    }
    if (bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, x) ||
        bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, y)) {
        gh_log(GH_LOG_ERROR, "signing key: cannot read EC parameters");
        goto out;
    }
    cjose_jwk_ec_keyspec spec = {
        .crv = CJOSE_JWK_EC_P_256, .d = d, .dlen = 32, .x = x, .xlen = 32, .y = y, .ylen = 32};
    cjose_err cerr;
    signing_jwk = cjose_jwk_create_EC_spec(&spec, &cerr);
    if (!signing_jwk) {
        gh_log(GH_LOG_ERROR, "signing key: cjose: %s", cerr.message);
        goto out;
    }
    rc = build_jwks();
out:
    gh_wipe(d, sizeof d);
    EVP_PKEY_free(pkey);
    return rc;
}

void jwt_shutdown(void)
{
    if (signing_jwk) cjose_jwk_release(signing_jwk);
    signing_jwk = NULL;
    free(jwks_doc);
    jwks_doc = NULL;
}

const char *jwt_jwks_json(void)
{
    return jwks_doc;
}

const char *jwt_kid(void)
{
    return kid;
}

enum gh_err jwt_sign(const struct jwt_claims *c, char **out)
{
    enum gh_err rc = GH_ERR_INTERNAL;
    cjose_err cerr;
    cjose_header_t *hdr = NULL;
    cjose_jws_t *jws = NULL;
    char *payload = NULL;
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "iss", gh_cfg.issuer, "aud",
                               gh_cfg.audience, "sub", c->sub, "sid", c->sid, "iat",
                               (json_int_t)c->iat, "exp", (json_int_t)c->exp, "jti", c->jti);
    if (!claims) return GH_ERR_NOMEM;
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    if (!payload) return GH_ERR_NOMEM;
    hdr = cjose_header_new(&cerr);
    if (!hdr || !cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &cerr) ||
        !cjose_header_set(hdr, CJOSE_HDR_KID, kid, &cerr) ||
        !cjose_header_set(hdr, "typ", "JWT", &cerr))
        goto out;
    jws = cjose_jws_sign(signing_jwk, hdr, (const uint8_t *)payload, strlen(payload), &cerr);
    const char *ser = NULL;
    if (!jws || !cjose_jws_export(jws, &ser, &cerr) || !ser) goto out;
    *out = strdup(ser);
    rc = *out ? GH_OK : GH_ERR_NOMEM;
out:
    if (rc) gh_log(GH_LOG_ERROR, "jwt sign failed: %s", cerr.message ? cerr.message : "?");
    cjose_jws_release(jws);
    cjose_header_release(hdr);
    free(payload);
    return rc;
}

static int claim_str(json_t *o, const char *k, char *dst, size_t cap, size_t minlen)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v)) return -1;
    size_t l = json_string_length(v);
    if (l < minlen || l >= cap) return -1;
    memcpy(dst, json_string_value(v), l + 1);
    return 0;
}

static int claim_int(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

enum gh_err jwt_verify(const char *token, size_t len, int64_t now, struct jwt_claims *out)
{
    if (!token || len < 16 || len > JWT_MAX_LEN) return GH_ERR_DENIED;
    /* Only the compact-JWS alphabet reaches cjose: its base64 decoder
     * asserts (aborts the process) on some inputs with '='. */
    for (size_t i = 0; i < len; i++) {
        char ch = token[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return GH_ERR_DENIED;
    }
    /* Exactly three segments, and an ES256 signature of exactly 64 bytes
     * (86 base64url characters): cjose alone accepts longer signatures. */
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) return GH_ERR_DENIED;
    uint8_t sig[80];
    size_t siglen = 0;
    if (gh_b64url_decode(sig, sizeof sig, &siglen, d2 + 1, len - (size_t)(d2 + 1 - token)) ||
        siglen != 64)
        return GH_ERR_DENIED;
    cjose_err cerr;
    enum gh_err rc = GH_ERR_DENIED;
    json_t *claims = NULL;
    cjose_jws_t *jws = cjose_jws_import(token, len, &cerr);
    if (!jws) return GH_ERR_DENIED;
    /* Allow-list the algorithm and key before any signature work: never
     * "none", never HS256 keyed with our public key, never another curve. */
    cjose_header_t *hdr = cjose_jws_get_protected(jws);
    const char *alg = hdr ? cjose_header_get(hdr, CJOSE_HDR_ALG, &cerr) : NULL;
    const char *hkid = hdr ? cjose_header_get(hdr, CJOSE_HDR_KID, &cerr) : NULL;
    if (!alg || strcmp(alg, CJOSE_HDR_ALG_ES256) != 0 || !hkid ||
        !gh_ct_equal(hkid, strlen(hkid), kid, strlen(kid)))
        goto out;
    if (json_object_get((json_t *)hdr, "crit")) goto out; /* no extensions understood */
    if (!cjose_jws_verify(jws, signing_jwk, &cerr)) goto out;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    if (!cjose_jws_get_plaintext(jws, &pt, &ptlen, &cerr) || !pt) goto out;
    claims = json_loadb((const char *)pt, ptlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(claims)) goto out;

    json_t *iss = json_object_get(claims, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), gh_cfg.issuer) != 0) goto out;
    json_t *aud = json_object_get(claims, "aud");
    int aud_ok = 0;
    if (json_is_string(aud)) {
        aud_ok = strcmp(json_string_value(aud), gh_cfg.audience) == 0;
    } else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a) if (json_is_string(a) &&
                                          strcmp(json_string_value(a), gh_cfg.audience) == 0)
            aud_ok = 1;
    }
    if (!aud_ok) goto out;
    if (claim_str(claims, "sub", out->sub, sizeof out->sub, 1) ||
        claim_str(claims, "sid", out->sid, sizeof out->sid, 1) ||
        claim_str(claims, "jti", out->jti, sizeof out->jti, 1) ||
        claim_int(claims, "iat", &out->iat) || claim_int(claims, "exp", &out->exp))
        goto out;
    if (out->exp <= now || out->iat > now + 60 || out->iat > out->exp) goto out;
    json_t *nbf = json_object_get(claims, "nbf");
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now)) goto out;
    rc = GH_OK;
out:
    json_decref(claims);
    cjose_jws_release(jws);
    return rc;
}
