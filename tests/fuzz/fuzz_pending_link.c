/* Fuzzes the pending link's value (src/federation/pending_link.c): the
 * opened plaintext (fed_pending_parse: JSON from our own sealing, parsed
 * strictly anyway) and a cookie value as a browser may send it
 * (fed_pending_decode; with no vault loaded nothing opens). Properties: a
 * parse either fails with the claims wiped and no provider, or gives a
 * well-formed provider name, a non-empty sub, and every string
 * NUL-terminated within its field. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "federation/federated.h"
#include "federation/pending_link.h"
#include "fuzz.h"

static bool zeroed(const struct fed_claims *c)
{
    static const struct fed_claims z;
    return memcmp(c, &z, sizeof z) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char provider[FED_NAME_MAX + 1];
    struct fed_claims cl;
    bool ok = fed_pending_parse(data, size, 1000, provider, &cl);
    if (ok) {
        FUZZ_CHECK(federated_provider_name_ok(provider));
        FUZZ_CHECK(cl.sub[0] != '\0');
        FUZZ_CHECK(strnlen(cl.sub, sizeof cl.sub) < sizeof cl.sub);
        FUZZ_CHECK(strnlen(cl.email, sizeof cl.email) < sizeof cl.email);
        FUZZ_CHECK(strnlen(cl.name, sizeof cl.name) < sizeof cl.name);
    } else {
        FUZZ_CHECK(provider[0] == '\0');
        FUZZ_CHECK(zeroed(&cl));
    }
    char *v = malloc(size + 1);
    if (!v) return 0;
    memcpy(v, data, size);
    v[size] = '\0';
    FUZZ_CHECK(!fed_pending_decode(v, 1000, provider, &cl));
    FUZZ_CHECK(provider[0] == '\0' && zeroed(&cl));
    free(v);
    return 0;
}
