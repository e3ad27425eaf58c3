#include "guard/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/keyvalq_struct.h>

#include "core/config.h"
#include "core/util.h"

struct proxy_config proxy_cfg;

/* Parses an address; IPv4-mapped IPv6 becomes IPv4 so both spellings of
 * one client share a budget. */
static bool parse_ip(const char *s, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) != 1) return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
        return true;
    }
    *family = AF_INET6;
    return true;
}

enum gh_err proxy_parse_cidrs(const char *spec, struct proxy_cidr *out, int max, int *n, char *err,
                              size_t errlen)
{
    *n = 0;
    const char *p = spec ? spec : "";
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p) break;
        size_t len = strcspn(p, ", \t\r\n");
        char item[64];
        if (len >= sizeof item) goto bad_len;
        memcpy(item, p, len);
        item[len] = '\0';
        p += len;
        if (*n >= max) {
            snprintf(err, errlen, "GATEHOUSE_TRUSTED_PROXIES: more than %d entries", max);
            return GH_ERR_CONFIG;
        }
        struct proxy_cidr *c = &out[*n];
        char *slash = strchr(item, '/');
        int64_t bits = -1;
        if (slash) {
            *slash = '\0';
            if (gh_parse_i64(slash + 1, 0, 128, &bits) != GH_OK) goto bad;
        }
        if (!parse_ip(item, &c->family, c->addr)) goto bad;
        int maxbits = c->family == AF_INET ? 32 : 128;
        if (bits > maxbits) goto bad;
        c->bits = bits < 0 ? maxbits : (int)bits;
        (*n)++;
        continue;
    bad:
        if (slash) *slash = '/';
        snprintf(err, errlen, "GATEHOUSE_TRUSTED_PROXIES: '%s' is not an IP address or CIDR block",
                 item);
        return GH_ERR_CONFIG;
    }
    return GH_OK;
bad_len:
    snprintf(err, errlen, "GATEHOUSE_TRUSTED_PROXIES: an entry is too long");
    return GH_ERR_CONFIG;
}

static bool in_cidr(int family, const uint8_t addr[16], const struct proxy_cidr *c)
{
    if (family != c->family) return false;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(addr, c->addr, (size_t)full) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr[full] & mask) == (c->addr[full] & mask);
}

bool proxy_trusted(const char *ip, const struct proxy_cidr *cidrs, int n)
{
    int family;
    uint8_t addr[16];
    if (!ip || !parse_ip(ip, &family, addr)) return false;
    for (int i = 0; i < n; i++)
        if (in_cidr(family, addr, &cidrs[i])) return true;
    return false;
}

enum gh_err proxy_parse_header(const char *name, enum proxy_header *out)
{
    static const char *const names[] = {"x-forwarded-for", "forwarded", "x-real-ip"};
    *out = PROXY_XFF;
    if (!name) return GH_OK;
    for (int i = 0; i < 3; i++)
        if (strcasecmp(name, names[i]) == 0) {
            *out = (enum proxy_header)i;
            return GH_OK;
        }
    return GH_ERR_CONFIG;
}

const char *proxy_header_name(enum proxy_header h)
{
    return h == PROXY_FORWARDED ? "Forwarded"
           : h == PROXY_REAL_IP ? "X-Real-IP"
                                : "X-Forwarded-For";
}

static void canonical(const char *ip, char *out, size_t outlen)
{
    int family;
    uint8_t addr[16];
    char buf[INET6_ADDRSTRLEN];
    if (parse_ip(ip, &family, addr) && inet_ntop(family, addr, buf, sizeof buf))
        snprintf(out, outlen, "%s", buf);
    else
        snprintf(out, outlen, "%s", ip);
}

static void trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s))
        (*s)++, (*len)--;
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

/* An address as a hop writes it: "192.0.2.1", "192.0.2.1:80", "[v6]",
 * "[v6]:80" or a bare v6. false: not an address (obfuscated, unknown,
 * garbage). */
static bool node_addr(const char *s, size_t len, char *out, size_t outlen)
{
    char tmp[INET6_ADDRSTRLEN + 16];
    trim(&s, &len);
    if (len == 0 || len >= sizeof tmp) return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *a = tmp;
    if (a[0] == '[') { /* [v6] or [v6]:port */
        char *e = strchr(a, ']');
        if (!e || (e[1] && e[1] != ':')) return false;
        *e = '\0';
        a++;
    } else if (strchr(a, '.') && strchr(a, ':') && strchr(a, ':') == strrchr(a, ':')) {
        *strchr(a, ':') = '\0'; /* v4:port (one colon: not a v6 form) */
    }
    int family;
    uint8_t addr[16];
    if (!parse_ip(a, &family, addr) || strlen(a) >= outlen) return false;
    memcpy(out, a, strlen(a) + 1);
    return true;
}

/* One Forwarded element ("for=192.0.2.1;proto=https", "for=\"[v6]:4711\"")
 * into its for= address: pairs split at ';' outside quotes, exactly one
 * for=. */
