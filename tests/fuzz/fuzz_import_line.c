/* Fuzzes import_line_parse (each line of `gatehouse import users`), and on
 * the same bytes as text the RFC 3339 parser and the base32 secret
 * decoder. Properties of an accepted line: the address is normalised
 * (key = address lower-cased), the role is user or admin, at most 8
 * identities each with a valid provider and a 1-255 byte subject, a
 * created_at in range, a hash of printable ASCII, a format only with a
 * hash; a refusal always says why and keeps nothing. A refused base32
 * secret leaves the output zeroed. */
#include <string.h>

#include "fuzz.h"
#include "import/import_line.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct import_record r;
    char why[IMPORT_REASON_MAX];
    why[0] = '\0';
    enum gh_err rc = import_line_parse((const char *)data, size, &r, why, sizeof why);
    if (rc != GH_OK) {
        FUZZ_CHECK(rc == GH_ERR_INVALID && why[0] != '\0');
        FUZZ_CHECK(r.hash_format == NULL && !r.has_totp);
    } else {
        size_t n = strlen(r.email);
        FUZZ_CHECK(n > 0 && n <= STORE_EMAIL_MAX && strlen(r.email_key) == n);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(r.email_key[i] == lower(r.email[i]));
        FUZZ_CHECK(!strcmp(r.role, "user") || !strcmp(r.role, "admin"));
        FUZZ_CHECK(r.n_identities <= IMPORT_IDENTITIES_MAX);
        for (size_t i = 0; i < r.n_identities; i++) {
            FUZZ_CHECK(import_provider_ok(r.identities[i].provider));
            size_t s = strlen(r.identities[i].subject);
            FUZZ_CHECK(s >= 1 && s <= STORE_SUBJECT_MAX);
        }
        FUZZ_CHECK(r.created_at >= 0 && r.created_at <= IMPORT_TIME_MAX);
        for (const char *p = r.password_hash; *p; p++)
            FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
        FUZZ_CHECK(!r.hash_format || r.password_hash[0]);
        FUZZ_CHECK(strlen(r.name) <= IMPORT_NAME_MAX);
        import_record_clear(&r);
    }

    /* The same bytes as one string for the field parsers. */
    char s[128];
    size_t k = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, k);
    s[k] = '\0';
    int64_t t = -1;
    if (import_parse_time(s, &t) == GH_OK) FUZZ_CHECK(t >= 0 && t <= IMPORT_TIME_MAX);
    uint8_t sec[TOTP_SECRET_BYTES];
    if (import_base32_secret(s, sec) != GH_OK) {
        static const uint8_t zero[TOTP_SECRET_BYTES];
        FUZZ_CHECK(memcmp(sec, zero, sizeof zero) == 0);
    }
    return 0;
}
