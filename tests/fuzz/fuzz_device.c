/* Fuzzes the sessions page's device name (src/pages/sessions_pages.c
 * sessions_pages_device), read from a session's stored User-Agent.
 * Properties: the name is NUL-terminated within its buffer, never empty,
 * valid UTF-8 whenever the input is, and either one of our own names or a
 * prefix of the input (nothing else reaches the page). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fuzz.h"
#include "pages/sessions_pages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024) return 0;
    char *ua = malloc(size + 1);
    if (!ua) return 0;
    memcpy(ua, data, size);
    ua[size] = '\0';
    size_t len = strlen(ua);
    for (size_t cap = 16; cap <= SESSIONS_PAGES_DEVICE; cap += SESSIONS_PAGES_DEVICE - 16) {
        char out[SESSIONS_PAGES_DEVICE + 1];
        memset(out, 'x', sizeof out);
        sessions_pages_device(ua, out, cap);
        size_t n = strnlen(out, cap);
        FUZZ_CHECK(n < cap);
        FUZZ_CHECK(n > 0);
        bool prefix = n <= len && memcmp(out, ua, n) == 0;
        /* our own names are letters, dots and spaces ("Firefox on Linux") */
        bool ours = strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz. ") == n;
        FUZZ_CHECK(prefix || ours);
        if (gh_utf8_valid(ua, len)) FUZZ_CHECK(gh_utf8_valid(out, n));
    }
    free(ua);
    return 0;
}
