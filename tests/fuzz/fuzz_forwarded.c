/* Fuzzes the original-request reader of the gate (gate/forwarded.c). The
 * input is up to six header values separated by '\n', in the order
 * X-Forwarded-Method, -Proto, -Host, -Uri, X-Original-Method, -URL; an
 * empty field is an absent header. Oracle, written apart from the parser:
 * anything accepted has an upper-case method, a lower-case host without
 * port or userinfo, a path that starts with one '/' and holds no "//", no
 * "." or ".." segment, no '\', ';', '?', '#', and no escape of '/', '\',
 * '%' or a control byte, printable ASCII throughout; the URL starts with
 * the scheme and authority; and normalising the path again gives it back. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "gate/forwarded.h"

static void check_path(const char *p, size_t n)
{
    FUZZ_CHECK(n > 0 && p[0] == '/' && strlen(p) == n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '\\' && c != ';' && c != '?' && c != '#');
        if (c == '/') FUZZ_CHECK(i + 1 >= n || p[i + 1] != '/');
        if (c == '%') {
            FUZZ_CHECK(i + 2 < n);
            FUZZ_CHECK(strncmp(p + i, "%2F", 3) != 0 && strncmp(p + i, "%5C", 3) != 0 &&
                       strncmp(p + i, "%25", 3) != 0 && strncmp(p + i, "%2E", 3) != 0 &&
                       p[i + 1] != '0' && p[i + 1] != '1' && strncmp(p + i, "%7F", 3) != 0);
        }
    }
    FUZZ_CHECK(strstr(p, "/./") == NULL && strstr(p, "/../") == NULL);
    FUZZ_CHECK(!(n >= 2 && strcmp(p + n - 2, "/.") == 0));
    FUZZ_CHECK(!(n >= 3 && strcmp(p + n - 3, "/..") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[6 * 4200];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *f[6] = {0};
    char *s = buf;
    for (int i = 0; i < 6 && s; i++) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        f[i] = *s ? s : NULL;
        s = nl ? nl + 1 : NULL;
    }
    for (size_t i = 0; i < size; i++) /* a NUL ends the value, as in a header */
        if (data[i] == 0) return 0;
    struct fwd_input in = {f[0], f[1], f[2], f[3], f[4], f[5]};
    static struct fwd_request out;
    if (forwarded_parse(&in, &out) != FWD_OK) return 0;
    FUZZ_CHECK(!(in.orig_url || in.orig_method) || !(in.fwd_uri || in.fwd_method));
    FUZZ_CHECK(out.method[0] != '\0');
    for (const char *m = out.method; *m; m++)
        FUZZ_CHECK(*m >= 'A' && *m <= 'Z');
    FUZZ_CHECK(out.host[0] != '\0' && strchr(out.host, '@') == NULL);
    for (const char *h = out.host; *h; h++)
        FUZZ_CHECK(!(*h >= 'A' && *h <= 'Z') && *h != '/' && *h != '\\');
    if (out.host[0] != '[') FUZZ_CHECK(strchr(out.host, ':') == NULL);
    FUZZ_CHECK(strncmp(out.authority, out.host, strlen(out.host)) == 0);
    check_path(out.path, out.path_len);
    const char *scheme = out.https ? "https://" : "http://";
    FUZZ_CHECK(strncmp(out.url, scheme, strlen(scheme)) == 0);
    FUZZ_CHECK(strncmp(out.url + strlen(scheme), out.authority, strlen(out.authority)) == 0);
    FUZZ_CHECK(out.url[strlen(scheme) + strlen(out.authority)] == '/');
    static char again[FWD_URI_MAX + 1];
    size_t alen = 0;
    FUZZ_CHECK(forwarded_path(out.path, out.path_len, again, sizeof again, &alen));
    FUZZ_CHECK(alen == out.path_len && memcmp(again, out.path, alen) == 0);
    return 0;
}
