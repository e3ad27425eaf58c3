/* Return-URL validation: the rules are in redirect.h. Every check refuses
 * on doubt; the parser accepts a small subset of RFC 3986 on purpose, so
 * that browsers' more lenient parsing (WHATWG URL: backslashes as slashes,
 * tabs and newlines dropped, numeric hosts as IPv4) can never read a URL
 * we accepted as pointing somewhere else. */
#include "gate/redirect.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 253
#define LABEL_MAX 63

/* One absolute URL taken apart. host is lower-cased; rest points into the
 * input (path, query, fragment; may be empty). */
struct url_parts {
    bool https;
    bool v6; /* host is a bracketed IPv6 literal */
    char host[HOST_MAX + 1];
    size_t hostlen;
    unsigned port;      /* effective port: explicit or the scheme's own */
    bool explicit_port; /* written, and not the scheme's own */
    const char *rest;
    size_t restlen;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Printable ASCII only, minus the characters RFC 3986 never allows raw
 * (and the backslash browsers read as '/'); well-formed escapes that never
 * encode a control byte (an encoded CR/LF is a header injection waiting for
 * a careless decoder). */
static bool chars_ok(const char *u, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c)) return false;
        if (c != '%') continue;
        if (i + 2 >= len) return false;
        int hi = hexval(u[i + 1]), lo = hexval(u[i + 2]);
        if (hi < 0 || lo < 0) return false;
        int v = hi * 16 + lo;
        if (v < 0x20 || v == 0x7f) return false;
        i += 2;
    }
    return true;
}

/* A path segment [s, s+n) that means "." or ".." once %2e is decoded. */
static bool dot_segment(const char *s, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '.') {
            i++;
        } else if (i + 2 < n && s[i] == '%' && s[i + 1] == '2' && lower(s[i + 2]) == 'e') {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots > 0;
}

/* rest: what follows the authority (absolute) or the whole relative URL.
 * Empty, or a path starting with '/', then an optional query and at most
 * one fragment. */
static bool rest_ok(const char *r, size_t n)
{
    size_t pathend = 0;
    while (pathend < n && r[pathend] != '?' && r[pathend] != '#')
        pathend++;
    if (pathend > 0 && r[0] != '/') return false;
    size_t seg = 1;
    for (size_t i = 1; i <= pathend; i++) {
        if (i < pathend && r[i] != '/') continue;
        if (i == seg && i < pathend) return false; /* "//": an empty segment */
        if (dot_segment(r + seg, i - seg)) return false;
        seg = i + 1;
    }
    for (size_t i = 0; i + 2 < pathend; i++) {
        if (r[i] != '%') continue;
        char a = r[i + 1], b = lower(r[i + 2]);
        if ((a == '2' && b == 'f') || (a == '5' && b == 'c')) return false;
    }
    const char *hash = memchr(r, '#', n);
    if (hash && memchr(hash + 1, '#', n - (size_t)(hash + 1 - r))) return false;
    return true;
}

/* LDH labels of 1..63, no empty label (so no leading, doubled or trailing
 * dot), not starting or ending with '-'. Lower-cases into out. */
static bool dns_name(const char *s, size_t n, char *out)
{
    if (n == 0 || n > HOST_MAX) return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = lower(s[i]);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
            out[i] = c;
            continue;
        }
        size_t l = i - start;
        if (l == 0 || l > LABEL_MAX || s[start] == '-' || s[i - 1] == '-') return false;
        if (i < n) out[i] = '.';
        start = i + 1;
    }
    out[n] = '\0';
    return true;
}

/* A host a browser reads as an IP address: a last label of digits, or of
 * the 0x form (WHATWG parses "0x7f.1" and "2130706433" as IPv4). */
static bool ip_like(const char *host, size_t n)
{
    const char *dot = memrchr(host, '.', n);
    const char *last = dot ? dot + 1 : host;
    size_t ln = n - (size_t)(last - host);
    if (ln >= 2 && last[0] == '0' && last[1] == 'x') return true;
    return strspn(last, "0123456789") == ln;
}

/* ":port" of 1..5 digits, no leading zero, 1..65535. */
static bool port_parse(const char *s, size_t n, unsigned *out)
{
    if (n == 0 || n > 5 || s[0] == '0') return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return false;
    *out = v;
    return true;
}

/* host[:port] or [v6][:port]; the authority is already free of '@' and '%'. */
static bool authority_parse(const char *a, size_t n, struct url_parts *u)
{
    size_t hostlen;
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close) return false;
        hostlen = (size_t)(close - a) + 1;
        if (hostlen < 4 || hostlen > HOST_MAX) return false;
        for (size_t i = 1; i + 1 < hostlen; i++) {
            char c = lower(a[i]);
            if (!(hexval(c) >= 0 || c == ':' || c == '.')) return false;
            u->host[i] = c;
        }
        u->host[0] = '[';
        u->host[hostlen - 1] = ']';
        u->host[hostlen] = '\0';
        u->v6 = true;
    } else {
        const char *colon = memchr(a, ':', n);
        hostlen = colon ? (size_t)(colon - a) : n;
        if (!dns_name(a, hostlen, u->host)) return false;
    }
    u->hostlen = hostlen;
    unsigned dflt = u->https ? 443 : 80;
    u->port = dflt;
    u->explicit_port = false;
    if (hostlen == n) return true;
    if (a[hostlen] != ':' || !port_parse(a + hostlen + 1, n - hostlen - 1, &u->port)) return false;
    u->explicit_port = u->port != dflt;
    return true;
}

