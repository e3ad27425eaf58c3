/* Fuzzes the brand colour parser (pages_color_parse) against an independent
 * statement of the rule, and the stylesheet it feeds: a value is accepted
 * only as "#" and six hex digits, and whatever is accepted reaches the
 * generated CSS only as "#rrggbb" in lower case, so no value can close a
 * declaration or a block ("; } </style>" and the like). The input is cut
 * at its first NUL, as an environment variable would be. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "pages/pages_style.h"

static bool oracle(const char *s)
{
    return strlen(s) == 7 && s[0] == '#' && strspn(s + 1, "0123456789abcdefABCDEF") == 6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[64];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    uint8_t rgb[3] = {1, 2, 3};
    bool ok = pages_color_parse(buf, rgb);
    FUZZ_CHECK(ok == oracle(buf));
    if (!ok) {
        FUZZ_CHECK(rgb[0] == 1 && rgb[1] == 2 && rgb[2] == 3);
        return 0;
    }
    char *css = NULL;
    size_t len = 0;
    FUZZ_CHECK(pages_style_build(buf, &css, &len) == 0);
    char want[32];
    snprintf(want, sizeof want, "--accent:#%02x%02x%02x;", rgb[0], rgb[1], rgb[2]);
    FUZZ_CHECK(strstr(css, want) != NULL);
    FUZZ_CHECK(strlen(css) == len);
    free(css);
    return 0;
}
