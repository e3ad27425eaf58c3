#include "vault/vault.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

#define NONCE_BYTES 12
#define TAG_BYTES 16
#define MASTER_KID "master"

/* Everything secret, in one sodium_malloc region (guard pages, mlock'd,
 * PROT_NONE while no thread is using it). */
struct keyring {
    uint8_t master[VAULT_KEYBYTES];
    int nkeys;
    struct {
        char kid[VAULT_KID_LEN + 1];
        int64_t created_at;
        uint8_t key[VAULT_KEYBYTES];
    } keys[VAULT_MAX_KEYS];
    int current; /* index of the sealing key, -1 if none */
};

static struct keyring *ring;
static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_idle = PTHREAD_COND_INITIALIZER;
static int ring_users;

/* Makes the ring readable (or, for rw, writable) for the caller; pairs with
 * ring_release. Readers share it; a writer holds the mutex for its whole
 * update and first waits until no reader is left, so no one reads a key
 * slot while it changes. The protection flips happen under the mutex. */
static struct keyring *ring_acquire(bool rw)
{
    pthread_mutex_lock(&ring_mu);
    if (!ring) {
        pthread_mutex_unlock(&ring_mu);
        return NULL;
    }
    if (rw) {
        while (ring_users > 0)
            pthread_cond_wait(&ring_idle, &ring_mu);
        sodium_mprotect_readwrite(ring);
        return ring; /* mutex stays held until ring_release(true) */
    }
    if (ring_users++ == 0) sodium_mprotect_readonly(ring);
    pthread_mutex_unlock(&ring_mu);
    return ring;
}

static void ring_release(bool rw)
{
    if (rw) {
        sodium_mprotect_noaccess(ring);
        pthread_mutex_unlock(&ring_mu);
        return;
    }
    pthread_mutex_lock(&ring_mu);
    if (--ring_users == 0) {
        sodium_mprotect_noaccess(ring);
        pthread_cond_broadcast(&ring_idle);
    }
    pthread_mutex_unlock(&ring_mu);
}

/* ---- master key text ---- */

static bool looks_like_placeholder(const char *t)
{
    /* Six letters or more: shorter words turn up in random base64 (one key
     * in ~12,500 contained "your" or "xxxx"); patterns are caught by the
     * distinct-byte count instead. */
    static const char *const words[] = {"change",  "example", "placeholder", "replace",
                                        "default", "secret",  "password",    "masterkey"};
    char low[256];
    size_t n = strlen(t);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)t[i]);
    low[n] = '\0';
    bool hit = false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(low, words[i])) hit = true;
    gh_wipe(low, sizeof low);
    return hit;
}

/* The one check on the decoded bytes, whichever spelling they came in.
 * 32 random bytes have ~30 distinct values; fewer than 16 is a pattern.
 * Text is a passphrase someone hex- or base64-encoded, such as the base64
 * of "0123456789abcdef0123456789abcdef": refused when 28 or more of the 32
 * bytes are printable ASCII, tab, CR or LF (random bytes: about 1e-8), or
 * when the bytes are UTF-8 text with no other control character (any
 * language's passphrase; a sequence cut at the end allowed; random bytes:
 * below 1e-11). */
static bool key_bytes_are_text(const uint8_t k[VAULT_KEYBYTES])
{
    int ascii_text = 0;
    for (size_t i = 0; i < VAULT_KEYBYTES; i++) {
        bool t = (k[i] >= 0x20 && k[i] < 0x7f) || k[i] == '\t' || k[i] == '\n' || k[i] == '\r';
        if (t) ascii_text++;
        if (k[i] < 0x80 && !t) return false; /* a control character: not typed text */
    }
    if (ascii_text >= 28) return true;
    size_t len = VAULT_KEYBYTES, cut = 0; /* a multi-byte sequence cut by the end */
    while (cut < 3 && len > 0 && (k[len - 1] & 0xC0) == 0x80)
        len--, cut++;
    if (len > 0 && k[len - 1] >= 0xC0)
        len--; /* its lead byte */
    else if (cut)
        len += cut; /* continuation bytes without a lead: let the check refuse them */
    return gh_utf8_valid((const char *)k, len);
}

static bool key_bytes_look_random(const uint8_t k[VAULT_KEYBYTES])
{
    int distinct = 0;
    bool seen[256] = {false};
    for (size_t i = 0; i < VAULT_KEYBYTES; i++)
        if (!seen[k[i]]) seen[k[i]] = true, distinct++;
    gh_wipe(seen, sizeof seen); /* which values the key holds */
    return distinct >= 16 && !key_bytes_are_text(k);
}

