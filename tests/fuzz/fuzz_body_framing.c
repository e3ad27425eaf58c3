/* Fuzzes the body framing verdict over parsed headers (framing_headers_*,
 * http/framing.c). The first byte says whether the method reads a body; the
 * rest is split at '\n' into header lines "name:value". Properties: a name
 * that is not a token, a Content-Length that is not plain digits, two
 * Content-Length or Transfer-Encoding headers, both, or a Transfer-Encoding
 * other than chunked is BAD; an OK verdict has no Transfer-Encoding and,
 * without a body, no Content-Length but "0"; the verdict does not depend on
 * the order of the headers. */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "http/framing.h"

#define MAXH 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[2048];
    if (size < 1 || size >= sizeof buf) return 0;
    bool reads_body = data[0] & 1;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *name[MAXH], *value[MAXH];
    int n = 0;
    for (char *p = buf; p && n < MAXH;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *colon = strchr(p, ':');
        if (colon) *colon = '\0';
        name[n] = p;
        value[n++] = colon ? colon + 1 : "";
        p = nl ? nl + 1 : NULL;
    }
    struct framing_headers fwd = {0}, back = {0};
    for (int i = 0; i < n; i++)
        framing_headers_add(&fwd, name[i], value[i]);
    for (int i = n - 1; i >= 0; i--)
        framing_headers_add(&back, name[i], value[i]);
    enum framing_body v = framing_headers_verdict(&fwd, reads_body);
    FUZZ_CHECK(v == framing_headers_verdict(&back, reads_body));
    FUZZ_CHECK(v == FRAMING_BODY_OK || v == FRAMING_BODY_CLOSE || v == FRAMING_BODY_BAD);

    int ncl = 0, nte = 0;
    bool bad = false;
    const char *cl = NULL, *te = NULL;
    for (int i = 0; i < n; i++) {
        if (!framing_name_ok(name[i])) bad = true;
        if (strcasecmp(name[i], "Content-Length") == 0) {
            ncl++;
            cl = value[i];
            if (!framing_length_ok(value[i])) bad = true;
        }
        if (strcasecmp(name[i], "Transfer-Encoding") == 0) nte++, te = value[i];
    }
    if (bad || ncl > 1 || nte > 1 || (ncl && nte) || (te && strcasecmp(te, "chunked") != 0))
        FUZZ_CHECK(v == FRAMING_BODY_BAD);
    if (v == FRAMING_BODY_OK) {
        FUZZ_CHECK(nte == 0 && ncl <= 1);
        if (!reads_body && cl) FUZZ_CHECK(strcmp(cl, "0") == 0);
    }
    return 0;
}
