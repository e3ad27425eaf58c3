#include "sessions/refresh.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/util.h"

#define NONCE_BYTES 12
#define TAG_BYTES 16
static const char box_label[] = "gatehouse refresh successor v1";

enum gh_err refresh_new(char tok[REFRESH_TOKEN_LEN + 1], uint8_t hash[32])
{
    enum gh_err rc = gh_random_token(tok, REFRESH_TOKEN_LEN + 1, REFRESH_RAW_BYTES);
    if (rc) return rc;
    return gh_sha256(hash, tok, REFRESH_TOKEN_LEN);
}

enum gh_err refresh_hash(const char *tok, size_t len, uint8_t hash[32])
{
    uint8_t raw[REFRESH_RAW_BYTES + 1];
    size_t n = 0;
    if (len != REFRESH_TOKEN_LEN || gh_b64url_decode(raw, sizeof raw, &n, tok, len) ||
        n != REFRESH_RAW_BYTES)
        return GH_ERR_DENIED;
    gh_wipe(raw, sizeof raw);
    return gh_sha256(hash, tok, len) ? GH_ERR_INTERNAL : GH_OK;
}

/* The box key: HMAC-SHA256 keyed by the token. Distinct from the lookup
 * hash (plain SHA-256), so the stored hash reveals nothing about the key. */
static enum gh_err box_key(const char *tok, uint8_t key[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), tok, REFRESH_TOKEN_LEN, (const uint8_t *)box_label,
              sizeof box_label - 1, key, &n) ||
        n != 32)
        return GH_ERR_INTERNAL;
    return GH_OK;
}

enum gh_err refresh_seal(const char *tok, const uint8_t *msg, size_t msglen, uint8_t *box,
                         size_t boxcap, size_t *boxlen)
{
    if (boxcap < msglen + NONCE_BYTES + TAG_BYTES || msglen > INT32_MAX) return GH_ERR_INVALID;
    uint8_t key[32];
    enum gh_err rc = box_key(tok, key);
    if (rc) return rc;
    rc = GH_ERR_INTERNAL;
    gh_random(box, NONCE_BYTES);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    if (ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, box) == 1 &&
        EVP_EncryptUpdate(ctx, box + NONCE_BYTES, &len, msg, (int)msglen) == 1 &&
        EVP_EncryptFinal_ex(ctx, box + NONCE_BYTES + len, &fin) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, box + NONCE_BYTES + len + fin) ==
            1) {
        *boxlen = NONCE_BYTES + (size_t)len + (size_t)fin + TAG_BYTES;
        rc = GH_OK;
    }
    EVP_CIPHER_CTX_free(ctx);
    gh_wipe(key, sizeof key);
    return rc;
}

enum gh_err refresh_open(const char *tok, const uint8_t *box, size_t boxlen, char **out)
{
    if (boxlen < NONCE_BYTES + TAG_BYTES || boxlen > INT32_MAX) return GH_ERR_DENIED;
    size_t ctlen = boxlen - NONCE_BYTES - TAG_BYTES;
    uint8_t key[32];
    enum gh_err rc = box_key(tok, key);
    if (rc) return rc;
    char *pt = malloc(ctlen + 1);
    if (!pt) {
        gh_wipe(key, sizeof key);
        return GH_ERR_NOMEM;
    }
    rc = GH_ERR_DENIED;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    if (ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, box) == 1 &&
        EVP_DecryptUpdate(ctx, (uint8_t *)pt, &len, box + NONCE_BYTES, (int)ctlen) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES,
                            (void *)(box + boxlen - TAG_BYTES)) == 1 &&
        EVP_DecryptFinal_ex(ctx, (uint8_t *)pt + len, &fin) == 1) {
        pt[len + fin] = '\0';
        *out = pt;
        pt = NULL;
        rc = GH_OK;
    }
    EVP_CIPHER_CTX_free(ctx);
    gh_wipe(key, sizeof key);
    if (pt) {
        gh_wipe(pt, ctlen + 1);
        free(pt);
    }
    return rc;
}