enum gh_err vault_parse_master_key(const char *text, uint8_t out[VAULT_KEYBYTES], char *err,
                                   size_t errlen)
{
    uint8_t buf[64];
    size_t n = 0, len = text ? strlen(text) : 0;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--; /* files usually end with a newline */
    bool ok = false;
    /* libsodium 1.0.18 decodes bytes >= 0x80 as letters: check the
     * alphabet (hex and both base64 forms) first. */
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/' || ch == '-' || ch == '_' || ch == '='))
            len = 0; /* refused below, with the same message */
    }
    if (len == 64) {
        ok = sodium_hex2bin(buf, sizeof buf, text, len, NULL, &n, NULL) == 0 && n == 32;
    } else if (len == 43 || len == 44) {
        static const int variants[] = {
            sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
            sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
        for (size_t v = 0; !ok && v < sizeof variants / sizeof variants[0]; v++)
            ok = sodium_base642bin(buf, sizeof buf, text, len, NULL, &n, NULL, variants[v]) == 0 &&
                 n == 32;
    }
    if (!ok) {
        snprintf(err, errlen,
                 "GATEHOUSE_MASTER_KEY must be 32 random bytes as 64 hex characters or base64 "
                 "(e.g. `openssl rand -base64 32`); the value given is %s",
                 len < 43 ? "too short" : "not in either form");
        gh_wipe(buf, sizeof buf);
        return GH_ERR_CONFIG;
    }
    if (!key_bytes_look_random(buf) || looks_like_placeholder(text)) {
        snprintf(err, errlen,
                 "GATEHOUSE_MASTER_KEY looks like a placeholder, not a random key; generate one "
                 "with `openssl rand -base64 32`");
        gh_wipe(buf, sizeof buf);
        return GH_ERR_CONFIG;
    }
    memcpy(out, buf, VAULT_KEYBYTES);
    gh_wipe(buf, sizeof buf);
    return GH_OK;
}

enum gh_err vault_dev_master_key(const char *data_dir, char **out)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/master.key", data_dir);
    enum gh_err rc = config_read_file(path, 1024, out);
    if (rc != GH_ERR_NOT_FOUND) return rc;
    uint8_t k[VAULT_KEYBYTES];
    char text[GH_B64URL_LEN(VAULT_KEYBYTES) + 2];
    gh_random(k, sizeof k);
    rc = gh_b64url_encode(text, sizeof text, k, sizeof k);
    gh_wipe(k, sizeof k);
    if (rc) return rc;
    size_t tl = strlen(text);
    text[tl++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        gh_wipe(text, sizeof text);
        gh_log(GH_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
        return GH_ERR_CONFIG;
    }
    bool ok = write(fd, text, tl) == (ssize_t)tl && fsync(fd) == 0;
    int werr = errno;
    close(fd);
    gh_wipe(text, sizeof text);
    if (!ok) {
        gh_log(GH_LOG_ERROR, "cannot write %s: %s", path, strerror(werr));
        unlink(path);
        return GH_ERR_INTERNAL;
    }
    gh_log(GH_LOG_INFO, "generated development master key %s (mode 0600)", path);
    return config_read_file(path, 1024, out);
}

enum gh_err vault_init(const uint8_t master[VAULT_KEYBYTES])
{
    if (ring) return GH_ERR_INTERNAL;
    struct keyring *r = sodium_malloc(sizeof *r);
    if (!r) return GH_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    memcpy(r->master, master, VAULT_KEYBYTES);
    r->current = -1;
    sodium_mprotect_noaccess(r);
    pthread_mutex_lock(&ring_mu);
    ring = r;
    ring_users = 0;
    pthread_mutex_unlock(&ring_mu);
    return GH_OK;
}

void vault_shutdown(void)
{
    pthread_mutex_lock(&ring_mu);
    if (ring) {
        sodium_mprotect_readwrite(ring);
        sodium_free(ring); /* sodium_free wipes before unmapping */
        ring = NULL;
    }
    pthread_mutex_unlock(&ring_mu);
}

/* ---- AEAD ---- */

/* AAD: a fixed label and the four binding fields, NUL-separated. */
static size_t build_aad(char *aad, size_t cap, const char *table, const char *column,
                        const char *row_id, const char *kid)
{
    int n = snprintf(aad, cap, "gatehouse-vault-v1%c%s%c%s%c%s%c%s", 0, table, 0, column, 0, row_id,
                     0, kid);
    return (n < 0 || (size_t)n >= cap) ? 0 : (size_t)n;
}

