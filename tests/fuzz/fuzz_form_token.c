/* Fuzzes the form-token check of the pages used before sign-in
 * (pages_form_check, src/pages/form_token.c): the input is a cookie value
 * and a field separated by the first NUL. Properties: never a crash; a
 * result in range; OK only for a cookie that opens under the key (its
 * nonce's field equal to the one given) and never for an input that
 * differs from the cookie and field the key makes for that nonce; the
 * cookie and field made from any opened nonce pass. */
#include <string.h>

#include "fuzz.h"
#include "pages/form_token.h"

#define NOW 1800000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pages_form_keys k;
    memset(k.cookie, 0x5a, sizeof k.cookie);
    memset(k.field, 0xa5, sizeof k.field);
    char buf[512];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *cookie = buf;
    size_t cl = strlen(buf);
    const char *field = cl < size ? buf + cl + 1 : NULL;
    size_t fl = field ? strlen(field) : 0;
    enum pages_form_result res = pages_form_check(&k, cookie, cl, field, fl, NOW);
    FUZZ_CHECK(res >= PAGES_FORM_OK && res <= PAGES_FORM_BAD_FIELD);
    uint8_t nonce[PAGES_FORM_NONCE_BYTES];
    int64_t exp = 0;
    enum pages_form_result open = pages_form_cookie_open(&k, cookie, cl, NOW, nonce, &exp);
    if (res == PAGES_FORM_OK) {
        FUZZ_CHECK(open == PAGES_FORM_OK && exp > NOW);
        char c2[PAGES_FORM_COOKIE_LEN + 1], f2[PAGES_FORM_TOKEN_LEN + 1];
        FUZZ_CHECK(pages_form_cookie_make(&k, exp, nonce, c2));
        FUZZ_CHECK(pages_form_field_of(&k, nonce, f2));
        FUZZ_CHECK(cl == PAGES_FORM_COOKIE_LEN && memcmp(c2, cookie, cl) == 0);
        FUZZ_CHECK(fl == PAGES_FORM_TOKEN_LEN && memcmp(f2, field, fl) == 0);
    }
    if (open == PAGES_FORM_OK) {
        char c2[PAGES_FORM_COOKIE_LEN + 1], f2[PAGES_FORM_TOKEN_LEN + 1];
        FUZZ_CHECK(pages_form_cookie_make(&k, exp, nonce, c2));
        FUZZ_CHECK(pages_form_field_of(&k, nonce, f2));
        FUZZ_CHECK(pages_form_check(&k, c2, strlen(c2), f2, strlen(f2), NOW) == PAGES_FORM_OK);
    }
    return 0;
}
