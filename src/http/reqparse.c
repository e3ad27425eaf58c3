#include "http/reqparse.h"

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
