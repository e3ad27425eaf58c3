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
#include <pthread.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

#define JWT_MAX_KEYS 16
#define KID_MAX (GH_B64URL_LEN(32) + 1)

struct jkey {
    char kid[KID_MAX];
    cjose_jwk_t *jwk;
    json_t *pub; /* public JWK with kid, alg, use */
    int64_t activates_at;
};

/* The loaded keys, oldest activation first. Replaced whole on reload;
 * readers hold the read lock while they use a key. */
struct jring {
    size_t n;
    struct jkey k[JWT_MAX_KEYS];
};

static struct jring *ring;
static pthread_rwlock_t ring_lock = PTHREAD_RWLOCK_INITIALIZER;

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

/* kid (RFC 7638 thumbprint) and public JWK of a cjose key. */
static enum gh_err describe(cjose_jwk_t *jwk, char kid[KID_MAX], json_t **pubout)
{
    cjose_err cerr;
    char *pub = cjose_jwk_to_json(jwk, false, &cerr);
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
    if (!tps || gh_sha256(h, tps, strlen(tps)) || gh_b64url_encode(kid, KID_MAX, h, 32)) {
        free(tps);
        json_decref(k);
        return GH_ERR_INTERNAL;
    }
    free(tps);
    *pubout = json_pack("{s:s,s:s,s:O,s:O,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
                        json_object_get(k, "x"), "y", json_object_get(k, "y"), "kid", kid, "alg",
                        "ES256", "use", "sig");
    json_decref(k);
    if (!*pubout) return GH_ERR_NOMEM;
    if (!cjose_jwk_set_kid(jwk, kid, strlen(kid), &cerr)) {
        json_decref(*pubout);
        return GH_ERR_INTERNAL;
    }
    return GH_OK;
}

/* Parses a PEM P-256 private key into a cjose key, its kid and public JWK. */
static enum gh_err key_from_pem(const char *pem, size_t pemlen, cjose_jwk_t **out,
                                char kid[KID_MAX], json_t **pub)
{
    uint8_t d[32], x[32], y[32];
    enum gh_err rc = GH_ERR_CONFIG;
    BIO *bio = BIO_new_mem_buf(pem, (int)pemlen);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char group[64] = "";
    cjose_jwk_t *jwk = NULL;
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
    jwk = cjose_jwk_create_EC_spec(&spec, &cerr);
    if (!jwk) {
        gh_log(GH_LOG_ERROR, "signing key: cjose: %s", cerr.message);
        goto out;
    }
    if ((rc = describe(jwk, kid, pub))) goto out;
    *out = jwk;
    jwk = NULL;
out:
    if (jwk) cjose_jwk_release(jwk);
    gh_wipe(d, sizeof d);
    EVP_PKEY_free(pkey);
    return rc;
}

enum gh_err jwt_check_pem(const char *pem)
{
    cjose_jwk_t *jwk = NULL;
    json_t *pub = NULL;
    char kid[KID_MAX];
    enum gh_err rc = key_from_pem(pem, strlen(pem), &jwk, kid, &pub);
    if (jwk) cjose_jwk_release(jwk);
    json_decref(pub);
    return rc;
}

static void ring_free(struct jring *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        cjose_jwk_release(r->k[i].jwk);
        json_decref(r->k[i].pub);
    }
    free(r);
}

static void ring_swap(struct jring *r)
{
    pthread_rwlock_wrlock(&ring_lock);
    struct jring *old = ring;
    ring = r;
    pthread_rwlock_unlock(&ring_lock);
    ring_free(old);
}

enum gh_err jwt_init(const char *pem)
{
    struct jring *r = calloc(1, sizeof *r);
    if (!r) return GH_ERR_NOMEM;
    enum gh_err rc = key_from_pem(pem, strlen(pem), &r->k[0].jwk, r->k[0].kid, &r->k[0].pub);
    if (rc) {
        free(r);
        return rc;
    }
    r->n = 1;
    ring_swap(r);
    return GH_OK;
}

