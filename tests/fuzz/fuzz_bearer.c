/* Fuzzes the Authorization header parser (reqparse_bearer, http/reqparse.c)
 * and the Content-Type check. The input is the header value. Properties: an
 * accepted token lies inside the value, is 1 to max characters of
 * [A-Za-z0-9._-], follows "Bearer " (any case) and spaces, and is followed
 * only by spaces; "Bearer " + the token parses to the same token; a smaller
 * max never accepts a longer token. */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "http/reqparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4200], again[4300];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *tok = NULL;
    size_t n = 0;
    if (reqparse_bearer(buf, 2048, &tok, &n)) {
        size_t len = strlen(buf);
        FUZZ_CHECK(tok >= buf + 7 && tok + n <= buf + len);
        FUZZ_CHECK(n >= 1 && n <= 2048);
        FUZZ_CHECK(strncasecmp(buf, "Bearer ", 7) == 0);
        for (const char *p = buf + 7; p < tok; p++)
            FUZZ_CHECK(*p == ' ');
        for (const char *p = tok + n; *p; p++)
            FUZZ_CHECK(*p == ' ');
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                              tok[i]) &&
                       tok[i] != '\0');
        snprintf(again, sizeof again, "Bearer %.*s", (int)n, tok);
        const char *t2;
        size_t n2;
        FUZZ_CHECK(reqparse_bearer(again, 2048, &t2, &n2) && n2 == n && memcmp(t2, tok, n) == 0);
        if (n > 1) FUZZ_CHECK(!reqparse_bearer(buf, n - 1, &t2, &n2));
    } else {
        FUZZ_CHECK(tok == NULL && n == 0);
    }

    /* The Content-Type check on the same bytes. */
    static const char *const types[] = {"application/json", "application/x-www-form-urlencoded"};
    for (int i = 0; i < 2; i++) {
        if (!reqparse_content_type_is(buf, types[i])) continue;
        const char *p = buf;
        while (*p == ' ')
            p++;
        size_t tl = strlen(types[i]);
        FUZZ_CHECK(strncasecmp(p, types[i], tl) == 0);
        p += tl;
        while (*p == ' ')
            p++;
        FUZZ_CHECK(*p == '\0' || *p == ';');
    }
    FUZZ_CHECK(!reqparse_content_type_is(NULL, types[0]));
    return 0;
}
