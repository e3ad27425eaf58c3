/* Unit tests for src/pages/form_token.c: the signed form-token cookie of
 * the pages used before sign-in and the field made from it (valid,
 * expired, tampered, a field of another cookie or key, wrong lengths). */
#include "testutil.h"

#include "core/util.h"
#include "pages/form_token.h"

#define NOW 1800000000LL

static struct pages_form_keys keys_a, keys_b;

static int setup(void **state)
{
    (void)state;
    memset(keys_a.cookie, 1, sizeof keys_a.cookie);
    memset(keys_a.field, 2, sizeof keys_a.field);
    memset(keys_b.cookie, 3, sizeof keys_b.cookie);
    memset(keys_b.field, 4, sizeof keys_b.field);
    return 0;
}

/* A cookie expiring at expiry for a nonce of byte fill, and its field. */
static void make(const struct pages_form_keys *k, int64_t expiry, uint8_t fill,
                 char cookie[PAGES_FORM_COOKIE_LEN + 1], char field[PAGES_FORM_TOKEN_LEN + 1])
{
    uint8_t nonce[PAGES_FORM_NONCE_BYTES];
    memset(nonce, fill, sizeof nonce);
    assert_true(pages_form_cookie_make(k, expiry, nonce, cookie));
    assert_int_equal(strlen(cookie), PAGES_FORM_COOKIE_LEN);
    assert_true(pages_form_field_of(k, nonce, field));
    assert_int_equal(strlen(field), PAGES_FORM_TOKEN_LEN);
}

static enum pages_form_result check(const struct pages_form_keys *k, const char *cookie,
                                    const char *field, int64_t now)
{
    return pages_form_check(k, cookie, cookie ? strlen(cookie) : 0, field,
                            field ? strlen(field) : 0, now);
}

static void test_valid(void **state)
{
    (void)state;
    char c[PAGES_FORM_COOKIE_LEN + 1], f[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_a, NOW + PAGES_FORM_TTL_S, 7, c, f);
    assert_int_equal(check(&keys_a, c, f, NOW), PAGES_FORM_OK);
    assert_int_equal(check(&keys_a, c, f, NOW + PAGES_FORM_TTL_S - 1), PAGES_FORM_OK);
    uint8_t nonce[PAGES_FORM_NONCE_BYTES], want[PAGES_FORM_NONCE_BYTES];
    int64_t exp = 0;
    memset(want, 7, sizeof want);
    assert_int_equal(pages_form_cookie_open(&keys_a, c, strlen(c), NOW, nonce, &exp),
                     PAGES_FORM_OK);
    assert_memory_equal(nonce, want, sizeof want);
    assert_int_equal(exp, NOW + PAGES_FORM_TTL_S);
    /* the field is not the cookie, and says nothing a cookie could be made of */
    assert_null(strstr(c, f));
}

static void test_expired(void **state)
{
    (void)state;
    char c[PAGES_FORM_COOKIE_LEN + 1], f[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_a, NOW, 7, c, f);
    assert_int_equal(check(&keys_a, c, f, NOW), PAGES_FORM_EXPIRED);
    assert_int_equal(check(&keys_a, c, f, NOW + 1), PAGES_FORM_EXPIRED);
    assert_int_equal(check(&keys_a, c, f, NOW - 1), PAGES_FORM_OK);
    /* an expiry further off than a cookie of ours can be: refused too */
    make(&keys_a, NOW + PAGES_FORM_TTL_S + 3600, 7, c, f);
    assert_int_equal(check(&keys_a, c, f, NOW), PAGES_FORM_EXPIRED);
    uint8_t nonce[PAGES_FORM_NONCE_BYTES];
    int64_t exp = 5;
    assert_int_equal(pages_form_cookie_open(&keys_a, c, strlen(c), NOW, nonce, &exp),
                     PAGES_FORM_EXPIRED);
    assert_int_equal(exp, 0);
}

