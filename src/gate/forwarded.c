#include "gate/forwarded.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* The other characters a path segment may hold unescaped (RFC 3986 pchar:
 * sub-delims, ':' and '@'; ';' is refused either way). They are decoded
 * like unreserved ones: apps that route on the decoded path read "%40" as
 * '@', so a rule written "/@admin" must meet "/%40admin" too. */
static bool is_path_delim(unsigned char c)
{
    return c != 0 && strchr("!$&'()*+,=:@", c) != NULL;
}

static int hexval(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Printable ASCII without space: what a URI may hold as sent. */
static bool uri_byte_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/* An upper-case token of 1..FWD_METHOD_MAX letters. */
static bool method_ok(const char *m, char out[FWD_METHOD_MAX + 1])
{
    size_t n = strlen(m);
    if (n == 0 || n > FWD_METHOD_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z') return false;
    memcpy(out, m, n + 1);
    return true;
}

/* An IPv6 literal's inside: hex digits, ':' and '.' (an embedded IPv4),
 * at least two ':'. Not a full parse: it only decides which bytes may
 * stand in a host; the rules compare it as text. */
static bool v6_ok(const char *s, size_t n)
{
    size_t colons = 0;
    if (n < 2 || n > 45) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':')
            colons++;
        else if (hexval(c) < 0 && c != '.')
            return false;
    }
    return colons >= 2;
}

/* LDH labels of 1..63 bytes, at most FWD_HOST_MAX in all; no empty label,
 * no leading or trailing dot or hyphen in a label. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > FWD_HOST_MAX) return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        if (!(is_alpha(c) || is_digit(c) || c == '-')) return false;
        if (c == '-' && label == 0) return false;
        if (++label > 63) return false;
    }
    return label > 0 && s[n - 1] != '-';
}

/* Splits an authority ("Host:8443", "[::1]:8080") into out->host (lower
 * case, no port) and out->authority (lower case, the port as written).
 * No userinfo, no empty port, port 1..65535 without leading zeros. */
static bool authority_ok(const char *a, size_t n, struct fwd_request *out)
{
    size_t hlen;
    if (n == 0 || n > FWD_AUTHORITY_MAX) return false;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || !v6_ok(a + 1, (size_t)(close - a) - 1)) return false;
        hlen = (size_t)(close - a) + 1;
    } else {
        const char *colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
        if (!name_ok(a, hlen)) return false;
    }
    if (hlen < n) {
        const char *p = a + hlen + 1;
        size_t pl = n - hlen - 1;
        if (a[hlen] != ':' || pl == 0 || pl > 5 || p[0] == '0') return false;
        unsigned long port = 0;
        for (size_t i = 0; i < pl; i++) {
            if (!is_digit((unsigned char)p[i])) return false;
            port = port * 10 + (unsigned long)(p[i] - '0');
        }
        if (port == 0 || port > 65535) return false;
    }
    if (hlen > FWD_HOST_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        out->authority[i] = c;
        if (i < hlen) out->host[i] = c;
    }
    out->authority[n] = '\0';
    out->host[hlen] = '\0';
    return true;
}

