/* Fuzzes the session cookie as the server reads it from every Cookie
 * header (reqparse_cookies_*, http/reqparse.c). The input is split at NUL
 * bytes into up to 8 Cookie header values. Properties: the result is -1, 0,
 * 1 or 2; 0 exactly when no header names the cookie, 2 when the headers
 * name it more than once in all; 1 gives a token of exactly the wanted
 * length of [A-Za-z0-9_-] inside one of the headers (the first one found). */
#include <string.h>

#include "fuzz.h"
#include "http/reqparse.h"
#include "sessions/cookie.h"

#define NAME "__Host-gh_session"
#define WANT 43

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4096];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *hdr[8];
    int nh = 0;
    for (size_t off = 0; off <= size && nh < 8;) {
        hdr[nh++] = buf + off;
        off += strlen(buf + off) + 1;
    }
    struct reqparse_cookies s = {0};
    int total = 0;
    for (int i = 0; i < nh; i++) {
        const char *v;
        size_t l;
        total += cookie_find(hdr[i], NAME, &v, &l);
        reqparse_cookies_add(&s, hdr[i], NAME);
    }
    const char *tok = NULL;
    size_t n = 0;
    int got = reqparse_cookies_result(&s, WANT, &tok, &n);
    FUZZ_CHECK(got >= -1 && got <= 2);
    FUZZ_CHECK((got == 0) == (total == 0));
    if (total > 1) FUZZ_CHECK(got == 2);
    if (got != 1) {
        FUZZ_CHECK(tok == NULL && n == 0);
        return 0;
    }
    FUZZ_CHECK(total == 1 && n == WANT);
    bool inside = false;
    for (int i = 0; i < nh; i++)
        inside |= tok >= hdr[i] && tok + n <= hdr[i] + strlen(hdr[i]);
    FUZZ_CHECK(inside);
    for (size_t i = 0; i < n; i++) {
        char c = tok[i];
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_');
    }
    return 0;
}