static void test_tampered(void **state)
{
    (void)state;
    char c[PAGES_FORM_COOKIE_LEN + 1], f[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_a, NOW + 600, 7, c, f);
    /* every character changed in turn: never accepted */
    for (size_t i = 0; i < PAGES_FORM_COOKIE_LEN; i++) {
        char t[PAGES_FORM_COOKIE_LEN + 1];
        memcpy(t, c, sizeof t);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        enum pages_form_result res = check(&keys_a, t, f, NOW);
        assert_true(res == PAGES_FORM_BAD_COOKIE || res == PAGES_FORM_NO_COOKIE);
    }
    /* a cookie signed under another key */
    char c2[PAGES_FORM_COOKIE_LEN + 1], f2[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_b, NOW + 600, 7, c2, f2);
    assert_int_equal(check(&keys_a, c2, f2, NOW), PAGES_FORM_BAD_COOKIE);
    assert_int_equal(check(&keys_a, c2, f, NOW), PAGES_FORM_BAD_COOKIE);
    /* the field itself is no cookie */
    assert_int_equal(check(&keys_a, f, f, NOW), PAGES_FORM_NO_COOKIE);
}

static void test_field_of_other_cookie(void **state)
{
    (void)state;
    char c1[PAGES_FORM_COOKIE_LEN + 1], f1[PAGES_FORM_TOKEN_LEN + 1];
    char c2[PAGES_FORM_COOKIE_LEN + 1], f2[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_a, NOW + 600, 7, c1, f1);
    make(&keys_a, NOW + 600, 8, c2, f2);
    assert_int_equal(check(&keys_a, c1, f2, NOW), PAGES_FORM_BAD_FIELD);
    assert_int_equal(check(&keys_a, c2, f1, NOW), PAGES_FORM_BAD_FIELD);
    assert_int_equal(check(&keys_a, c1, f1, NOW), PAGES_FORM_OK);
    /* same nonce, another expiry: the same field (the nonce is what counts) */
    char c3[PAGES_FORM_COOKIE_LEN + 1], f3[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_a, NOW + 900, 7, c3, f3);
    assert_string_equal(f1, f3);
    /* a field made under another field key */
    uint8_t nonce[PAGES_FORM_NONCE_BYTES];
    char fb[PAGES_FORM_TOKEN_LEN + 1];
    memset(nonce, 7, sizeof nonce);
    assert_true(pages_form_field_of(&keys_b, nonce, fb));
    assert_int_equal(check(&keys_a, c1, fb, NOW), PAGES_FORM_BAD_FIELD);
    /* the cookie's value sent as the field */
    assert_int_equal(check(&keys_a, c1, c1, NOW), PAGES_FORM_BAD_FIELD);
}

static void test_lengths(void **state)
{
    (void)state;
    char c[PAGES_FORM_COOKIE_LEN + 1], f[PAGES_FORM_TOKEN_LEN + 1];
    make(&keys_a, NOW + 600, 7, c, f);
    assert_int_equal(check(&keys_a, NULL, f, NOW), PAGES_FORM_NO_COOKIE);
    assert_int_equal(check(&keys_a, "", f, NOW), PAGES_FORM_NO_COOKIE);
    assert_int_equal(check(&keys_a, c, NULL, NOW), PAGES_FORM_BAD_FIELD);
    assert_int_equal(check(&keys_a, c, "", NOW), PAGES_FORM_BAD_FIELD);
    /* one character short or long, either side */
    assert_int_equal(
        pages_form_check(&keys_a, c, PAGES_FORM_COOKIE_LEN - 1, f, PAGES_FORM_TOKEN_LEN, NOW),
        PAGES_FORM_NO_COOKIE);
    char longer[PAGES_FORM_COOKIE_LEN + 2];
    snprintf(longer, sizeof longer, "%sA", c);
    assert_int_equal(check(&keys_a, longer, f, NOW), PAGES_FORM_NO_COOKIE);
    assert_int_equal(
        pages_form_check(&keys_a, c, PAGES_FORM_COOKIE_LEN, f, PAGES_FORM_TOKEN_LEN - 1, NOW),
        PAGES_FORM_BAD_FIELD);
    char flonger[PAGES_FORM_TOKEN_LEN + 2];
    snprintf(flonger, sizeof flonger, "%sA", f);
    assert_int_equal(check(&keys_a, c, flonger, NOW), PAGES_FORM_BAD_FIELD);
    /* not base64url */
    char bad[PAGES_FORM_COOKIE_LEN + 1];
    memcpy(bad, c, sizeof bad);
    bad[10] = '.';
    assert_int_equal(check(&keys_a, bad, f, NOW), PAGES_FORM_NO_COOKIE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),    cmocka_unit_test(test_expired),
        cmocka_unit_test(test_tampered), cmocka_unit_test(test_field_of_other_cookie),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
