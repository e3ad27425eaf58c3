#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

const char *gh_err_name(enum gh_err e)
{
    switch (e) {
    case GH_OK:
        return "ok";
    case GH_ERR_NOMEM:
        return "nomem";
    case GH_ERR_INTERNAL:
        return "internal";
    case GH_ERR_NOT_FOUND:
        return "not_found";
    case GH_ERR_CONFLICT:
        return "conflict";
    case GH_ERR_INVALID:
        return "invalid";
    case GH_ERR_DENIED:
        return "denied";
    case GH_ERR_CONFIG:
        return "config";
    case GH_ERR_BUSY:
        return "busy";
    case GH_ERR_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

void gh_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

enum gh_err gh_b64url_encode(char *out, size_t outcap, const void *in, size_t len)
{
    size_t need = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (outcap < need) return GH_ERR_INVALID;
    sodium_bin2base64(out, outcap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return GH_OK;
}

enum gh_err gh_b64url_decode(void *out, size_t outcap, size_t *outlen, const char *in, size_t inlen)
{
    /* libsodium 1.0.18 decodes bytes >= 0x80 as if they were letters:
     * check the alphabet first. */
    for (size_t i = 0; i < inlen; i++) {
        char c = in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return GH_ERR_INVALID;
    }
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(out, outcap, in, inlen, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return GH_ERR_INVALID;
    if (end != in + inlen) return GH_ERR_INVALID;
    *outlen = n;
    return GH_OK;
}

enum gh_err gh_random_token(char *out, size_t outcap, size_t nbytes)
{
    uint8_t raw[64];
    if (nbytes > sizeof raw) return GH_ERR_INVALID;
    gh_random(raw, nbytes);
    enum gh_err rc = gh_b64url_encode(out, outcap, raw, nbytes);
    gh_wipe(raw, sizeof raw);
    return rc;
}

void gh_hex(char *out, const void *in, size_t len)
{
    /* Hex is not secret-dependent here (hashes, ids), so a table is fine;
     * it is in the audit verifier's inner loop. */
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

enum gh_err gh_unhex(uint8_t *out, size_t outlen, const char *in, size_t inlen)
{
    if (inlen != 2 * outlen) return GH_ERR_INVALID;
    for (size_t i = 0; i < outlen; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return GH_ERR_INVALID;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return GH_OK;
}

enum gh_err gh_sha256(uint8_t out[GH_SHA256_BYTES], const void *in, size_t len)
{
    unsigned int n = 0;
    if (EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) != 1 || n != GH_SHA256_BYTES)
        return GH_ERR_INTERNAL;
    return GH_OK;
}

bool gh_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (a == NULL || b == NULL || alen != blen) return false;
    if (alen == 0) return true;
    return sodium_memcmp(a, b, alen) == 0;
}

void gh_wipe(void *p, size_t len)
{
    if (p && len) sodium_memzero(p, len);
}

void gh_free_secret_str(char *s)
{
    if (!s) return;
    gh_wipe(s, strlen(s));
    free(s);
}

int64_t gh_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gh_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

bool gh_utc_time(int y, int mo, int d, int h, int mi, int s, int64_t *out)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t tt = timegm(&tm);
    struct tm back;
    /* timegm normalises 2024-13-45 into another date: refuse anything
     * that does not come back unchanged. */
    if (tt == (time_t)-1 || !gmtime_r(&tt, &back) || back.tm_year != y - 1900 ||
        back.tm_mon != mo - 1 || back.tm_mday != d || back.tm_hour != h || back.tm_min != mi ||
        back.tm_sec != s)
        return false;
    *out = (int64_t)tt;
    return true;
}

int64_t gh_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void gh_rfc3339(char out[GH_RFC3339_LEN + 1], int64_t t)
{
    /* Four-digit years only: out-of-range values (a corrupt row) are
     * clamped rather than formatted from an undefined struct tm. */
    if (t < 0) t = 0;
    if (t > 253402300799) t = 253402300799; /* 9999-12-31T23:59:59Z */
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || strftime(out, GH_RFC3339_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        memcpy(out, "1970-01-01T00:00:00Z", GH_RFC3339_LEN + 1);
}

enum gh_err gh_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s) return GH_ERR_INVALID;
    for (const char *p = (*s == '-') ? s + 1 : s; *p; p++)
        if (*p < '0' || *p > '9') return GH_ERR_INVALID;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < min || v > max) return GH_ERR_INVALID;
    *out = v;
    return GH_OK;
}

bool gh_pct_append(char *out, size_t cap, size_t *o, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    if (cap == 0 || *o >= cap) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool k = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || (keep && strchr(keep, c));
        if (*o + (k ? 1 : 3) >= cap) {
            out[*o] = '\0';
            return false;
        }
        if (k) {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    out[*o] = '\0';
    return true;
}

bool gh_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + len;
    while (p < e) {
        unsigned c = *p;
        if (c == 0) return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07;
        else
            return false;
        if ((size_t)(e - p) <= n) return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

void gh_json_wipe(json_t *j)
{
    if (!j) return;
    if (json_is_string(j)) {
        gh_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) gh_json_wipe(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) gh_json_wipe(v);
    }
}
