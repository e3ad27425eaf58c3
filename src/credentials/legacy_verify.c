/* Verification of imported hashes (legacy_hash.h). Every derived byte
 * string is compared in constant time and wiped; the password is copied
 * only where libcrypt needs a C string, and that copy is wiped too. */
#include "credentials/legacy_hash.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

/* bcrypt through libcrypt (crypt_rn: no static buffer, thread-safe). The
 * output is the whole "$2b$..." string, compared in constant time. A
 * password holding a NUL cannot have been set through a C-string API: it
 * is refused after the same work on what precedes the NUL. */
static enum gh_err bcrypt_check(const char *setting, const char *pw, size_t len)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    char *phrase = malloc(len + 1);
    enum gh_err rc = GH_ERR_INTERNAL;
    if (!cd || !phrase) goto out;
    memcpy(phrase, pw, len);
    phrase[len] = '\0';
    const char *h = crypt_rn(phrase, setting, cd, (int)sizeof *cd);
    size_t sl = strlen(setting);
    if (!h) {
        rc = GH_ERR_DENIED; /* libcrypt refused the setting */
        goto out;
    }
    rc = gh_ct_equal(h, strlen(h), setting, sl) && strlen(phrase) == len ? GH_OK : GH_ERR_DENIED;
out:
    if (cd) gh_wipe(cd, sizeof *cd);
    if (phrase) gh_wipe(phrase, len + 1);
    free(cd);
    free(phrase);
    return rc;
}

