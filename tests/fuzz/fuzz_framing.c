/* Fuzzes the raw header-block scanner (http/framing.c) and the parsed-header
 * checks. Properties: the verdict does not depend on how the bytes are split
 * into feeds; a block accepted as complete ends with CRLF CRLF, has no bare
 * LF, CR or NUL, and every header line is "name:value" with a token name and
 * no whitespace before the colon. */
#include <string.h>

#include "fuzz.h"
#include "http/framing.h"

static void check_done_block(const char *p, size_t n)
{
    FUZZ_CHECK(n >= 4 && memcmp(p + n - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(p[i] != '\0');
        if (p[i] == '\n') FUZZ_CHECK(i > 0 && p[i - 1] == '\r');
        if (p[i] == '\r') FUZZ_CHECK(i + 1 < n && p[i + 1] == '\n');
    }
    size_t i = 0;
    while (i + 1 < n && p[i] == '\r') /* empty lines before the request line */
        i += 2;
    const char *eol = memchr(p + i, '\r', n - i);
    FUZZ_CHECK(eol);
    i = (size_t)(eol - p) + 2;
    while (i < n && p[i] != '\r') { /* header lines */
        char name[256];
        const char *colon = memchr(p + i, ':', n - i);
        FUZZ_CHECK(colon);
        size_t nl = (size_t)(colon - (p + i));
        if (nl < sizeof name) {
            memcpy(name, p + i, nl);
            name[nl] = '\0';
            FUZZ_CHECK(framing_name_ok(name));
        }
        eol = memchr(colon, '\r', n - (size_t)(colon - p));
        FUZZ_CHECK(eol);
        i = (size_t)(eol - p) + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t used = 0;
    enum framing_verdict whole = framing_check(p, size, &used);
    FUZZ_CHECK(used <= size);
    FUZZ_CHECK(whole == FRAMING_MORE ? used == size : used > 0);
    if (whole == FRAMING_DONE) check_done_block(p, used);

    /* The same bytes fed in pieces (sizes taken from the data itself). */
    struct framing_scan s;
    framing_scan_init(&s);
    size_t off = 0, total = 0, k = 0;
    enum framing_verdict v = FRAMING_MORE;
    while (off < size) {
        size_t piece = 1 + (size_t)(data[k++ % size] % 7);
        if (piece > size - off) piece = size - off;
        size_t u = 0;
        v = framing_scan_feed(&s, p + off, piece, &u);
        FUZZ_CHECK(u <= piece);
        total += u;
        off += piece;
    }
    FUZZ_CHECK(v == whole && total == used);
    if (whole != FRAMING_MORE) /* a verdict is sticky */
        FUZZ_CHECK(framing_scan_feed(&s, p, size, &used) == whole && used == 0);

    /* The parsed-header checks on the input as one string. */
    char buf[512];
    size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;
    memcpy(buf, data, n);
    buf[n] = '\0';
    if (framing_length_ok(buf))
        for (const char *q = buf; *q; q++)
            FUZZ_CHECK(*q >= '0' && *q <= '9');
    if (framing_name_ok(buf)) FUZZ_CHECK(!strpbrk(buf, " \t:\r\n"));
    return 0;
}
