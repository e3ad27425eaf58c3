/* Fuzzes email_normalize (sign-up and sign-in bodies). Properties of an
 * accepted address: ASCII without spaces or controls, one '@', at most 254
 * bytes, key == email lower-cased, the domain already lower-case in email,
 * and normalising the output again is a fixed point. */
#include <string.h>

#include "accounts/email.h"
#include "fuzz.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    char e2[STORE_EMAIL_MAX + 1], k2[STORE_EMAIL_MAX + 1];
    if (email_normalize((const char *)data, size, email, key) != GH_OK) return 0;

    size_t n = strlen(email);
    FUZZ_CHECK(n >= 6 && n <= STORE_EMAIL_MAX && n <= size);
    FUZZ_CHECK(strlen(key) == n);
    const char *at = strchr(email, '@');
    FUZZ_CHECK(at && at != email && !strchr(at + 1, '@'));
    FUZZ_CHECK((size_t)(at - email) <= 64);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(email[i] > 0x20 && email[i] < 0x7f);
        FUZZ_CHECK(key[i] == lower(email[i]));
        if (email + i > at) FUZZ_CHECK(email[i] == lower(email[i]));
    }
    FUZZ_CHECK(strchr(at, '.') != NULL);
    /* the address is the input minus surrounding whitespace */
    FUZZ_CHECK(memmem(data, size, email, (size_t)(at - email)) != NULL);

    FUZZ_CHECK(email_normalize(email, n, e2, k2) == GH_OK);
    FUZZ_CHECK(strcmp(e2, email) == 0 && strcmp(k2, key) == 0);
    FUZZ_CHECK(email_normalize(key, n, e2, k2) == GH_OK);
    FUZZ_CHECK(strcmp(e2, key) == 0 && strcmp(k2, key) == 0);
    return 0;
}