/* scheme://authority rest, http or https only. */
static bool absolute_parse(const char *s, size_t len, struct url_parts *u)
{
    memset(u, 0, sizeof *u);
    size_t i;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        u->https = true;
        i = 8;
    } else if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        i = 7;
    } else {
        return false;
    }
    size_t end = i;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    if (end == i) return false; /* no host: "https:///evil.com", "https://?x" */
    if (memchr(s + i, '@', end - i) || memchr(s + i, '%', end - i)) return false;
    if (!authority_parse(s + i, end - i, u)) return false;
    u->rest = s + end;
    u->restlen = len - end;
    return true;
}

/* An entry "name" or "name:port" (or "[v6]:port") equal to the URL's host
 * and port. An entry without a port names the scheme's own port. */
static bool exact_match(const char *e, const struct url_parts *u)
{
    size_t el = strlen(e);
    const char *colon = NULL;
    if (e[0] == '[') {
        const char *close = strchr(e, ']');
        if (!close) return false;
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1] != '\0')
            return false;
    } else {
        colon = strchr(e, ':');
    }
    size_t nl = colon ? (size_t)(colon - e) : el;
    if (nl != u->hostlen || strncasecmp(e, u->host, nl) != 0) return false;
    unsigned want = u->https ? 443 : 80;
    if (colon && !port_parse(colon + 1, el - nl - 1, &want)) return false;
    return u->port == want;
}

/* host is base, or ends in "." base; with below, base alone does not do. */
static bool under(const struct url_parts *u, const char *base, bool below)
{
    size_t bl = strlen(base);
    if (bl == 0 || !strchr(base, '.') || strchr(base, ':') || strchr(base, '*')) return false;
    if (u->hostlen == bl) return !below && strcasecmp(u->host, base) == 0;
    if (u->hostlen < bl + 2) return false;
    size_t off = u->hostlen - bl;
    return u->host[off - 1] == '.' && strcasecmp(u->host + off, base) == 0;
}

static bool host_allowed(const struct redirect_policy *p, const struct url_parts *u)
{
    /* wildcards and the cookie domain name DNS names on the scheme's port */
    bool names_only = !u->v6 && !ip_like(u->host, u->hostlen) && !u->explicit_port;
    for (size_t i = 0; p->hosts && i < p->nhosts; i++) {
        const char *e = p->hosts[i];
        if (!e || !*e) continue;
        if (e[0] == '*') {
            if (names_only && e[1] == '.' && under(u, e + 2, true)) return true;
        } else if (exact_match(e, u)) {
            return true;
        }
    }
    const char *cd = p->cookie_domain;
    if (cd && cd[0] == '.') cd++;
    return names_only && cd && under(u, cd, false);
}

static bool loopback(const struct url_parts *u)
{
    return strcmp(u->host, "localhost") == 0 || strcmp(u->host, "127.0.0.1") == 0 ||
           strcmp(u->host, "[::1]") == 0;
}

static enum gh_err write_out(char *out, size_t outcap, const struct url_parts *u, const char *rest,
                             size_t restlen)
{
    char port[8] = "";
    if (u->explicit_port) snprintf(port, sizeof port, ":%u", u->port);
    const char *slash = (restlen == 0 || rest[0] != '/') ? "/" : "";
    int n = snprintf(out, outcap, "%s://%s%s%s%.*s", u->https ? "https" : "http", u->host, port,
                     slash, (int)restlen, rest);
    /* the output has the same cap as the input (a relative path grows) */
    if (n < 0 || (size_t)n >= outcap || n > REDIRECT_MAX_LEN) {
        out[0] = '\0';
        return GH_ERR_INVALID;
    }
    return GH_OK;
}

/* The scheme rule: https, or http to a loopback host in development. */
static bool scheme_ok(const struct redirect_policy *p, const struct url_parts *u)
{
    return u->https || (p->dev_loopback_http && loopback(u));
}

/* The origin of the public base, held to the same scheme rule as any
 * return URL; false when there is none or it does not parse. */
static bool base_parse(const struct redirect_policy *p, struct url_parts *b)
{
    const char *s = p->public_base;
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= REDIRECT_BASE_MAX && chars_ok(s, n) && absolute_parse(s, n, b) &&
           scheme_ok(p, b);
}

static bool same_origin(const struct url_parts *a, const struct url_parts *b)
{
    return a->https == b->https && a->port == b->port && strcmp(a->host, b->host) == 0;
}

enum gh_err redirect_check(const struct redirect_policy *p, const char *url, size_t len, char *out,
                           size_t outcap)
{
    if (!out || outcap == 0) return GH_ERR_INVALID;
    out[0] = '\0';
    if (!p || !url || len == 0 || len > REDIRECT_MAX_LEN || !chars_ok(url, len))
        return GH_ERR_INVALID;
    struct url_parts u, base;
    bool have_base = base_parse(p, &base);
    if (url[0] == '/') {
        /* exactly one '/': "//host" is scheme-relative */
        if (len > 1 && url[1] == '/') return GH_ERR_INVALID;
        if (!have_base || !rest_ok(url, len)) return GH_ERR_INVALID;
        return write_out(out, outcap, &base, url, len);
    }
    if (!absolute_parse(url, len, &u) || !rest_ok(u.rest, u.restlen)) return GH_ERR_INVALID;
    if (!scheme_ok(p, &u)) return GH_ERR_INVALID;
    /* the public base's own origin: where a relative path lands anyway */
    if (!host_allowed(p, &u) && !(have_base && same_origin(&u, &base))) return GH_ERR_INVALID;
    return write_out(out, outcap, &u, u.rest, u.restlen);
}
