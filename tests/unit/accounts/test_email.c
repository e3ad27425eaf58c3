/* Unit tests for src/accounts/email.c. */
#include "testutil.h"

#include "accounts/email.h"

static void expect_ok(const char *in, const char *want_email, const char *want_key)
{
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    memset(email, 'X', sizeof email);
    memset(key, 'X', sizeof key);
    if (email_normalize(in, strlen(in), email, key) != GH_OK) fail_msg("rejected \"%s\"", in);
    assert_string_equal(email, want_email);
    assert_string_equal(key, want_key);
}

static void expect_invalid_n(const char *in, size_t len)
{
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(in, len, email, key) != GH_ERR_INVALID)
        fail_msg("accepted \"%.*s\" (%zu bytes)", (int)len, in, len);
}

static void expect_invalid(const char *in)
{
    expect_invalid_n(in, strlen(in));
}

/* "<local>@<domain>" of the given lengths, built from repeated letters. */
static char *make_addr(size_t local, const char *domain)
{
    size_t dl = strlen(domain);
    char *s = malloc(local + 1 + dl + 1);
    assert_non_null(s);
    memset(s, 'a', local);
    s[local] = '@';
    memcpy(s + local + 1, domain, dl + 1);
    return s;
}

static void normal_forms(void **state)
{
    (void)state;
    expect_ok("alice@example.com", "alice@example.com", "alice@example.com");
    /* domain lower-cased in email; everything lower-cased in key */
    expect_ok("Alice.Smith@Example.COM", "Alice.Smith@example.com", "alice.smith@example.com");
    expect_ok("BOB@EXAMPLE.ORG", "BOB@example.org", "bob@example.org");
    /* surrounding whitespace is trimmed */
    expect_ok("  carol@example.com\t\r\n", "carol@example.com", "carol@example.com");
    expect_ok("\n\tDave@Sub.Example.co.uk ", "Dave@sub.example.co.uk", "dave@sub.example.co.uk");
    /* allowed specials in the local part */
    expect_ok("a.b+tag_x-y!#$%&'*/=?^`{|}~@ex-ample.com",
              "a.b+tag_x-y!#$%&'*/=?^`{|}~@ex-ample.com",
              "a.b+tag_x-y!#$%&'*/=?^`{|}~@ex-ample.com");
    /* shortest accepted shape, digits in labels, alphanumeric TLD */
    expect_ok("a@b.co", "a@b.co", "a@b.co");
    expect_ok("x@123.example", "x@123.example", "x@123.example");
    expect_ok("x@mail.xn--p1ai", "x@mail.xn--p1ai", "x@mail.xn--p1ai");
}

static void length_limits(void **state)
{
    (void)state;
    char *s = make_addr(64, "example.com");
    char *want = strdup(s);
    assert_non_null(want);
    expect_ok(s, want, want);
    free(s);
    free(want);
    s = make_addr(65, "example.com"); /* local part > 64 */
    expect_invalid(s);
    free(s);

    /* a domain label of 63 is fine, 64 is not */
    char label[70];
    memset(label, 'd', 63);
    memcpy(label + 63, ".com", strlen(".com") + 1);
    s = make_addr(5, label);
    expect_ok(s, s, s);
    free(s);
    memset(label, 'd', 64);
    memcpy(label + 64, ".com", strlen(".com") + 1);
    s = make_addr(5, label);
    expect_invalid(s);
    free(s);

    /* total: exactly 254 accepted, 255 refused */
    char dom[256];
    /* 64 + 1 + 189 = 254: labels of 60 separated by dots, then ".com" */
    const size_t parts[] = {60, 60, 60};
    size_t p = 0;
    for (size_t i = 0; i < 3; i++) {
        memset(dom + p, 'e', parts[i]);
        p += parts[i];
        dom[p++] = '.';
    }
    memcpy(dom + p, "com", strlen("com") + 1); /* 183 + 3 = 186 */
    assert_int_equal(strlen(dom), 186);
    s = make_addr(64, dom); /* 64 + 1 + 186 = 251 */
    expect_ok(s, s, s);
    free(s);
    memcpy(dom + p, "commm", strlen("commm") + 1); /* 188 -> 253 */
    s = make_addr(64, dom);
    assert_int_equal(strlen(s), 253);
    expect_ok(s, s, s);
    free(s);
    memcpy(dom + p, "commmm", strlen("commmm") + 1); /* 254 */
    s = make_addr(64, dom);
    assert_int_equal(strlen(s), 254);
    expect_ok(s, s, s);
    free(s);
    memcpy(dom + p, "commmmm", strlen("commmmm") + 1); /* 255 */
    s = make_addr(64, dom);
    assert_int_equal(strlen(s), 255);
    expect_invalid(s);
    free(s);

    /* whitespace does not count towards the limit once trimmed */
    memcpy(dom + p, "commmmm", strlen("commmmm") + 1);
    s = make_addr(63, dom); /* 254 */
    size_t l = strlen(s);
    char *padded = malloc(l + 5);
    assert_non_null(padded);
    snprintf(padded, l + 5, "  %s  ", s);
    expect_ok(padded, s, s);
    free(padded);
    free(s);
}