enum gh_err jwt_keys_load(const struct store_ops *ops, struct store_conn *c, bool *changed)
{
    if (changed) *changed = true;
    struct store_signing_key *keys = calloc(JWT_MAX_KEYS, sizeof *keys);
    struct jring *r = calloc(1, sizeof *r);
    size_t n = 0;
    enum gh_err rc = (keys && r) ? ops->signing_keys.list(c, keys, JWT_MAX_KEYS, &n) : GH_ERR_NOMEM;
    if (rc == GH_OK && n > 0) { /* the periodic reload: nothing changed, nothing to do */
        bool same = false;
        pthread_rwlock_rdlock(&ring_lock);
        if (ring && ring->n == n) {
            same = true;
            for (size_t i = 0; same && i < n; i++)
                same = strcmp(ring->k[i].kid, keys[i].kid) == 0 &&
                       ring->k[i].activates_at == keys[i].activates_at;
        }
        pthread_rwlock_unlock(&ring_lock);
        if (same) {
            gh_wipe(keys, JWT_MAX_KEYS * sizeof *keys);
            free(keys);
            free(r);
            if (changed) *changed = false;
            return GH_OK;
        }
    }
    for (size_t i = 0; rc == GH_OK && i < n; i++) {
        uint8_t *pem = NULL;
        size_t pemlen = 0;
        rc = vault_open("signing_keys", "private_sealed", keys[i].kid, keys[i].private_sealed, &pem,
                        &pemlen);
        if (rc) {
            gh_log(GH_LOG_ERROR, "signing key %s does not open: %s", keys[i].kid, gh_err_name(rc));
            break;
        }
        struct jkey *k = &r->k[r->n];
        rc = key_from_pem((const char *)pem, pemlen, &k->jwk, k->kid, &k->pub);
        vault_free(pem, pemlen);
        if (rc) break;
        r->n++;
        if (strcmp(k->kid, keys[i].kid) != 0) { /* the row was tampered with */
            gh_log(GH_LOG_ERROR, "signing key %s: stored kid does not match the key", keys[i].kid);
            rc = GH_ERR_DENIED;
            break;
        }
        k->activates_at = keys[i].activates_at;
    }
    if (keys) gh_wipe(keys, JWT_MAX_KEYS * sizeof *keys);
    free(keys);
    if (rc == GH_OK && r && r->n == 0) rc = GH_ERR_NOT_FOUND;
    if (rc) {
        ring_free(r);
        return rc;
    }
    ring_swap(r);
    return GH_OK;
}

enum gh_err jwt_key_create(const struct store_ops *ops, struct store_conn *c, const char *pem_in,
                           int64_t activates_at, char kid_out[JWT_KID_MAX + 1])
{
    char *pem = NULL;
    size_t pemlen = 0;
    enum gh_err rc = GH_ERR_INTERNAL;
    if (pem_in) {
        pem = strdup(pem_in);
        pemlen = pem ? strlen(pem) : 0;
    } else {
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        BIO *bio = BIO_new(BIO_s_secmem());
        char *data = NULL;
        long dl = 0;
        if (pkey && bio && PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
            (dl = BIO_get_mem_data(bio, &data)) > 0 && (pem = malloc((size_t)dl + 1))) {
            memcpy(pem, data, (size_t)dl);
            pem[dl] = '\0';
            pemlen = (size_t)dl;
        }
        BIO_free(bio); /* secure-memory BIO: cleared on free */
        EVP_PKEY_free(pkey);
    }
    if (!pem) return GH_ERR_NOMEM;
    cjose_jwk_t *jwk = NULL;
    json_t *pub = NULL;
    struct store_signing_key *k = calloc(1, sizeof *k);
    char *sealed = NULL;
    if (!k) goto out;
    if ((rc = key_from_pem(pem, pemlen, &jwk, k->kid, &pub))) goto out;
    if ((rc = vault_seal("signing_keys", "private_sealed", k->kid, (const uint8_t *)pem, pemlen,
                         &sealed)))
        goto out;
    if (strlen(sealed) > STORE_SEALED_MAX) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    memcpy(k->private_sealed, sealed, strlen(sealed) + 1);
    /* Keys that activate in the same second are ranked by created_at: a
     * new key must come after every key there is, even one made this same
     * second, or the older key would keep signing. */
    k->created_at = gh_now_s();
    struct store_signing_key *all = calloc(JWT_MAX_KEYS, sizeof *all);
    size_t n = 0;
    if (!all) {
        rc = GH_ERR_NOMEM;
        goto out;
    }
    rc = ops->signing_keys.list(c, all, JWT_MAX_KEYS, &n);
    for (size_t i = 0; rc == GH_OK && i < n; i++)
        if (all[i].created_at >= k->created_at) k->created_at = all[i].created_at + 1;
    gh_wipe(all, JWT_MAX_KEYS * sizeof *all);
    free(all);
    if (rc) goto out;
    k->activates_at = activates_at;
    rc = ops->signing_keys.insert(c, k);
    if (rc == GH_OK || rc == GH_ERR_CONFLICT) memcpy(kid_out, k->kid, strlen(k->kid) + 1);
out:
    if (jwk) cjose_jwk_release(jwk);
    json_decref(pub);
    free(sealed);
    free(k);
    gh_free_secret_str(pem);
    return rc;
}

