/* Fuzzes the cookie-mode parsers: the Cookie header (cookie_find), URL
 * origins (cookie_origin_of) and the Origin / Sec-Fetch-Site rule. The input
 * is split at the first NUL into a header value and a name / URL.
 * Properties: a found value lies inside the header and holds no ';'; the
 * count is 0, 1 or 2; an origin is NUL-terminated inside its buffer, has
 * no path, and is its own origin again (idempotent); no Origin and no
 * Sec-Fetch-Site, or an Origin neither ours nor allowlisted, is never
 * acceptable. */
#include <string.h>

#include "fuzz.h"
#include "sessions/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4096];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *hdr = buf;
    const char *name = memchr(data, 0, size) ? buf + strlen(buf) + 1 : "__Host-gh_session";
    if (name > buf + size) name = "";

    const char *v;
    size_t n;
    int k = cookie_find(hdr, name, &v, &n);
    FUZZ_CHECK(k >= 0 && k <= 2);
    if (k) {
        FUZZ_CHECK(v >= hdr && v + n <= hdr + strlen(hdr));
        FUZZ_CHECK(!memchr(v, ';', n));
    } else {
        FUZZ_CHECK(v == NULL && n == 0);
    }

    char o[COOKIE_ORIGIN_MAX + 1], o2[COOKIE_ORIGIN_MAX + 1];
    const char *urls[] = {hdr, name};
    for (int i = 0; i < 2; i++) {
        if (cookie_origin_of(urls[i], o, sizeof o)) {
            FUZZ_CHECK(memchr(o, 0, sizeof o));
            FUZZ_CHECK(strncmp(o, "http://", 7) == 0 || strncmp(o, "https://", 8) == 0);
            FUZZ_CHECK(!strchr(strstr(o, "://") + 3, '/'));
            FUZZ_CHECK(cookie_origin_of(o, o2, sizeof o2) && strcmp(o, o2) == 0);
        }
    }
    FUZZ_CHECK(!cookie_origin_acceptable("https://a.example", NULL, NULL, true));
    /* an Origin that is not ours and not allowlisted never passes */
    if (strcmp(hdr, "https://a.example") != 0)
        FUZZ_CHECK(!cookie_origin_acceptable("https://a.example", hdr, name, false));
    (void)cookie_origin_acceptable("https://a.example", hdr, name, true);
    return 0;
}