/* bcrypt over SHA-256(password), as hex or as padded base64. */
static enum gh_err bcrypt_sha256_check(const struct legacy_parsed *p, const char *pw, size_t len)
{
    uint8_t d[GH_SHA256_BYTES];
    char pre[2 * GH_SHA256_BYTES + 1];
    if (gh_sha256(d, pw, len)) return GH_ERR_INTERNAL;
    if (p->kind == LEGACY_BCRYPT_SHA256_HEX)
        gh_hex(pre, d, sizeof d);
    else
        sodium_bin2base64(pre, sizeof pre, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
    enum gh_err rc = bcrypt_check(p->inner, pre, strlen(pre));
    gh_wipe(d, sizeof d);
    gh_wipe(pre, sizeof pre);
    return rc;
}

static enum gh_err argon2_check(const char *stored, const char *pw, size_t len)
{
    errno = 0;
    int r = crypto_pwhash_str_verify(stored, pw, len);
    return r == 0 ? GH_OK : errno == ENOMEM ? GH_ERR_INTERNAL : GH_ERR_DENIED;
}

static enum gh_err scrypt_raw(const char *pw, size_t len, const uint8_t *salt, size_t salt_len,
                              const struct legacy_parsed *p, uint8_t *dk, size_t dk_len)
{
    uint64_t n = 1ULL << p->cost;
    uint64_t maxmem = 128ULL * p->r * (n + p->p + 2) + (1u << 20);
    return EVP_PBE_scrypt(pw, len, salt, salt_len, n, p->r, p->p, maxmem, dk, dk_len) == 1
               ? GH_OK
               : GH_ERR_INTERNAL;
}

static enum gh_err scrypt_check(const struct legacy_parsed *p, const char *pw, size_t len)
{
    uint8_t dk[LEGACY_DK_MAX];
    enum gh_err rc = scrypt_raw(pw, len, p->salt, p->salt_len, p, dk, p->dk_len);
    if (rc == GH_OK) rc = gh_ct_equal(dk, p->dk_len, p->dk, p->dk_len) ? GH_OK : GH_ERR_DENIED;
    gh_wipe(dk, sizeof dk);
    return rc;
}

/* Firebase: dk = scrypt(password, salt || separator, 2^mem_cost, rounds, 1,
 * 64); the hash is AES-256-CTR(key = dk[0..32], iv = 0) of the signer key. */
static enum gh_err firebase_check(const struct legacy_parsed *p, const char *user_id,
                                  const char *pw, size_t len)
{
    uint8_t salt[2 * LEGACY_SALT_MAX], dk[64], ct[LEGACY_DK_MAX + 16], iv[16] = {0};
    uint8_t *key = NULL;
    size_t key_len = 0;
    int outl = 0, finl = 0;
    memcpy(salt, p->salt, p->salt_len);
    memcpy(salt + p->salt_len, p->sep, p->sep_len);
    enum gh_err rc = scrypt_raw(pw, len, salt, p->salt_len + p->sep_len, p, dk, sizeof dk);
    if (rc) goto out;
    /* The key is opened after the work, so a key that does not open costs
     * the same time as a wrong password. */
    char *sealed = strndup(p->sealed, p->sealed_len);
    rc = !sealed   ? GH_ERR_NOMEM
         : user_id ? vault_open("users", "password_hash", user_id, sealed, &key, &key_len)
                   : GH_ERR_DENIED;
    free(sealed);
    if (rc) {
        gh_log(GH_LOG_WARN, "a firebase_scrypt signer key does not open for this row (%s)",
               gh_err_name(rc));
        rc = rc == GH_ERR_INTERNAL || rc == GH_ERR_NOMEM ? GH_ERR_INTERNAL : GH_ERR_DENIED;
        goto out;
    }
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    rc = GH_ERR_INTERNAL;
    if (x && key_len <= LEGACY_DK_MAX &&
        EVP_EncryptInit_ex(x, EVP_aes_256_ctr(), NULL, dk, iv) == 1 &&
        EVP_EncryptUpdate(x, ct, &outl, key, (int)key_len) == 1 &&
        EVP_EncryptFinal_ex(x, ct + outl, &finl) == 1)
        rc = gh_ct_equal(ct, (size_t)(outl + finl), p->dk, p->dk_len) ? GH_OK : GH_ERR_DENIED;
    EVP_CIPHER_CTX_free(x);
out:
    if (key) vault_free(key, key_len);
    gh_wipe(dk, sizeof dk);
    gh_wipe(ct, sizeof ct);
    return rc;
}

static enum gh_err pbkdf2_check(const struct legacy_parsed *p, const char *pw, size_t len)
{
    uint8_t dk[LEGACY_DK_MAX];
    enum gh_err rc = GH_ERR_INTERNAL;
    if (PKCS5_PBKDF2_HMAC(pw, (int)len, p->salt, (int)p->salt_len, (int)p->cost, EVP_sha256(),
                          (int)p->dk_len, dk) == 1)
        rc = gh_ct_equal(dk, p->dk_len, p->dk, p->dk_len) ? GH_OK : GH_ERR_DENIED;
    gh_wipe(dk, sizeof dk);
    return rc;
}

enum gh_err legacy_verify(const char *stored, const char *user_id, const char *pw, size_t len)
{
    struct legacy_parsed p;
    if (!pw || !stored) return GH_ERR_DENIED;
    /* Argon2 goes straight to libsodium, which reads its own parameters:
     * the import caps (legacy_parse) are lower than what
     * GATEHOUSE_ARGON2_* may configure for Gatehouse's own hashes. */
    if (strncmp(stored, "$argon2id$", 10) == 0 || strncmp(stored, "$argon2i$", 9) == 0)
        return argon2_check(stored, pw, len);
    if (legacy_parse(stored, &p, NULL, 0)) return GH_ERR_DENIED;
    switch (p.kind) {
    case LEGACY_BCRYPT:
        return bcrypt_check(p.inner, pw, len);
    case LEGACY_BCRYPT_SHA256_HEX:
    case LEGACY_BCRYPT_SHA256_BASE64:
        return bcrypt_sha256_check(&p, pw, len);
    case LEGACY_ARGON2ID:
    case LEGACY_ARGON2I:
        return argon2_check(stored, pw, len);
    case LEGACY_SCRYPT:
        return scrypt_check(&p, pw, len);
    case LEGACY_FIREBASE_SCRYPT:
        return firebase_check(&p, user_id, pw, len);
    case LEGACY_PBKDF2_SHA256:
        return pbkdf2_check(&p, pw, len);
    default:
        return GH_ERR_DENIED;
    }
}
