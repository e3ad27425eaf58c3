/* Fuzzes the client-address parser (X-Forwarded-For / Forwarded from a
 * trusted proxy, and GATEHOUSE_TRUSTED_PROXIES). The input is split at the
 * first NUL into a header value and a CIDR list. Properties: the result is
 * always NUL-terminated inside its buffer and is either the peer or an
 * address that parses; an untrusted peer's headers are never used. */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz.h"
#include "guard/proxy.h"

static bool is_ip(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[2048], err[256], out[64];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *hdr = buf, *spec = memchr(data, 0, size) ? buf + strlen(buf) + 1 : "10.0.0.0/8,::1";
    if (spec > buf + size) spec = "";
    struct proxy_cidr cidrs[PROXY_MAX_CIDRS];
    int n = 0;
    if (proxy_parse_cidrs(spec, cidrs, PROXY_MAX_CIDRS, &n, err, sizeof err) != GH_OK) {
        FUZZ_CHECK(strlen(err) < sizeof err);
        n = 0;
    }
    FUZZ_CHECK(n >= 0 && n <= PROXY_MAX_CIDRS);
    proxy_client_ip("10.1.2.3", hdr, NULL, cidrs, n, out, sizeof out);
    FUZZ_CHECK(memchr(out, 0, sizeof out) && is_ip(out));
    proxy_client_ip("10.1.2.3", NULL, hdr, cidrs, n, out, sizeof out);
    FUZZ_CHECK(memchr(out, 0, sizeof out) && is_ip(out));
    /* an untrusted peer is the client, whatever it sends */
    proxy_client_ip("203.0.113.9", hdr, hdr, cidrs, n, out, sizeof out);
    if (!proxy_trusted("203.0.113.9", cidrs, n)) FUZZ_CHECK(strcmp(out, "203.0.113.9") == 0);
    return 0;
}
