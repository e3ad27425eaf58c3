/* Fuzzes the return-URL validator (gate/redirect.c). The first input byte
 * picks the policy (development or production), the rest is the URL.
 * Oracle, written apart from the validator: anything accepted is
 * NUL-terminated printable ASCII without '\' or whitespace, starts with
 * https:// (or http:// to a loopback host in development), has a host of
 * lower-case LDH labels or a bracketed literal, no '@' in the authority,
 * a port only where an entry names it, a path starting with one '/', and a
 * host the fixed policy allows; checking the output again gives it back. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "gate/redirect.h"

static const char *const hosts[] = {"app.example.com",    "admin.example.com:8443",
                                    "*.apps.example.org", "localhost",
                                    "[::1]:8080",         "10.0.0.5"};

static bool ends_with_label(const char *host, size_t n, const char *base)
{
    size_t bl = strlen(base);
    return n > bl + 1 && host[n - bl - 1] == '.' && memcmp(host + n - bl, base, bl) == 0;
}

/* Is host[0..n) with port (0: none written) allowed by the fixed policy? */
static bool oracle_allowed(const char *host, size_t n, const char *port)
{
#define IS(s) (n == strlen(s) && memcmp(host, s, n) == 0)
    if (!*port)
        return IS("app.example.com") || IS("localhost") || IS("10.0.0.5") ||
               IS("auth.example.com") || IS("example.net") ||
               ends_with_label(host, n, "apps.example.org") ||
               ends_with_label(host, n, "example.net");
    if (strcmp(port, "8443") == 0) return IS("admin.example.com");
    if (strcmp(port, "8080") == 0) return IS("[::1]");
    return false;
#undef IS
}

static void oracle(const char *out, bool dev)
{
    size_t len = strlen(out);
    FUZZ_CHECK(len > 0 && len < REDIRECT_OUT_MAX);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(out[i] > ' ' && out[i] < 0x7f && out[i] != '\\');
    bool https = strncmp(out, "https://", 8) == 0;
    FUZZ_CHECK(https || strncmp(out, "http://", 7) == 0);
    const char *host = out + (https ? 8 : 7);
    size_t alen = strcspn(host, "/?#");
    FUZZ_CHECK(host[alen] == '/'); /* the output always has a path */
    FUZZ_CHECK(host[alen + 1] != '/');
    FUZZ_CHECK(memchr(host, '@', alen) == NULL && memchr(host, '%', alen) == NULL);
    size_t hlen;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', alen);
        FUZZ_CHECK(close != NULL);
        hlen = (size_t)(close - host) + 1;
    } else {
        hlen = strcspn(host, ":/");
        FUZZ_CHECK(hlen > 0 && hlen <= alen && host[hlen - 1] != '.' && host[0] != '.');
        for (size_t i = 0; i < hlen; i++)
            FUZZ_CHECK((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= '0' && host[i] <= '9') ||
                       host[i] == '-' || host[i] == '.');
        FUZZ_CHECK(strstr(host, "..") == NULL || (size_t)(strstr(host, "..") - host) >= hlen);
    }
    char port[8] = "";
    if (hlen < alen) {
        FUZZ_CHECK(host[hlen] == ':' && alen - hlen - 1 < sizeof port && alen - hlen > 1);
        memcpy(port, host + hlen + 1, alen - hlen - 1);
        port[alen - hlen - 1] = '\0';
    }
    FUZZ_CHECK(oracle_allowed(host, hlen, port));
    if (!https) {
        FUZZ_CHECK(dev);
        FUZZ_CHECK((hlen == 9 && memcmp(host, "localhost", 9) == 0) ||
                   (hlen == 5 && memcmp(host, "[::1]", 5) == 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    struct redirect_policy p = {
        .hosts = hosts,
        .nhosts = sizeof hosts / sizeof hosts[0],
        .cookie_domain = "example.net",
        .dev_loopback_http = data[0] & 1,
        .public_base = "https://auth.example.com/base",
    };
    static char out[REDIRECT_OUT_MAX], again[REDIRECT_OUT_MAX];
    const char *url = (const char *)data + 1;
    if (redirect_check(&p, url, size - 1, out, sizeof out) != GH_OK) {
        FUZZ_CHECK(out[0] == '\0');
        return 0;
    }
    FUZZ_CHECK(size - 1 <= REDIRECT_MAX_LEN);
    oracle(out, p.dev_loopback_http);
    FUZZ_CHECK(redirect_check(&p, out, strlen(out), again, sizeof again) == GH_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    return 0;
}
