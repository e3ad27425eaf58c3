/* Fuzzes fed_discovery_parse (an OpenID provider's discovery document, as
 * fetched from the network). Properties: an accepted document names the
 * configured issuer, its three endpoints are allowed URLs (https, or http
 * to loopback only when allowed), and the algorithm set holds only
 * asymmetric algorithms and always RS256 and ES256. */
#include <string.h>

#include "core/log.h"
#include "federation/discovery.h"
#include "fuzz.h"

#define ISS "https://idp.example.com"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gh_log_set_level(GH_LOG_CRIT);
    for (int allow_http = 0; allow_http < 2; allow_http++) {
        struct fed_metadata m;
        char why[160];
        if (fed_discovery_parse((const char *)data, size, ISS, allow_http, &m, why, sizeof why) !=
            GH_OK)
            continue;
        FUZZ_CHECK(size <= FED_DOC_MAX);
        FUZZ_CHECK(fed_url_allowed(m.authorization_endpoint, allow_http));
        FUZZ_CHECK(fed_url_allowed(m.token_endpoint, allow_http));
        FUZZ_CHECK(fed_url_allowed(m.jwks_uri, allow_http));
        FUZZ_CHECK(strnlen(m.jwks_uri, sizeof m.jwks_uri) < sizeof m.jwks_uri);
        FUZZ_CHECK((m.algs & FED_ALG_DEFAULT) == FED_ALG_DEFAULT);
        FUZZ_CHECK((m.algs & ~0x1FFu) == 0);
    }
    return 0;
}
