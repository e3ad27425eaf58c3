#include "accounts/email.h"

#include <stdbool.h>
#include <string.h>

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static bool local_char(char c)
{
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL && c != '\0';
}

static bool domain_ok(const char *d, size_t n)
{
    if (n < 3 || n > 253) return false;
    size_t label = 0, labels = 0, last_start = 0;
    bool all_digits = true;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? d[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || d[i - 1] == '-' || d[i - label] == '-') return false;
            labels++;
            last_start = i - label;
            all_digits = true;
            for (size_t j = last_start; j < i; j++)
                if (d[j] < '0' || d[j] > '9') all_digits = false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
        label++;
    }
    return labels >= 2 && !all_digits; /* the TLD is not numeric */
}

enum gh_err email_normalize(const char *in, size_t len, char email[STORE_EMAIL_MAX + 1],
                            char key[STORE_EMAIL_MAX + 1])
{
    while (len > 0 && strchr(" \t\r\n", in[0]) && in[0] != '\0')
        in++, len--;
    while (len > 0 && strchr(" \t\r\n", in[len - 1]) && in[len - 1] != '\0')
        len--;
    if (len < 6 || len > STORE_EMAIL_MAX) return GH_ERR_INVALID;
    const char *at = memchr(in, '@', len);
    if (!at || memchr(at + 1, '@', len - (size_t)(at - in) - 1)) return GH_ERR_INVALID;
    size_t ll = (size_t)(at - in), dl = len - ll - 1;
    if (ll == 0 || ll > 64) return GH_ERR_INVALID;
    if (in[0] == '.' || in[ll - 1] == '.') return GH_ERR_INVALID;
    for (size_t i = 0; i < ll; i++) {
        if (!local_char(in[i])) return GH_ERR_INVALID;
        if (in[i] == '.' && i + 1 < ll && in[i + 1] == '.') return GH_ERR_INVALID;
    }
    if (!domain_ok(at + 1, dl)) return GH_ERR_INVALID;
    for (size_t i = 0; i < len; i++) {
        email[i] = i > ll ? lower(in[i]) : in[i];
        key[i] = lower(in[i]);
    }
    email[len] = key[len] = '\0';
    return GH_OK;
}
