/* Apple's ES256 client-secret JWT (client_secret.h). */
#include "federation/client_secret.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

/* The key as an EVP_PKEY, or NULL unless it is an EC P-256 private key. */
static EVP_PKEY *load_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, (int)strlen(pem));
    if (!b) return NULL;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    char group[32] = "";
    size_t glen = 0;
    if (k && (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
              !EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &glen) ||
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