static bool element_for(const char *s, size_t len, char *out, size_t outlen)
{
    const char *val = NULL;
    size_t vlen = 0;
    size_t i = 0;
    while (i <= len) {
        size_t start = i;
        bool q = false;
        for (; i < len && (q || s[i] != ';'); i++) {
            if (s[i] == '\\' && q && i + 1 < len)
                i++;
            else if (s[i] == '"')
                q = !q;
        }
        if (q) return false; /* unbalanced quote */
        const char *p = s + start;
        size_t pl = i - start;
        trim(&p, &pl);
        const char *eq = memchr(p, '=', pl);
        if (eq && eq - p == 3 && strncasecmp(p, "for", 3) == 0) {
            if (val) return false; /* two for= in one element */
            val = eq + 1, vlen = pl - 4;
        }
        i++;
    }
    if (!val) return false;
    if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') val++, vlen -= 2;
    if (memchr(val, '"', vlen) || memchr(val, '\\', vlen)) return false;
    return node_addr(val, vlen, out, outlen);
}

/* The start of the right-most list element ending at end: the character
 * after the nearest ',' to its left, skipping quoted strings in Forwarded
 * (read right to left, so the proxies' well-formed elements on the right
 * delimit correctly whatever the client put to their left). */
static size_t element_start(const char *v, size_t end, bool quoted)
{
    bool q = false;
    size_t i = end;
    while (i > 0) {
        char ch = v[i - 1];
        if (quoted && ch == '"' && !(i >= 2 && v[i - 2] == '\\'))
            q = !q;
        else if (ch == ',' && !q)
            break;
        i--;
    }
    return i;
}

void proxy_client_ip(const struct proxy_input *in, enum proxy_header kind,
                     const struct proxy_cidr *cidrs, int n, char *out, size_t outlen)
{
    const char *peer = in->peer ? in->peer : "";
    canonical(peer, out, outlen);
    if (!proxy_trusted(peer, cidrs, n) || !in->value || in->nvalues < 1) return;
    const char *v = in->value;
    char hop[INET6_ADDRSTRLEN + 8];
    if (kind == PROXY_REAL_IP) { /* one value, set by the proxy: never a list */
        if (in->nvalues == 1 && !in->truncated && !strchr(v, ',') &&
            node_addr(v, strlen(v), hop, sizeof hop))
            canonical(hop, out, outlen);
        return;
    }
    /* Right to left: each trusted hop vouches for the one before it. */
    bool fwd = kind == PROXY_FORWARDED;
    size_t end = strlen(v);
    for (;;) {
        size_t start = element_start(v, end, fwd);
        if (start == 0 && in->truncated) return; /* a cut hop: unread */
        bool ok = fwd ? element_for(v + start, end - start, hop, sizeof hop)
                      : node_addr(v + start, end - start, hop, sizeof hop);
        if (!ok) return; /* unreadable: keep the last trusted address */
        canonical(hop, out, outlen);
        if (!proxy_trusted(hop, cidrs, n) || start == 0) return;
        end = start - 1;
    }
}

void proxy_request_ip(const struct evkeyvalq *headers, const char *peer, char *out, size_t outlen)
{
    struct proxy_input in = {.peer = peer};
    if (proxy_cfg.ntrusted_proxies == 0 ||
        !proxy_trusted(peer, proxy_cfg.trusted_proxies, proxy_cfg.ntrusted_proxies)) {
        proxy_client_ip(&in, proxy_cfg.client_ip_header, NULL, 0, out, outlen);
        return;
    }
    /* Every instance of the header counts, in order (RFC 9110 5.3); a
     * joined list longer than the buffer keeps its right end. */
    const char *name = proxy_header_name(proxy_cfg.client_ip_header);
    size_t total = 0;
    for (const struct evkeyval *h = headers->tqh_first; h; h = h->next.tqe_next)
        if (strcasecmp(h->key, name) == 0) total += strlen(h->value) + (in.nvalues++ ? 1 : 0);
    char buf[PROXY_VALUE_MAX];
    size_t skip = total >= sizeof buf ? total - (sizeof buf - 1) : 0, o = 0, at = 0;
    int k = 0;
    for (const struct evkeyval *h = headers->tqh_first; h; h = h->next.tqe_next) {
        if (strcasecmp(h->key, name) != 0) continue;
        for (const char *p = k++ ? "," : ""; *p; p++, at++)
            if (at >= skip) buf[o++] = *p;
        for (const char *p = h->value; *p; p++, at++)
            if (at >= skip) buf[o++] = *p;
    }
    buf[o] = '\0';
    in.value = in.nvalues ? buf : NULL;
    in.truncated = skip > 0;
    proxy_client_ip(&in, proxy_cfg.client_ip_header, proxy_cfg.trusted_proxies,
                    proxy_cfg.ntrusted_proxies, out, outlen);
}

void proxy_budget_key(const char *ip, int v6_prefix, char out[PROXY_KEY_MAX])
{
    int family;
    uint8_t addr[16];
    char buf[INET6_ADDRSTRLEN];
    if (!parse_ip(ip, &family, addr)) {
        snprintf(out, PROXY_KEY_MAX, "%s", ip);
        return;
    }
    if (family == AF_INET6 && v6_prefix < 128) {
        int bits = v6_prefix < 0 ? 0 : v6_prefix;
        for (int i = 0; i < 16; i++) {
            int keep = bits - i * 8;
            addr[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        }
        inet_ntop(AF_INET6, addr, buf, sizeof buf);
        snprintf(out, PROXY_KEY_MAX, "%s/%d", buf, bits);
        return;
    }
    inet_ntop(family, addr, buf, sizeof buf);
    snprintf(out, PROXY_KEY_MAX, "%s", buf);
}