static enum gh_err gcm_seal(const uint8_t key[32], const char *kid, const char *aad, size_t aadlen,
                            const uint8_t *pt, size_t len, char **out)
{
    if (len > 1 << 20) return GH_ERR_INVALID;
    uint8_t nonce[NONCE_BYTES];
    gh_random(nonce, sizeof nonce);
    uint8_t *ct = malloc(len + TAG_BYTES);
    size_t outcap =
        4 + strlen(kid) + GH_B64URL_LEN(NONCE_BYTES) + GH_B64URL_LEN(len + TAG_BYTES) + 4;
    char *s = malloc(outcap);
    enum gh_err rc = GH_ERR_INTERNAL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    if (!ct || !s || !ctx) {
        rc = GH_ERR_NOMEM;
        goto out;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &l1, (const uint8_t *)aad, (int)aadlen) != 1 ||
        EVP_EncryptUpdate(ctx, ct, &l1, pt, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + l1, &l2) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, ct + l1 + l2) != 1)
        goto out;
    size_t ctlen = (size_t)(l1 + l2) + TAG_BYTES;
    int n = snprintf(s, outcap, "v1.%s.", kid);
    if (n < 0 || gh_b64url_encode(s + n, outcap - (size_t)n, nonce, NONCE_BYTES)) goto out;
    size_t used = strlen(s);
    s[used++] = '.';
    if (gh_b64url_encode(s + used, outcap - used, ct, ctlen)) goto out;
    *out = s;
    s = NULL;
    rc = GH_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    free(s);
    return rc;
}

/* Splits "v1.<kid>.<nonce>.<ct>" in place-free fashion. */
struct sealed_parts {
    char kid[VAULT_KID_LEN + 8];
    const char *nonce;
    size_t nonce_len;
    const char *ct;
    size_t ct_len;
};

static enum gh_err split_sealed(const char *s, struct sealed_parts *p)
{
    if (!s || strncmp(s, "v1.", 3) != 0) return GH_ERR_INVALID;
    const char *k = s + 3, *d1 = strchr(k, '.');
    if (!d1 || d1 == k || (size_t)(d1 - k) >= sizeof p->kid) return GH_ERR_INVALID;
    const char *d2 = strchr(d1 + 1, '.');
    if (!d2 || strchr(d2 + 1, '.')) return GH_ERR_INVALID;
    memcpy(p->kid, k, (size_t)(d1 - k));
    p->kid[d1 - k] = '\0';
    p->nonce = d1 + 1;
    p->nonce_len = (size_t)(d2 - d1 - 1);
    p->ct = d2 + 1;
    p->ct_len = strlen(d2 + 1);
    return GH_OK;
}

enum gh_err vault_sealed_kid(const char *sealed, char kid[VAULT_KID_LEN + 1])
{
    struct sealed_parts p;
    enum gh_err rc = split_sealed(sealed, &p);
    if (rc) return rc;
    if (strlen(p.kid) > VAULT_KID_LEN) return GH_ERR_INVALID;
    memcpy(kid, p.kid, strlen(p.kid) + 1);
    return GH_OK;
}

static enum gh_err gcm_open(const uint8_t key[32], const struct sealed_parts *p, const char *aad,
                            size_t aadlen, uint8_t **pt, size_t *len)
{
    uint8_t nonce[NONCE_BYTES + 4];
    size_t nn = 0;
    if (gh_b64url_decode(nonce, sizeof nonce, &nn, p->nonce, p->nonce_len) || nn != NONCE_BYTES)
        return GH_ERR_INVALID;
    size_t cap = p->ct_len; /* decoded is shorter than encoded */
    uint8_t *ct = malloc(cap + 1), *out = NULL;
    size_t ctlen = 0;
    enum gh_err rc = GH_ERR_INVALID;
    EVP_CIPHER_CTX *ctx = NULL;
    if (!ct) return GH_ERR_NOMEM;
    if (gh_b64url_decode(ct, cap + 1, &ctlen, p->ct, p->ct_len) || ctlen < TAG_BYTES) goto out;
    size_t mlen = ctlen - TAG_BYTES;
    out = malloc(mlen + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!out || !ctx) {
        rc = GH_ERR_NOMEM;
        goto out;
    }
    int l1 = 0, l2 = 0;
    rc = GH_ERR_DENIED;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &l1, (const uint8_t *)aad, (int)aadlen) != 1 ||
        EVP_DecryptUpdate(ctx, out, &l1, ct, (int)mlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, ct + mlen) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + l1, &l2) != 1)
        goto out;
    out[mlen] = '\0';
    *pt = out;
    *len = mlen;
    out = NULL;
    rc = GH_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (out) {
        gh_wipe(out, mlen + 1);
        free(out);
    }
    free(ct);
    return rc;
}

