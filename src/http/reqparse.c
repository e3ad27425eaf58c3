#include "http/reqparse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "sessions/cookie.h"

bool reqparse_bearer(const char *a, size_t max, const char **tok, size_t *len)
{
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return false;
    a += 7;
    while (*a == ' ')
        a++;
    size_t n = strlen(a);
    while (n > 0 && a[n - 1] == ' ')
        n--;
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    *tok = a;
    *len = n;
    return true;
}

void reqparse_cookies_add(struct reqparse_cookies *s, const char *header, const char *name)
{
    const char *v;
    size_t l;
    int n = cookie_find(header, name, &v, &l);
    if (n && !s->found) {
        s->val = v;
        s->len = l;
    }
    s->found += n;
}

int reqparse_cookies_result(const struct reqparse_cookies *s, size_t want_len, const char **tok,
                            size_t *len)
{
    if (s->found == 0) return 0;
    if (s->found > 1) return 2;
    if (s->len != want_len) return -1;
    for (size_t i = 0; i < s->len; i++) {
        char c = s->val[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return -1;
    }
    *tok = s->val;
    *len = s->len;
    return 1;
}

bool reqparse_content_type_is(const char *ct, const char *type)
{
    if (!ct) return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0) return false;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

enum reqparse_body reqparse_json_body(const char *data, size_t len, json_t **out)
{
    json_error_t jerr;
    json_t *j = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
    *out = NULL;
    if (!j) return REQPARSE_BODY_INVALID;
    if (!json_is_object(j)) {
        gh_json_wipe(j); /* it may still hold a password */
        json_decref(j);
        return REQPARSE_BODY_NOT_OBJECT;
    }
    *out = j;
    return REQPARSE_BODY_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes n bytes of one form name or value into out (room for n + 1):
 * '+' is a space, %XX a byte. false on a broken escape, a NUL or bytes that
 * are not UTF-8. */
static bool form_decode(const char *s, size_t n, char *out, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *outlen = o;
    return gh_utf8_valid(out, o);
}

enum reqparse_body reqparse_form_body(const char *data, size_t len, json_t **out)
{
    *out = NULL;
    json_t *obj = json_object();
    char *buf = malloc(len + 1);
    enum reqparse_body res = obj && buf ? REQPARSE_BODY_OK : REQPARSE_BODY_NOMEM;
    for (size_t p = 0; res == REQPARSE_BODY_OK && p < len;) {
        const char *amp = memchr(data + p, '&', len - p);
        size_t n = amp ? (size_t)(amp - (data + p)) : len - p;
        const char *eq = memchr(data + p, '=', n);
        size_t kn = eq ? (size_t)(eq - (data + p)) : n, kl, vl;
        char *val = buf + kn + 1;
        if (!eq || kn == 0 || !form_decode(data + p, kn, buf, &kl) ||
            !form_decode(eq + 1, n - kn - 1, val, &vl) || json_object_get(obj, buf))
            res = REQPARSE_BODY_INVALID; /* a piece without '=', an empty name, a repeat */
        else if (json_object_set_new(obj, buf, json_stringn(val, vl)) != 0)
            res = REQPARSE_BODY_NOMEM;
        p += n + 1;
        if (amp && p == len) res = REQPARSE_BODY_INVALID; /* a trailing '&' */
    }
    if (buf) gh_wipe(buf, len + 1); /* a password may have been in it */
    free(buf);
    if (res != REQPARSE_BODY_OK) {
        gh_json_wipe(obj);
        json_decref(obj);
        return res;
    }
    *out = obj;
    return REQPARSE_BODY_OK;
}
