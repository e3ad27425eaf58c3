/* Fuzzes gh_utf8_valid (every string field of a request body). Besides
 * "no crash", it is checked against jansson's own UTF-8 validation (the
 * same rules: no overlong forms, no surrogates, nothing above U+10FFFF),
 * plus gh_utf8_valid's extra rule: no NUL. */
#include <string.h>

#include <jansson.h>

#include "core/util.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool ours = gh_utf8_valid(s, size);
    json_t *j = json_stringn(s, size); /* NULL if not valid UTF-8 */
    bool ref = j != NULL && memchr(s, '\0', size) == NULL;
    json_decref(j);
    FUZZ_CHECK(ours == ref);
    /* every prefix of a valid string that ends on a character boundary is valid */
    if (ours && size > 0) {
        size_t cut = size - 1;
        while (cut > 0 && (data[cut] & 0xC0) == 0x80)
            cut--;
        FUZZ_CHECK(gh_utf8_valid(s, cut));
    }
    return 0;
}