/* A path segment that is "." or ".." once %2e is read as '.'. */
static bool dot_segment(const char *seg, size_t n)
{
    return (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.');
}

bool forwarded_path(const char *uri, size_t len, char *out, size_t cap, size_t *out_len)
{
    size_t o = 0, seg = 0; /* seg: where the current segment starts in out */
    if (len == 0 || uri[0] != '/' || cap == 0) return false;
    for (size_t i = 0; i < len && uri[i] != '?'; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (!uri_byte_ok(c) || c == '\\' || c == ';') return false;
        if (c == '%') {
            if (i + 2 >= len) return false;
            int hi = hexval((unsigned char)uri[i + 1]), lo = hexval((unsigned char)uri[i + 2]);
            if (hi < 0 || lo < 0) return false;
            unsigned char d = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (d < 0x20 || d == 0x7f || d == '/' || d == '\\' || d == '%' || d == ';')
                return false;
            if (is_unreserved(d) || is_path_delim(d)) {
                c = d; /* decoded, then checked as if sent plain */
            } else {
                static const char hex[] = "0123456789ABCDEF";
                if (o + 3 >= cap) return false;
                out[o++] = '%';
                out[o++] = hex[d >> 4];
                out[o++] = hex[d & 15];
                continue;
            }
        }
        if (c == '/') {
            if (o > 0 && out[o - 1] == '/') return false; /* "//" */
            if (o > 0 && dot_segment(out + seg, o - seg)) return false;
            if (o + 1 >= cap) return false;
            out[o++] = '/';
            seg = o;
            continue;
        }
        if (o + 1 >= cap) return false;
        out[o++] = (char)c;
    }
    if (dot_segment(out + seg, o - seg)) return false;
    out[o] = '\0';
    *out_len = o;
    return true;
}

/* The URI as sent: starts with '/', printable ASCII, no '#'; the path
 * normalised into out->path. */
static bool uri_ok(const char *uri, size_t n, struct fwd_request *out)
{
    if (n == 0 || n > FWD_URI_MAX || uri[0] != '/') return false;
    for (size_t i = 0; i < n; i++)
        if (!uri_byte_ok((unsigned char)uri[i])) return false;
    return forwarded_path(uri, n, out->path, sizeof out->path, &out->path_len);
}

static bool scheme_of(const char *s, size_t n, bool *https)
{
    if (n == 5 && strncasecmp(s, "https", 5) == 0) {
        *https = true;
        return true;
    }
    if (n == 4 && strncasecmp(s, "http", 4) == 0) {
        *https = false;
        return true;
    }
    return false;
}

/* out->url from the parts already checked. */
static bool build_url(struct fwd_request *out, const char *uri, size_t n)
{
    int w = snprintf(out->url, sizeof out->url, "%s://%s%.*s", out->https ? "https" : "http",
                     out->authority, (int)n, uri);
    return w > 0 && (size_t)w < sizeof out->url;
}

static enum fwd_result parse_nginx(const struct fwd_input *in, struct fwd_request *out)
{
    if (!in->orig_method || !in->orig_url) return FWD_MISSING;
    if (!method_ok(in->orig_method, out->method)) return FWD_INVALID;
    const char *u = in->orig_url, *sep = strstr(u, "://");
    if (!sep || !scheme_of(u, (size_t)(sep - u), &out->https)) return FWD_INVALID;
    const char *a = sep + 3;
    size_t alen = strcspn(a, "/?#\\@");
    if (a[alen] != '/') return FWD_INVALID; /* a path must follow the authority */
    if (!authority_ok(a, alen, out)) return FWD_INVALID;
    const char *uri = a + alen;
    size_t n = strlen(uri);
    if (!uri_ok(uri, n, out) || !build_url(out, uri, n)) return FWD_INVALID;
    out->nginx = true;
    return FWD_OK;
}

static enum fwd_result parse_forwarded(const struct fwd_input *in, struct fwd_request *out)
{
    if (!in->fwd_method || !in->fwd_proto || !in->fwd_host || !in->fwd_uri) return FWD_MISSING;
    if (!method_ok(in->fwd_method, out->method)) return FWD_INVALID;
    if (!scheme_of(in->fwd_proto, strlen(in->fwd_proto), &out->https)) return FWD_INVALID;
    if (!authority_ok(in->fwd_host, strlen(in->fwd_host), out)) return FWD_INVALID;
    size_t n = strlen(in->fwd_uri);
    if (!uri_ok(in->fwd_uri, n, out) || !build_url(out, in->fwd_uri, n)) return FWD_INVALID;
    out->nginx = false;
    return FWD_OK;
}

enum fwd_result forwarded_parse(const struct fwd_input *in, struct fwd_request *out)
{
    bool orig = in->orig_url || in->orig_method;
    bool fwd = in->fwd_uri || in->fwd_method;
    if (orig && fwd) return FWD_INVALID; /* one family may be the client's forgery */
    if (orig) return parse_nginx(in, out);
    if (fwd) return parse_forwarded(in, out);
    return FWD_MISSING;
}
