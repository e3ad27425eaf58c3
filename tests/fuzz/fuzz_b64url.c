/* Fuzzes gh_b64url_decode (tokens, JWT signatures). Properties: a decode
 * that succeeds is canonical (re-encoding gives back the input exactly,
 * so every token has one spelling), the output fits, a buffer of exactly
 * the decoded size suffices and one byte less is refused; and encoding
 * any bytes decodes back to them. */
#include <string.h>

#include "core/util.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint8_t *out = malloc(size + 1);
    if (!out) return 0;
    size_t n = 0;
    if (gh_b64url_decode(out, size + 1, &n, in, size) == GH_OK) {
        FUZZ_CHECK(n <= size * 3 / 4);
        FUZZ_CHECK(GH_B64URL_LEN(n) == size);
        char *enc = malloc(GH_B64URL_LEN(n) + 1);
        if (enc) {
            FUZZ_CHECK(gh_b64url_encode(enc, GH_B64URL_LEN(n) + 1, out, n) == GH_OK);
            FUZZ_CHECK(memcmp(enc, in, size) == 0); /* canonical */
            free(enc);
        }
        /* exactly n bytes of room is enough; n - 1 is not */
        uint8_t *tight = malloc(n ? n : 1);
        if (tight) {
            size_t m = 0;
            FUZZ_CHECK(gh_b64url_decode(tight, n, &m, in, size) == GH_OK && m == n);
            FUZZ_CHECK(memcmp(tight, out, n) == 0);
            if (n > 0) FUZZ_CHECK(gh_b64url_decode(tight, n - 1, &m, in, size) == GH_ERR_INVALID);
            free(tight);
        }
    }
    free(out);

    /* encode -> decode round trip of the raw bytes */
    size_t elen = GH_B64URL_LEN(size);
    char *enc = malloc(elen + 1);
    uint8_t *back = malloc(size ? size : 1);
    if (enc && back) {
        FUZZ_CHECK(gh_b64url_encode(enc, elen, data, size) == GH_ERR_INVALID); /* no room for NUL */
        FUZZ_CHECK(gh_b64url_encode(enc, elen + 1, data, size) == GH_OK);
        FUZZ_CHECK(strlen(enc) == elen);
        size_t m = 0;
        FUZZ_CHECK(gh_b64url_decode(back, size, &m, enc, elen) == GH_OK);
        FUZZ_CHECK(m == size && memcmp(back, data, size) == 0);
    }
    free(enc);
    free(back);
    return 0;
}
