/* Fuzzes fed_jwks_parse (a provider's JWKS, as fetched from the network).
 * Properties: at most FED_JWKS_MAX_KEYS keys, each RSA or EC with a
 * signature algorithm (or none named), no private part, and its JSON
 * imports into cjose. */
#include <string.h>

#include <cjose/cjose.h>

#include "core/log.h"
#include "federation/discovery.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gh_log_set_level(GH_LOG_CRIT);
    struct fed_jwks *s = NULL;
    char why[160];
    if (fed_jwks_parse((const char *)data, size, &s, why, sizeof why) != GH_OK) {
        FUZZ_CHECK(s == NULL);
        return 0;
    }
    FUZZ_CHECK(s && s->n <= FED_JWKS_MAX_KEYS);
    for (size_t i = 0; i < s->n; i++) {
        const struct fed_jwk *k = &s->k[i];
        FUZZ_CHECK(strcmp(k->kty, "RSA") == 0 || strcmp(k->kty, "EC") == 0);
        FUZZ_CHECK(k->alg[0] == '\0' || fed_alg_bit(k->alg) != 0);
        FUZZ_CHECK(k->json && !strstr(k->json, "\"d\":"));
        cjose_err cerr;
        cjose_jwk_t *j = cjose_jwk_import(k->json, strlen(k->json), &cerr);
        FUZZ_CHECK(j != NULL);
        cjose_jwk_release(j);
    }
    fed_jwks_free(s);
    return 0;
}
