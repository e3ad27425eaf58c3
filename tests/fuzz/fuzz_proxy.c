/* Fuzzes the client-address parser (X-Forwarded-For, Forwarded and
 * X-Real-IP from a trusted proxy, GATEHOUSE_TRUSTED_PROXIES) and the
 * per-IP budget key. The input is split at the first NUL into header
 * lines and a CIDR list; each line is one header, its first byte choosing
 * the name (X-Forwarded-For, Forwarded, X-Real-IP, or another), the rest
 * its value. Properties, for every GATEHOUSE_CLIENT_IP_HEADER: the result
 * is NUL-terminated inside its buffer and is either the peer or an
 * address that parses; an untrusted peer's headers are never used; a
 * header other than the configured one changes nothing; the budget key of
 * the result fits and is stable. */
#include <arpa/inet.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/config.h"
#include "fuzz.h"
#include "guard/proxy.h"

static bool is_ip(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static const char *const names[] = {"X-Forwarded-For", "Forwarded", "X-Real-IP", "Via"};

/* The lines of hdr as headers; only those named `only` when only >= 0. */
static void headers(struct evkeyvalq *h, const char *hdr, int only)
{
    h->tqh_first = NULL;
    h->tqh_last = &h->tqh_first;
    char line[2048];
    while (*hdr) {
        size_t len = strcspn(hdr, "\n");
        if (len > 0 && len < sizeof line) {
            int which = (unsigned char)hdr[0] % 4;
            memcpy(line, hdr + 1, len - 1);
            line[len - 1] = '\0';
            if (only < 0 || only == which) evhttp_add_header(h, names[which], line);
        }
        hdr += len + (hdr[len] ? 1 : 0);
    }
}

static void run(const char *peer, const char *hdr, char *out, size_t outlen, int only)
{
    struct evkeyvalq h;
    headers(&h, hdr, only);
    proxy_request_ip(&h, peer, out, outlen);
    evhttp_clear_headers(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4096], err[256], out[64], alone[64];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *hdr = buf, *spec = memchr(data, 0, size) ? buf + strlen(buf) + 1 : "10.0.0.0/8,::1";
    if (spec > buf + size) spec = "";
    int n = 0;
    if (proxy_parse_cidrs(spec, proxy_cfg.trusted_proxies, PROXY_MAX_CIDRS, &n, err, sizeof err) !=
        GH_OK) {
        FUZZ_CHECK(strlen(err) < sizeof err);
        n = 0;
    }
    FUZZ_CHECK(n >= 0 && n <= PROXY_MAX_CIDRS);
    proxy_cfg.ntrusted_proxies = n;
    for (int kind = PROXY_XFF; kind <= PROXY_REAL_IP; kind++) {
        proxy_cfg.client_ip_header = (enum proxy_header)kind;
        run("10.1.2.3", hdr, out, sizeof out, -1);
        FUZZ_CHECK(memchr(out, 0, sizeof out) && is_ip(out));
        /* only the configured header counts */
        run("10.1.2.3", hdr, alone, sizeof alone, kind);
        FUZZ_CHECK(strcmp(out, alone) == 0);
        char k1[PROXY_KEY_MAX], k2[PROXY_KEY_MAX];
        proxy_budget_key(out, 64, k1);
        proxy_budget_key(out, 64, k2);
        FUZZ_CHECK(memchr(k1, 0, sizeof k1) && strcmp(k1, k2) == 0);
        /* an untrusted peer is the client, whatever it sends */
        run("203.0.113.9", hdr, out, sizeof out, -1);
        if (!proxy_trusted("203.0.113.9", proxy_cfg.trusted_proxies, n))
            FUZZ_CHECK(strcmp(out, "203.0.113.9") == 0);
    }
    /* the parser alone, on the raw text */
    struct proxy_input in = {.peer = "10.1.2.3", .value = hdr, .nvalues = 1};
    for (int kind = PROXY_XFF; kind <= PROXY_REAL_IP; kind++) {
        proxy_client_ip(&in, (enum proxy_header)kind, proxy_cfg.trusted_proxies, n, out,
                        sizeof out);
        FUZZ_CHECK(memchr(out, 0, sizeof out) && is_ip(out));
    }
    char k[PROXY_KEY_MAX];
    proxy_budget_key(hdr, (int)(size % 97) + 32, k);
    FUZZ_CHECK(memchr(k, 0, sizeof k));
    return 0;
}
