#include "guard/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/util.h"

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

/* One hop of Forwarded ("for=192.0.2.1", "for=\"[2001:db8::1]:4711\"") or
 * of X-Forwarded-For ("192.0.2.1", with optional spaces) into an address
 * text. false: not an address (obfuscated, unknown, garbage). */
static bool hop_addr(const char *s, size_t len, bool forwarded, char *out, size_t outlen)
{
    char tmp[128];
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (forwarded) { /* find for= among ;-separated pairs */
        const char *f = NULL;
        for (size_t i = 0; i + 4 <= len; i++)
            if ((i == 0 || s[i - 1] == ';' || isspace((unsigned char)s[i - 1])) &&
                strncasecmp(s + i, "for=", 4) == 0) {
                f = s + i + 4;
                break;
            }
        if (!f) return false;
        size_t fl = strcspn(f, ";");
        if ((size_t)(f - s) + fl > len) fl = len - (size_t)(f - s);
        s = f, len = fl;
        if (len >= 2 && s[0] == '"' && s[len - 1] == '"') s++, len -= 2;
    }
    if (len == 0 || len >= sizeof tmp) return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *a = tmp;
    if (a[0] == '[') { /* [v6] or [v6]:port */
        char *e = strchr(a, ']');
        if (!e) return false;
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

void proxy_client_ip(const char *peer, const char *xff, const char *fwd,
                     const struct proxy_cidr *cidrs, int n, char *out, size_t outlen)
{
    canonical(peer ? peer : "", out, outlen);
    if (!peer || !proxy_trusted(peer, cidrs, n)) return;
    bool forwarded = fwd && *fwd;
    const char *list = forwarded ? fwd : xff;
    if (!list) return;
    /* Right to left: each trusted hop vouches for the one before it. */
    size_t end = strlen(list);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && list[start - 1] != ',')
            start--;
        char hop[INET6_ADDRSTRLEN + 8];
        if (!hop_addr(list + start, end - start, forwarded, hop, sizeof hop))
            return; /* unreadable: keep the last trusted address */
        canonical(hop, out, outlen);
        if (!proxy_trusted(hop, cidrs, n)) return;
        end = start > 0 ? start - 1 : 0;
    }
}