void vault_free(uint8_t *pt, size_t len)
{
    if (!pt) return;
    gh_wipe(pt, len + 1);
    free(pt);
}

/* ---- data keys ---- */

static int find_key(const struct keyring *r, const char *kid)
{
    for (int i = 0; i < r->nkeys; i++)
        if (strcmp(r->keys[i].kid, kid) == 0) return i;
    return -1;
}

enum gh_err vault_seal(const char *table, const char *column, const char *row_id, const uint8_t *pt,
                       size_t len, char **out)
{
    char aad[512];
    struct keyring *r = ring_acquire(false);
    if (!r) return GH_ERR_INTERNAL;
    enum gh_err rc = GH_ERR_INTERNAL;
    if (r->current >= 0) {
        const char *kid = r->keys[r->current].kid;
        size_t al = build_aad(aad, sizeof aad, table, column, row_id, kid);
        rc = al ? gcm_seal(r->keys[r->current].key, kid, aad, al, pt, len, out) : GH_ERR_INVALID;
    }
    ring_release(false);
    return rc;
}

enum gh_err vault_open(const char *table, const char *column, const char *row_id,
                       const char *sealed, uint8_t **pt, size_t *len)
{
    struct sealed_parts p;
    char aad[512];
    enum gh_err rc = split_sealed(sealed, &p);
    if (rc) return rc;
    size_t al = build_aad(aad, sizeof aad, table, column, row_id, p.kid);
    if (!al) return GH_ERR_INVALID;
    struct keyring *r = ring_acquire(false);
    if (!r) return GH_ERR_INTERNAL;
    int i = find_key(r, p.kid);
    rc = i < 0 ? GH_ERR_DENIED : gcm_open(r->keys[i].key, &p, aad, al, pt, len);
    ring_release(false);
    return rc;
}

void vault_current_kid(char kid[VAULT_KID_LEN + 1])
{
    kid[0] = '\0';
    struct keyring *r = ring_acquire(false);
    if (!r) return;
    if (r->current >= 0) memcpy(kid, r->keys[r->current].kid, VAULT_KID_LEN + 1);
    ring_release(false);
}

/* Unwraps one stored data key into slot i of the (writable) ring. */
static enum gh_err unwrap(struct keyring *r, const struct store_vault_key *k)
{
    struct sealed_parts p;
    char aad[256];
    uint8_t *pt = NULL;
    size_t len = 0;
    size_t kl = strlen(k->kid);
    if (kl == 0 || kl > VAULT_KID_LEN) return GH_ERR_DENIED;
    if (split_sealed(k->wrapped, &p) || strcmp(p.kid, MASTER_KID) != 0) return GH_ERR_DENIED;
    size_t al = build_aad(aad, sizeof aad, "vault_keys", "wrapped", k->kid, MASTER_KID);
    enum gh_err rc = gcm_open(r->master, &p, aad, al, &pt, &len);
    if (rc == GH_OK && len != VAULT_KEYBYTES) rc = GH_ERR_DENIED;
    if (rc == GH_OK) {
        int i = find_key(r, k->kid);
        if (i < 0) {
            if (r->nkeys >= VAULT_MAX_KEYS)
                rc = GH_ERR_INTERNAL;
            else
                i = r->nkeys++;
        }
        if (i >= 0 && rc == GH_OK) {
            memcpy(r->keys[i].kid, k->kid, kl + 1);
            r->keys[i].created_at = k->created_at;
            memcpy(r->keys[i].key, pt, VAULT_KEYBYTES);
            if (r->current < 0 || k->created_at >= r->keys[r->current].created_at) r->current = i;
        }
    }
    if (pt) vault_free(pt, len);
    return rc == GH_ERR_INVALID ? GH_ERR_DENIED : rc;
}

