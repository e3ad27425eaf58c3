/* Unit tests for src/import/import_line.c: a full line into a record, each
 * refusal with its reason (and no value of the line in it), RFC 3339 times,
 * base32 TOTP secrets (lengths, padding, zero-padding to 160 bits). */
#include "testutil.h"

#include "import/import_line.h"

static enum gh_err parse(const char *line, struct import_record *r, char *why)
{
    return import_line_parse(line, strlen(line), r, why, IMPORT_REASON_MAX);
}

static void test_full_line(void **state)
{
    (void)state;
    struct import_record r;
    char why[IMPORT_REASON_MAX];
    const char *line =
        "{\"email\":\"Ann@Example.COM\",\"name\":\"Ann \xc3\x89xample\",\"email_verified\":true,"
        "\"created_at\":\"2021-03-04T05:06:07.891+01:00\","
        "\"password_hash\":\"$2y$05$abcdefghijklmnopqrstuuJ3Fv0VNlO4PM6Krhs1wKvbLJ6bcWsHW\","
        "\"password_hash_format\":{\"name\":\"bcrypt\"},"
        "\"identities\":[{\"provider\":\"google\",\"subject\":\"1234\"},"
        "{\"provider\":\"apple\",\"subject\":\"0001.abc\"}],"
        "\"totp_secret\":\"jbsw y3dp ehpk 3pxp\",\"role\":\"admin\"}";
    assert_int_equal(parse(line, &r, why), GH_OK);
    assert_string_equal(r.email, "Ann@example.com");
    assert_string_equal(r.email_key, "ann@example.com");
    assert_string_equal(r.name, "Ann \xc3\x89xample");
    assert_true(r.email_verified);
    assert_int_equal(r.created_at, 1614830767); /* 04:06:07Z */
    assert_string_equal(r.password_hash,
                        "$2y$05$abcdefghijklmnopqrstuuJ3Fv0VNlO4PM6Krhs1wKvbLJ6bcWsHW");
    assert_true(json_is_object(r.hash_format));
    assert_int_equal(r.n_identities, 2);
    assert_string_equal(r.identities[1].provider, "apple");
    assert_string_equal(r.identities[1].subject, "0001.abc");
    assert_true(r.has_totp);
    /* "Hello!\xde\xad\xbe\xef" (10 bytes) then zeros */
    static const uint8_t want[TOTP_SECRET_BYTES] = {'H', 'e',  'l',  'l',  'o',
                                                    '!', 0xde, 0xad, 0xbe, 0xef};
    assert_memory_equal(r.totp, want, sizeof want);
    assert_string_equal(r.role, "admin");
    import_record_clear(&r);
    import_record_clear(&r); /* twice is safe */

    /* Defaults; null is as if absent. */
    assert_int_equal(
        parse("{\"email\":\"b@example.com\",\"name\":null,\"totp_secret\":null}", &r, why), GH_OK);
    assert_false(r.email_verified);
    assert_int_equal(r.created_at, 0);
    assert_string_equal(r.password_hash, "");
    assert_false(r.has_totp);
    assert_string_equal(r.role, "user");
    import_record_clear(&r);
}