static void rejects_structure(void **state)
{
    (void)state;
    expect_invalid("");
    expect_invalid("   ");
    expect_invalid("alice.example.com");  /* no @ */
    expect_invalid("alice@@example.com"); /* two @ */
    expect_invalid("al@ice@example.com");
    expect_invalid("alice@example.com@");
    expect_invalid("@example.com");        /* empty local */
    expect_invalid("alice@");              /* empty domain */
    expect_invalid(".alice@example.com");  /* leading dot */
    expect_invalid("alice.@example.com");  /* trailing dot */
    expect_invalid("al..ice@example.com"); /* double dot */
    expect_invalid("alice@localhost");     /* domain without dot */
    expect_invalid("alice@examplecom");
    expect_invalid("alice@.example.com"); /* empty label */
    expect_invalid("alice@example..com");
    expect_invalid("alice@example.com.");
    expect_invalid("alice@-example.com"); /* label starts with '-' */
    expect_invalid("alice@example-.com"); /* label ends with '-' */
    expect_invalid("alice@mail.example.co-");
    expect_invalid("alice@mail.-co.uk");
    expect_invalid("alice@example.123"); /* numeric TLD */
    expect_invalid("alice@10.0.0.1");
    expect_invalid("alice@[10.0.0.1]");
    expect_invalid("a@b.c"); /* too short */
}

static void rejects_characters(void **state)
{
    (void)state;
    expect_invalid("ali ce@example.com"); /* space inside */
    expect_invalid("alice@exa mple.com");
    expect_invalid("alice @example.com");
    expect_invalid("alice@ example.com");
    expect_invalid("ali\tce@example.com");
    expect_invalid("\"alice\"@example.com"); /* quoted local parts are not supported */
    expect_invalid("al(ice)@example.com");
    expect_invalid("alice,bob@example.com");
    expect_invalid("alice;@example.com");
    expect_invalid("alice<x>@example.com");
    expect_invalid("alice\\@example.com");
    expect_invalid("alice@exa_mple.com");
    expect_invalid("alice@example.com/x");
    expect_invalid("alice@example.com:25");
    /* non-ASCII */
    expect_invalid("al\xC3\xAF"
                   "ce@example.com");
    expect_invalid("alice@\xC3\xA9xample.com");
    expect_invalid("alice@example.c\xC3\xB3m");
    expect_invalid("\xEF\xBB\xBF"
                   "alice@example.com"); /* BOM */
    /* control characters and NUL */
    expect_invalid("alice\x01@example.com");
    expect_invalid("alice@example.com\x7f");
    expect_invalid_n("alice\0@example.com", 18);
    expect_invalid_n("alice@example.com\0", 18);
    expect_invalid_n("alice@exam\0ple.com", 18);
    expect_invalid_n("\0alice@example.com", 18);
}

static void len_is_honoured(void **state)
{
    (void)state;
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    /* Only the first 17 bytes are the address. */
    assert_int_equal(email_normalize("Alice@Example.comGARBAGE", 17, email, key), GH_OK);
    assert_string_equal(email, "Alice@example.com");
    assert_string_equal(key, "alice@example.com");
}

static void output_is_idempotent(void **state)
{
    (void)state;
    const char *in = "  Mixed.Case+Tag@Sub.EXAMPLE.Com ";
    char e1[STORE_EMAIL_MAX + 1], k1[STORE_EMAIL_MAX + 1];
    char e2[STORE_EMAIL_MAX + 1], k2[STORE_EMAIL_MAX + 1];
    assert_int_equal(email_normalize(in, strlen(in), e1, k1), GH_OK);
    assert_int_equal(email_normalize(e1, strlen(e1), e2, k2), GH_OK);
    assert_string_equal(e1, e2);
    assert_string_equal(k1, k2);
    assert_int_equal(email_normalize(k1, strlen(k1), e2, k2), GH_OK);
    assert_string_equal(e2, k1);
    assert_string_equal(k2, k1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normal_forms),      cmocka_unit_test(length_limits),
        cmocka_unit_test(rejects_structure), cmocka_unit_test(rejects_characters),
        cmocka_unit_test(len_is_honoured),   cmocka_unit_test(output_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