/* Key i stops signing when a newer key activates; it stays published until
 * every token it signed has expired (access TTL plus the clock skew). */
static bool published(const struct jring *r, size_t i, int64_t now)
{
    for (size_t j = i + 1; j < r->n; j++)
        if (r->k[j].activates_at <= now)
            return now < r->k[j].activates_at + gh_cfg.access_ttl + gh_cfg.clock_skew;
    return true;
}

/* The signing key: the newest one already active. -1 if none. */
static int signer(const struct jring *r, int64_t now)
{
    int s = -1;
    for (size_t i = 0; i < r->n; i++)
        if (r->k[i].activates_at <= now) s = (int)i;
    return s;
}

json_t *jwt_jwks(void)
{
    int64_t now = gh_now_s();
    json_t *keys = json_array();
    pthread_rwlock_rdlock(&ring_lock);
    for (size_t i = 0; ring && keys && i < ring->n; i++)
        if (published(ring, i, now)) json_array_append_new(keys, json_deep_copy(ring->k[i].pub));
    pthread_rwlock_unlock(&ring_lock);
    return keys ? json_pack("{s:o}", "keys", keys) : NULL;
}

size_t jwt_keys_unpublished(char kids[][JWT_KID_MAX + 1], size_t max)
{
    int64_t now = gh_now_s();
    size_t n = 0;
    pthread_rwlock_rdlock(&ring_lock);
    for (size_t i = 0; ring && i < ring->n && n < max; i++)
        if (!published(ring, i, now) && (int)i != signer(ring, now))
            memcpy(kids[n++], ring->k[i].kid, strlen(ring->k[i].kid) + 1);
    pthread_rwlock_unlock(&ring_lock);
    return n;
}

const char *jwt_kid(void)
{
    static __thread char kid[KID_MAX];
    kid[0] = '\0';
    pthread_rwlock_rdlock(&ring_lock);
    int s = ring ? signer(ring, gh_now_s()) : -1;
    if (s >= 0) memcpy(kid, ring->k[s].kid, strlen(ring->k[s].kid) + 1);
    pthread_rwlock_unlock(&ring_lock);
    return kid;
}

void jwt_shutdown(void)
{
    ring_swap(NULL);
}

enum gh_err jwt_sign(const struct jwt_claims *c, char **out)
{
    enum gh_err rc = GH_ERR_INTERNAL;
    cjose_err cerr = {0};
    cjose_header_t *hdr = NULL;
    cjose_jws_t *jws = NULL;
    char *payload = NULL;
    char aud[sizeof JWT_RESTRICTED_AUD_PREFIX + sizeof gh_cfg.audience];
    snprintf(aud, sizeof aud, "%s%s", c->restricted ? JWT_RESTRICTED_AUD_PREFIX : "",
             gh_cfg.audience);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "iss", gh_cfg.issuer, "aud", aud,
                               "sub", c->sub, "sid", c->sid, "iat", (json_int_t)c->iat, "exp",
                               (json_int_t)c->exp, "jti", c->jti);
    if (claims && c->rev >= 0 && json_object_set_new(claims, "rev", json_integer(c->rev)) != 0) {
        json_decref(claims);
        claims = NULL;
    }
    if (!claims) return GH_ERR_NOMEM;
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    if (!payload) return GH_ERR_NOMEM;
    pthread_rwlock_rdlock(&ring_lock);
    int s = ring ? signer(ring, gh_now_s()) : -1;
    if (s < 0) goto out;
    hdr = cjose_header_new(&cerr);
    if (!hdr || !cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &cerr) ||
        !cjose_header_set(hdr, CJOSE_HDR_KID, ring->k[s].kid, &cerr) ||
        !cjose_header_set(hdr, "typ", "JWT", &cerr))
        goto out;
    jws = cjose_jws_sign(ring->k[s].jwk, hdr, (const uint8_t *)payload, strlen(payload), &cerr);
    const char *ser = NULL;
    if (!jws || !cjose_jws_export(jws, &ser, &cerr) || !ser) goto out;
    *out = strdup(ser);
    rc = *out ? GH_OK : GH_ERR_NOMEM;