static void refused(const char *line, const char *reason_part)
{
    struct import_record r;
    char why[IMPORT_REASON_MAX] = "";
    assert_int_equal(import_line_parse(line, strlen(line), &r, why, sizeof why), GH_ERR_INVALID);
    if (!strstr(why, reason_part))
        fail_msg("line %s: reason \"%s\" lacks \"%s\"", line, why, reason_part);
    /* no secret or address of the line is echoed */
    assert_null(strstr(why, "SECRETVALUE"));
    assert_null(strstr(why, "example.com"));
    assert_null(r.hash_format);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", "not valid JSON");
    refused("[1]", "not a JSON object");
    refused("{\"email\":\"a@example.com\"", "not valid JSON");
    refused("{\"email\":\"a@example.com\",\"email\":\"b@example.com\"}", "appears twice");
    refused("{\"email\":\"a@example.com\",\"password\":\"SECRETVALUE\"}",
            "unknown field \"password\"");
    refused("{\"email\":\"a@example.com\",\"x\\\"y\\n\":1}", "unknown field \"x?y?\"");
    refused("{\"name\":\"A\"}", "email: missing");
    refused("{\"email\":\"not-an-address\"}", "email: not a valid address");
    refused("{\"email\":1}", "email: must be a string");
    refused("{\"email\":null}", "email: must be a string");
    refused("{\"email\":\"a\\u0000b@example.com\"}", "not valid JSON");
    refused("{\"email\":\"a@example.com\",\"email_verified\":\"yes\"}",
            "email_verified: must be true or false");
    refused("{\"email\":\"a@example.com\",\"created_at\":\"2021-02-30T00:00:00Z\"}", "created_at");
    refused("{\"email\":\"a@example.com\",\"created_at\":1614830767}",
            "created_at: must be a string");
    refused("{\"email\":\"a@example.com\",\"role\":\"root\"}", "role");
    refused("{\"email\":\"a@example.com\",\"name\":\"a\\u0007b\"}", "name");
    refused("{\"email\":\"a@example.com\",\"password_hash\":\"SECRET VALUE\"}",
            "password_hash: only printable");
    refused("{\"email\":\"a@example.com\",\"password_hash\":7}", "password_hash: must be a string");
    refused("{\"email\":\"a@example.com\",\"password_hash_format\":\"bcrypt\"}",
            "without a password_hash");
    refused("{\"email\":\"a@example.com\",\"password_hash\":\"x\",\"password_hash_format\":1}",
            "password_hash_format");
    refused("{\"email\":\"a@example.com\",\"totp_secret\":\"SECRETVALUE1\"}", "totp_secret");
    refused("{\"email\":\"a@example.com\",\"totp_secret\":\"JBSWY3DPEHPK3PX\"}", "totp_secret");
    refused("{\"email\":\"a@example.com\",\"identities\":{}}", "identities: must be a list");
    refused("{\"email\":\"a@example.com\",\"identities\":[{\"provider\":\"Google\",\"subject\":"
            "\"1\"}]}",
            "provider");
    refused(
        "{\"email\":\"a@example.com\",\"identities\":[{\"provider\":\"google\",\"subject\":\"\"}]}",
        "subject");
    refused("{\"email\":\"a@example.com\",\"identities\":[{\"provider\":\"google\"}]}",
            "two strings");
    refused("{\"email\":\"a@example.com\",\"identities\":[{\"provider\":\"g\",\"subject\":\"1\","
            "\"x\":1}]}",
            "two strings");
    refused("{\"email\":\"a@example.com\",\"identities\":[{\"provider\":\"g\",\"subject\":\"1\"},"
            "{\"provider\":\"g\",\"subject\":\"1\"}]}",
            "the same identity twice");
    refused("{\"email\":\"a@example.com\",\"name\":\"\xff\"}", "not valid UTF-8");
    char big[IMPORT_LINE_MAX + 2];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refused(big, "longer than 64 KiB");
}

static void test_times(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(import_parse_time("1970-01-01T00:00:00Z", &t), GH_OK);
    assert_int_equal(t, 0);
    assert_int_equal(import_parse_time("2024-02-29 23:59:59.123456+00", &t), GH_OK);
    assert_int_equal(t, 1709251199);
    assert_int_equal(import_parse_time("2024-03-01T01:00:00-0130", &t), GH_OK);
    assert_int_equal(t, 1709251200 + 3600 + 5400);
    static const char *const bad[] = {"2023-02-29T00:00:00Z",      "2024-13-01T00:00:00Z",
                                      "2024-01-01T24:00:00Z",      "2024-01-01T00:00:60Z",
                                      "2024-01-01T00:00:00",       "2024-01-01T00:00:00.Z",
                                      "1969-12-31T23:59:59Z",      "2024-01-01X00:00:00Z",
                                      "2024-01-01T00:00:00+25:00", "2024-1-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(import_parse_time(bad[i], &t), GH_ERR_INVALID);
}

static void test_base32(void **state)
{
    (void)state;
    uint8_t s[TOTP_SECRET_BYTES];
    /* RFC 6238's key, 20 bytes, with padding-free 32 characters */
    assert_int_equal(import_base32_secret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", s), GH_OK);
    assert_memory_equal(s, "12345678901234567890", 20);
    assert_int_equal(import_base32_secret("gezdgnbvgy3tqojq", s), GH_OK); /* 10 bytes */
    assert_memory_equal(s, "1234567890\0\0\0\0\0\0\0\0\0\0", 20);
    assert_int_equal(import_base32_secret("GEZDGNBVGY3TQOJQGEZA====", s), GH_OK); /* 12 + pad */
    assert_memory_equal(s, "123456789012\0\0\0\0\0\0\0\0", 20);
    assert_int_equal(import_base32_secret("GEZDGNBVGY3TQOJ", s), GH_ERR_INVALID); /* 9 bytes */
    assert_int_equal(import_base32_secret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE", s), GH_ERR_INVALID);
    assert_int_equal(import_base32_secret("GEZDGNBVGY3TQOJ1", s), GH_ERR_INVALID);
    assert_int_equal(import_base32_secret("GEZDGNBV=GY3TQOJQ", s), GH_ERR_INVALID);
    static const uint8_t zero[TOTP_SECRET_BYTES];
    assert_memory_equal(s, zero, sizeof zero); /* wiped on failure */
}

static void test_providers(void **state)
{
    (void)state;
    assert_true(import_provider_ok("google"));
    assert_true(import_provider_ok("azure_ad2"));
    assert_false(import_provider_ok(""));
    assert_false(import_provider_ok("azure-ad"));
    assert_false(import_provider_ok("Google"));
    assert_false(import_provider_ok("abcdefghijklmnopqrstuvwxyz0123456"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_line), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_times),     cmocka_unit_test(test_base32),
        cmocka_unit_test(test_providers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