enum gh_err vault_load(const struct store_ops *ops, struct store_conn *c, bool create)
{
    struct store_vault_key *keys = calloc(VAULT_MAX_KEYS, sizeof *keys);
    size_t n = 0;
    if (!keys) return GH_ERR_NOMEM;
    enum gh_err rc = ops->vault_keys.list(c, keys, VAULT_MAX_KEYS, &n);
    if (rc == GH_OK) {
        struct keyring *r = ring_acquire(true);
        if (!r) rc = GH_ERR_INTERNAL;
        for (size_t i = 0; r && rc == GH_OK && i < n; i++)
            rc = unwrap(r, &keys[i]);
        if (r) ring_release(true);
    }
    free(keys);
    if (rc == GH_OK && n == 0 && create) {
        char kid[VAULT_KID_LEN + 1];
        rc = vault_add_key(ops, c, kid);
    }
    return rc;
}

enum gh_err vault_add_key(const struct store_ops *ops, struct store_conn *c,
                          char kid[VAULT_KID_LEN + 1])
{
    struct store_vault_key k;
    uint8_t raw[6], dek[VAULT_KEYBYTES];
    char aad[256], *wrapped = NULL;
    memset(&k, 0, sizeof k);
    struct keyring *lim = ring_acquire(false);
    bool full = lim && lim->nkeys >= VAULT_MAX_KEYS;
    if (lim) ring_release(false);
    if (full) {
        gh_log(GH_LOG_ERROR,
               "vault: already %d data keys; rotate (which deletes unused ones) "
               "instead of adding more",
               VAULT_MAX_KEYS);
        return GH_ERR_CONFLICT;
    }
    gh_random(raw, sizeof raw);
    if (gh_b64url_encode(k.kid, sizeof k.kid, raw, sizeof raw)) return GH_ERR_INTERNAL;
    /* Microseconds: two keys made in one second must still order. */
    k.created_at = gh_now_us();
    gh_random(dek, sizeof dek);
    size_t al = build_aad(aad, sizeof aad, "vault_keys", "wrapped", k.kid, MASTER_KID);
    struct keyring *r = ring_acquire(false);
    enum gh_err rc =
        r ? gcm_seal(r->master, MASTER_KID, aad, al, dek, sizeof dek, &wrapped) : GH_ERR_INTERNAL;
    if (r) ring_release(false);
    gh_wipe(dek, sizeof dek);
    if (rc) return rc;
    snprintf(k.wrapped, sizeof k.wrapped, "%s", wrapped);
    free(wrapped);
    if ((rc = ops->vault_keys.insert(c, &k))) return rc;
    /* Load it back through the same path as every other key. */
    r = ring_acquire(true);
    rc = r ? unwrap(r, &k) : GH_ERR_INTERNAL;
    if (r) ring_release(true);
    if (rc == GH_OK) memcpy(kid, k.kid, VAULT_KID_LEN + 1);
    return rc;
}

enum gh_err vault_derive(const char *label, uint8_t out[32])
{
    struct keyring *r = ring_acquire(false);
    if (!r) return GH_ERR_INTERNAL;
    enum gh_err rc = GH_ERR_INTERNAL;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, r->master, VAULT_KEYBYTES),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label)),
            OSSL_PARAM_construct_end()};
        if (EVP_KDF_derive(kctx, out, 32, params) == 1) rc = GH_OK;
    }
    ring_release(false);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rc;
}

enum gh_err vault_rewrap(const struct store_ops *ops, struct store_conn *c,
                         const uint8_t new_master[VAULT_KEYBYTES], size_t *n)
{
    *n = 0;
    struct keyring *r = ring_acquire(true);
    if (!r) return GH_ERR_INTERNAL;
    enum gh_err rc = ops->tx.begin_write(c);
    for (int i = 0; rc == GH_OK && i < r->nkeys; i++) {
        char aad[256], *wrapped = NULL;
        size_t al = build_aad(aad, sizeof aad, "vault_keys", "wrapped", r->keys[i].kid, MASTER_KID);
        rc = gcm_seal(new_master, MASTER_KID, aad, al, r->keys[i].key, VAULT_KEYBYTES, &wrapped);
        if (rc == GH_OK) rc = ops->vault_keys.rewrap(c, r->keys[i].kid, wrapped);
        /* a key deleted meanwhile by a rotation is simply gone */
        if (rc == GH_ERR_NOT_FOUND)
            rc = GH_OK;
        else if (rc == GH_OK)
            (*n)++;
        free(wrapped);
    }
    if (rc == GH_OK)
        rc = ops->tx.commit(c);
    else
        ops->tx.rollback(c);
    if (rc == GH_OK) memcpy(r->master, new_master, VAULT_KEYBYTES);
    ring_release(true);
    return rc;
}