out:
    pthread_rwlock_unlock(&ring_lock);
    if (rc) gh_log(GH_LOG_ERROR, "jwt sign failed: %s", cerr.message ? cerr.message : "no key");
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

bool jwt_current(const struct jwt_claims *c, int64_t tia)
{
    return c->rev >= 0 ? c->rev >= tia : c->iat >= tia;
}

enum gh_err jwt_verify(const char *token, size_t len, int64_t now, struct jwt_claims *out)
{
    out->restricted = false;
    out->rev = -1;
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
    if (!alg || strcmp(alg, CJOSE_HDR_ALG_ES256) != 0 || !hkid) goto out;
    /* Only the parameters Gatehouse writes. crit: no extension is
     * understood; jku, x5u, jwk, x5c would name a key somewhere else, and
     * nothing here fetches or trusts one: the kid must be a published key. */
    const char *hname;
    json_t *hval;
    json_object_foreach((json_t *)hdr, hname, hval)
    {
        if (strcmp(hname, "alg") != 0 && strcmp(hname, "kid") != 0 && strcmp(hname, "typ") != 0)
            goto out;
    }
    pthread_rwlock_rdlock(&ring_lock);
    bool sig_ok = false;
    for (size_t i = 0; ring && i < ring->n; i++) {
        /* Any key we still publish verifies; kids are public, so a plain
         * comparison leaks nothing. */
        if (strcmp(hkid, ring->k[i].kid) == 0 && published(ring, i, now)) {
            sig_ok = cjose_jws_verify(jws, ring->k[i].jwk, &cerr);
            break;
        }
    }
    pthread_rwlock_unlock(&ring_lock);
    if (!sig_ok) goto out;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    if (!cjose_jws_get_plaintext(jws, &pt, &ptlen, &cerr) || !pt) goto out;
    claims = json_loadb((const char *)pt, ptlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(claims)) goto out;

    json_t *iss = json_object_get(claims, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), gh_cfg.issuer) != 0) goto out;
    json_t *aud = json_object_get(claims, "aud");
    int aud_ok = 0;
    size_t rpl = strlen(JWT_RESTRICTED_AUD_PREFIX);
    if (json_is_string(aud)) {
        const char *a = json_string_value(aud);
        aud_ok = strcmp(a, gh_cfg.audience) == 0;
        if (!aud_ok && strncmp(a, JWT_RESTRICTED_AUD_PREFIX, rpl) == 0 &&
            strcmp(a + rpl, gh_cfg.audience) == 0)
            aud_ok = 1, out->restricted = true;
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
    if (out->exp <= now || out->iat > now + gh_cfg.clock_skew + 1 || out->iat > out->exp) goto out;
    /* We never issue longer lives: a longer one was not made by us. */
    if (out->exp - out->iat > gh_cfg.access_ttl + gh_cfg.clock_skew) goto out;
    json_t *rev = json_object_get(claims, "rev");
    if (rev && (!json_is_integer(rev) || json_integer_value(rev) < 0)) goto out;
    if (rev) out->rev = json_integer_value(rev);
    json_t *nbf = json_object_get(claims, "nbf");
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now)) goto out;
    rc = GH_OK;
out:
    json_decref(claims);
    cjose_jws_release(jws);
    return rc;
}
