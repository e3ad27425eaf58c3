/* Fuzzes the OAuth state cookie's readers (src/federation/state_cookie.c):
 * the plain form a sealed cookie opens to (state_cookie_parse) and the
 * cookie value's conversion to the vault's sealed form
 * (state_cookie_unwrap). The input is tried as both.
 * Properties: never a crash; a parsed form writes back to exactly the
 * input (state_cookie_encode), so no two inputs read the same and nothing
 * is ignored; what it holds is in shape (a 43-character state, nonce and
 * verifier, a provider name, a user id exactly when the link flag is set,
 * an rd of visible ASCII); an unwrapped value is "v1." and three parts. */
#include <string.h>

#include "federation/state_cookie.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state_cookie sc;
    if (state_cookie_parse(data, size, &sc) == GH_OK) {
        uint8_t back[STATE_COOKIE_PLAIN_MAX];
        size_t len = 0;
        FUZZ_CHECK(state_cookie_encode(&sc, back, sizeof back, &len) == GH_OK);
        FUZZ_CHECK(len == size && memcmp(back, data, size) == 0);
        FUZZ_CHECK(strlen(sc.state) == STATE_COOKIE_RANDOM_LEN);
        FUZZ_CHECK(strlen(sc.nonce) == STATE_COOKIE_RANDOM_LEN);
        FUZZ_CHECK(strlen(sc.verifier) == STATE_COOKIE_RANDOM_LEN);
        FUZZ_CHECK(sc.provider[0] != '\0');
        FUZZ_CHECK(sc.link == (strlen(sc.user_id) == STORE_ID_LEN));
        for (const char *p = sc.rd; *p; p++)
            FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
        FUZZ_CHECK(state_cookie_state_ok(&sc, sc.state, STATE_COOKIE_RANDOM_LEN));
        FUZZ_CHECK(!state_cookie_state_ok(&sc, sc.nonce, 42));
    } else {
        /* a refused form leaves nothing behind */
        static const struct state_cookie zero;
        FUZZ_CHECK(memcmp(&sc, &zero, sizeof sc) == 0);
        FUZZ_CHECK(!state_cookie_state_ok(&sc, "", 0));
    }
    char out[STATE_COOKIE_VALUE_MAX + 8];
    if (state_cookie_unwrap((const char *)data, size, out, sizeof out)) {
        FUZZ_CHECK(strlen(out) == size + 5 && memcmp(out, "v1.", 3) == 0);
        int dots = 0;
        for (const char *p = out; *p; p++)
            dots += *p == '.';
        FUZZ_CHECK(dots == 3);
    }
    state_cookie_wipe(&sc);
    return 0;
}
