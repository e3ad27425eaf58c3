/* Unit tests for src/core/util.c. */
#include "testutil.h"

#include "core/util.h"

/* ---- base64url ---- */

static void check_encode(const void *in, size_t len, const char *want)
{
    char out[64];
    assert_int_equal(gh_b64url_encode(out, sizeof out, in, len), GH_OK);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), GH_B64URL_LEN(len));
}

static void b64url_encode_vectors(void **state)
{
    (void)state;
    check_encode("", 0, "");
    check_encode("f", 1, "Zg");
    check_encode("fo", 2, "Zm8");
    check_encode("foo", 3, "Zm9v");
    check_encode("foob", 4, "Zm9vYg");
    check_encode("fooba", 5, "Zm9vYmE");
    check_encode("foobar", 6, "Zm9vYmFy");
    /* The URL-safe alphabet: 62 is '-', 63 is '_' (never '+' or '/'). */
    check_encode("\xfb\xff", 2, "-_8");
    check_encode("\xff\xff\xff", 3, "____");
    check_encode("\xfb\xef\xbe", 3, "----");
}

static void b64url_encode_outcap(void **state)
{
    (void)state;
    char out[8];
    /* "foo" needs 4 characters + NUL. */
    memset(out, 'X', sizeof out);
    assert_int_equal(gh_b64url_encode(out, 4, "foo", 3), GH_ERR_INVALID);
    assert_int_equal(gh_b64url_encode(out, 5, "foo", 3), GH_OK);
    assert_string_equal(out, "Zm9v");
    assert_int_equal(gh_b64url_encode(out, 0, "", 0), GH_ERR_INVALID);
    assert_int_equal(gh_b64url_encode(out, 1, "", 0), GH_OK);
    assert_string_equal(out, "");
}

static void b64url_round_trip(void **state)
{
    (void)state;
    uint8_t in[67], back[67];
    char enc[GH_B64URL_LEN(sizeof in) + 1];
    for (size_t len = 0; len <= sizeof in; len++) {
        gh_random(in, sizeof in);
        assert_int_equal(gh_b64url_encode(enc, sizeof enc, in, len), GH_OK);
        assert_int_equal(strlen(enc), GH_B64URL_LEN(len));
        assert_null(strpbrk(enc, "+/="));
        size_t n = 12345;
        assert_int_equal(gh_b64url_decode(back, sizeof back, &n, enc, strlen(enc)), GH_OK);
        assert_int_equal(n, len);
        assert_memory_equal(back, in, len);
    }
}

static void b64url_decode_ok(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 99;
    assert_int_equal(gh_b64url_decode(out, sizeof out, &n, "", 0), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(gh_b64url_decode(out, sizeof out, &n, "-_8", 3), GH_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    /* inlen is honoured: only "Zm9v" of "Zm9vYmFy" is read. */
    assert_int_equal(gh_b64url_decode(out, sizeof out, &n, "Zm9vYmFy", 4), GH_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "foo", 3);
    /* Exactly enough room. */
    assert_int_equal(gh_b64url_decode(out, 3, &n, "Zm9v", 4), GH_OK);
    assert_int_equal(n, 3);
}

static void expect_decode_invalid(const char *in, size_t outcap)
{
    uint8_t out[64];
    size_t n = 777;
    assert_true(outcap <= sizeof out);
    enum gh_err rc = gh_b64url_decode(out, outcap, &n, in, strlen(in));
    if (rc != GH_ERR_INVALID) fail_msg("decode accepted \"%s\" (outcap %zu)", in, outcap);
    assert_int_equal(n, 777); /* untouched on failure */
}

static void b64url_decode_rejects(void **state)
{
    (void)state;
    /* padding */
    expect_decode_invalid("Zg==", 16);
    expect_decode_invalid("Zm8=", 16);
    expect_decode_invalid("=", 16);
    /* standard-alphabet characters */
    expect_decode_invalid("+_8", 16);
    expect_decode_invalid("-/8", 16);
    expect_decode_invalid("ab+c", 16);
    /* trailing garbage / characters outside the alphabet */
    expect_decode_invalid("Zm9v!", 16);
    expect_decode_invalid("Zm9v ", 16);
    expect_decode_invalid(" Zm9v", 16);
    expect_decode_invalid("Zm9v\n", 16);
    expect_decode_invalid("Zm9v.Zm9v", 16);
    /* bad trailing bits: "Zg" is canonical for "f", "Zh".."Zv" are not */
    expect_decode_invalid("Zh", 16);
    expect_decode_invalid("Zv", 16);
    expect_decode_invalid("Zm9", 16);
    expect_decode_invalid("-_9", 16);
    /* bytes outside ASCII are not base64url characters either */
    expect_decode_invalid("\xc3"
                          "A",
                          16);
    expect_decode_invalid("Zm9\xff", 16);
    expect_decode_invalid("\x80"
                          "AAA",
                          16);
    expect_decode_invalid("Zm9vZm\xe9v", 16);
    /* impossible length (one character carries 6 bits, less than a byte) */
    expect_decode_invalid("Z", 16);
    expect_decode_invalid("Zm9vY", 16);
    /* outcap too small */
    expect_decode_invalid("Zm9v", 2);
    expect_decode_invalid("Zm9vYmFy", 5);
    expect_decode_invalid("Zg", 0);
}

static void b64url_decode_embedded_nul(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    assert_int_equal(gh_b64url_decode(out, sizeof out, &n, "Zm\0v", 4), GH_ERR_INVALID);
}

static void random_token_shape(void **state)
{
    (void)state;
    char a[GH_B64URL_LEN(32) + 1], b[GH_B64URL_LEN(32) + 1];
    assert_int_equal(gh_random_token(a, sizeof a, 32), GH_OK);
    assert_int_equal(gh_random_token(b, sizeof b, 32), GH_OK);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    char big[200];
    assert_int_equal(gh_random_token(big, sizeof big, 65), GH_ERR_INVALID);
    assert_int_equal(gh_random_token(a, 10, 32), GH_ERR_INVALID);
}

/* ---- hashing, hex ---- */

static void sha256_and_hex(void **state)
{
    (void)state;
    uint8_t h[GH_SHA256_BYTES];
    char hex[2 * GH_SHA256_BYTES + 1];
    assert_int_equal(gh_sha256(h, "abc", 3), GH_OK);
    gh_hex(hex, h, sizeof h);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(gh_sha256(h, "", 0), GH_OK);
    gh_hex(hex, h, sizeof h);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---- constant-time equality ---- */

static void ct_equal(void **state)
{
    (void)state;
    const char *a = "secret-token-value", *b = "secret-token-value", *c = "secret-token-valuE";
    size_t n = strlen(a);
    assert_true(gh_ct_equal(a, n, b, n));
    assert_false(gh_ct_equal(a, n, c, n));               /* differs in the last byte */
    assert_false(gh_ct_equal("Xecret", 6, "secret", 6)); /* differs in the first byte */
    assert_false(gh_ct_equal(a, n, b, n - 1));           /* length mismatch */
    assert_false(gh_ct_equal(a, n - 1, b, n));
    assert_false(gh_ct_equal(NULL, 0, b, 0)); /* NULL fails closed */
    assert_false(gh_ct_equal(a, 0, NULL, 0));
    assert_false(gh_ct_equal(NULL, 0, NULL, 0));
    assert_false(gh_ct_equal(NULL, n, b, n));
    assert_true(gh_ct_equal(a, 0, c, 0));
}

/* ---- wiping ---- */

static void wipe(void **state)
{
    (void)state;
    char buf[16];
    memset(buf, 'A', sizeof buf);
    gh_wipe(buf + 2, 10);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], (i >= 2 && i < 12) ? 0 : 'A');
    gh_wipe(NULL, 10); /* allowed */
    gh_free_secret_str(NULL);
    char *s = strdup("hunter2hunter2");
    assert_non_null(s);
    gh_free_secret_str(s);
}

/* ---- integers ---- */

static void expect_i64(const char *s, int64_t min, int64_t max, int64_t want)
{
    int64_t v = -4242;
    if (gh_parse_i64(s, min, max, &v) != GH_OK) fail_msg("rejected \"%s\"", s);
    assert_int_equal(v, want);
}

static void expect_i64_invalid(const char *s, int64_t min, int64_t max)
{
    int64_t v = -4242;
    if (gh_parse_i64(s, min, max, &v) != GH_ERR_INVALID)
        fail_msg("accepted \"%s\"", s ? s : "(null)");
    assert_int_equal(v, -4242);
}

static void parse_i64(void **state)
{
    (void)state;
    expect_i64("0", 0, 10, 0);
    expect_i64("-0", 0, 10, 0);
    expect_i64("10", 0, 10, 10);
    expect_i64("007", 0, 10, 7);
    expect_i64("-5", -5, 5, -5);
    expect_i64("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX);
    expect_i64("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN);
    /* bounds are inclusive, and one past is out */
    expect_i64_invalid("11", 0, 10);
    expect_i64_invalid("-1", 0, 10);
    expect_i64_invalid("-6", -5, 5);
    /* overflow of int64 */
    expect_i64_invalid("9223372036854775808", INT64_MIN, INT64_MAX);
    expect_i64_invalid("-9223372036854775809", INT64_MIN, INT64_MAX);
    expect_i64_invalid("99999999999999999999999", INT64_MIN, INT64_MAX);
    /* junk */
    expect_i64_invalid("", 0, 10);
    expect_i64_invalid(NULL, 0, 10);
    expect_i64_invalid("-", -10, 10);
    expect_i64_invalid("--1", -10, 10);
    expect_i64_invalid("+1", -10, 10);
    expect_i64_invalid(" 1", -10, 10);
    expect_i64_invalid("1 ", -10, 10);
    expect_i64_invalid("1a", -10, 10);
    expect_i64_invalid("0x1", -10, 10);
    expect_i64_invalid("1e1", 0, 100);
    expect_i64_invalid("1.0", 0, 100);
    expect_i64_invalid("1-", -10, 10);
}

/* ---- UTF-8 ---- */

#define U8_OK(lit) assert_true(gh_utf8_valid(lit, sizeof(lit) - 1))
#define U8_BAD(lit) assert_false(gh_utf8_valid(lit, sizeof(lit) - 1))

static void utf8_valid(void **state)
{
    (void)state;
    U8_OK("");
    U8_OK("plain ascii ~\x7f");
    U8_OK("h\xC3\xA9llo");          /* U+00E9 */
    U8_OK("\xC2\x80");              /* U+0080, smallest 2-byte */
    U8_OK("\xDF\xBF");              /* U+07FF */
    U8_OK("\xE0\xA0\x80");          /* U+0800, smallest 3-byte */
    U8_OK("\xE2\x82\xAC");          /* U+20AC euro */
    U8_OK("\xED\x9F\xBF");          /* U+D7FF, just below the surrogates */
    U8_OK("\xEE\x80\x80");          /* U+E000, just above */
    U8_OK("\xEF\xBF\xBF");          /* U+FFFF */
    U8_OK("\xF0\x90\x80\x80");      /* U+10000, smallest 4-byte */
    U8_OK("\xF0\x9F\x94\x92 lock"); /* U+1F512 */
    U8_OK("\xF4\x8F\xBF\xBF");      /* U+10FFFF, the last code point */
    /* len is honoured: the invalid byte after it is not read */
    assert_true(gh_utf8_valid("ab\xFF", 2));
}

static void utf8_invalid(void **state)
{
    (void)state;
    U8_BAD("\xC0\xAF");                 /* overlong '/' */
    U8_BAD("\xC1\xBF");                 /* overlong */
    U8_BAD("\xE0\x80\xAF");             /* overlong 3-byte */
    U8_BAD("\xE0\x9F\xBF");             /* overlong U+07FF */
    U8_BAD("\xF0\x80\x80\xAF");         /* overlong 4-byte */
    U8_BAD("\xF0\x8F\xBF\xBF");         /* overlong U+FFFF */
    U8_BAD("\xED\xA0\x80");             /* U+D800 surrogate */
    U8_BAD("\xED\xBF\xBF");             /* U+DFFF surrogate */
    U8_BAD("\xED\xA0\xBD\xED\xB8\x80"); /* CESU-8 pair */
    U8_BAD("\xF4\x90\x80\x80");         /* U+110000 */
    U8_BAD("\xF5\x80\x80\x80");
    U8_BAD("\xF7\xBF\xBF\xBF");
    U8_BAD("\xF8\x88\x80\x80\x80"); /* 5-byte form */
    U8_BAD("\xFE");
    U8_BAD("\xFF");
    U8_BAD("\x80"); /* lone continuation */
    U8_BAD("a\xBF");
    U8_BAD("\xC3"); /* truncated */
    U8_BAD("\xE2\x82");
    U8_BAD("\xF0\x9F\x94");
    U8_BAD("\xE2\x82 x"); /* continuation replaced */
    U8_BAD("\xC3\x28");
    U8_BAD("a\0b"); /* NUL */
    U8_BAD("\0");
    /* a valid sequence cut by len */
    assert_false(gh_utf8_valid("\xE2\x82\xAC", 2));
}

/* ---- time ---- */

static void rfc3339(void **state)
{
    (void)state;
    char out[GH_RFC3339_LEN + 1];
    gh_rfc3339(out, 0);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    gh_rfc3339(out, 951782400);
    assert_string_equal(out, "2000-02-29T00:00:00Z");
    gh_rfc3339(out, 1700000000);
    assert_string_equal(out, "2023-11-14T22:13:20Z");
    gh_rfc3339(out, 4102444799);
    assert_string_equal(out, "2099-12-31T23:59:59Z");
    assert_int_equal(strlen(out), GH_RFC3339_LEN);
}

static void rfc3339_always_terminated(void **state)
{
    (void)state;
    /* Out-of-range times must not leave the buffer unterminated (callers
     * hand it to json_string / printf). Year 10000 needs 21 characters. */
    char out[GH_RFC3339_LEN + 1 + 8];
    const int64_t ts[] = {253402300799, 253402300800, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        memset(out, 'X', sizeof out);
        gh_rfc3339(out, ts[i]);
        if (strnlen(out, GH_RFC3339_LEN + 1) > GH_RFC3339_LEN)
            fail_msg("gh_rfc3339(%lld) left the buffer unterminated", (long long)ts[i]);
    }
    gh_rfc3339(out, 253402300799);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
}

static void clocks(void **state)
{
    (void)state;
    int64_t s = gh_now_s(), us = gh_now_us();
    assert_true(s > 1700000000);
    assert_true(us / 1000000 - s <= 1 && us / 1000000 - s >= 0);
    int64_t m1 = gh_mono_us(), m2 = gh_mono_us();
    assert_true(m2 >= m1);
}

/* Real UTC times only: what timegm would move to another date is refused. */
static void utc_time(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_true(gh_utc_time(1970, 1, 1, 0, 0, 0, &t));
    assert_int_equal(t, 0);
    assert_true(gh_utc_time(2024, 2, 29, 23, 59, 59, &t));
    assert_int_equal(t, 1709251199);
    t = 7;
    assert_false(gh_utc_time(2023, 2, 29, 0, 0, 0, &t)); /* not a leap year */
    assert_false(gh_utc_time(2024, 13, 1, 0, 0, 0, &t));
    assert_false(gh_utc_time(2024, 4, 31, 0, 0, 0, &t));
    assert_false(gh_utc_time(2024, 1, 0, 0, 0, 0, &t));
    assert_false(gh_utc_time(2024, 1, 1, 24, 0, 0, &t));
    assert_false(gh_utc_time(2024, 1, 1, 0, 60, 0, &t));
    assert_false(gh_utc_time(2024, 1, 1, 0, 0, 60, &t));
    assert_int_equal(t, 7); /* left alone when refused */
}

static void err_names(void **state)
{
    (void)state;
    assert_string_equal(gh_err_name(GH_OK), "ok");
    assert_string_equal(gh_err_name(GH_ERR_CONFLICT), "conflict");
    assert_string_equal(gh_err_name(GH_ERR_DENIED), "denied");
    assert_non_null(gh_err_name((enum gh_err)99));
}

static void unhex_every_byte(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(gh_unhex(out, 4, "00Ff9a5B", 8), GH_OK);
    assert_int_equal(out[0], 0x00);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0x9a);
    assert_int_equal(out[3], 0x5b);
    /* every byte, in either place of a pair, against a plain reference */
    for (int c = 0; c < 256; c++) {
        bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        int v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        char in[3] = {(char)c, '7', 0};
        uint8_t o = 0;
        assert_int_equal(gh_unhex(&o, 1, in, 2), digit ? GH_OK : GH_ERR_INVALID);
        if (digit) assert_int_equal(o, v << 4 | 7);
        in[0] = 'e';
        in[1] = (char)c;
        assert_int_equal(gh_unhex(&o, 1, in, 2), digit ? GH_OK : GH_ERR_INVALID);
        if (digit) assert_int_equal(o, 0xe0 | v);
    }
    assert_int_equal(gh_unhex(out, 4, "00ff9a5", 7), GH_ERR_INVALID);
    assert_int_equal(gh_unhex(out, 2, "00ff9a5b", 8), GH_ERR_INVALID);
}

/* Percent-encoding for query values: unreserved kept, the keep set kept,
 * every other byte %XX; a value that does not fit is false, out ends at
 * the last whole character and stays terminated. */
static void pct_append(void **state)
{
    (void)state;
    char out[32];
    size_t o = 0;
    assert_true(gh_pct_append(out, sizeof out, &o, "a b/c:~\xc3\xa9", NULL));
    assert_string_equal(out, "a%20b%2Fc%3A~%C3%A9");
    assert_int_equal(o, strlen(out));
    o = 0;
    assert_true(gh_pct_append(out, sizeof out, &o, "https://x/y?z", "/:"));
    assert_string_equal(out, "https://x/y%3Fz");
    o = 3;
    memcpy(out, "rd=", 3);
    assert_true(gh_pct_append(out, sizeof out, &o, "&", NULL));
    assert_string_equal(out, "rd=%26");
    char small[6];
    o = 0;
    assert_false(gh_pct_append(small, sizeof small, &o, "ab cd", NULL));
    assert_string_equal(small, "ab%20"); /* "c" no longer fits */
    o = 0;
    assert_false(gh_pct_append(small, 0, &o, "a", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_encode_vectors),
        cmocka_unit_test(b64url_encode_outcap),
        cmocka_unit_test(b64url_round_trip),
        cmocka_unit_test(b64url_decode_ok),
        cmocka_unit_test(b64url_decode_rejects),
        cmocka_unit_test(b64url_decode_embedded_nul),
        cmocka_unit_test(random_token_shape),
        cmocka_unit_test(sha256_and_hex),
        cmocka_unit_test(unhex_every_byte),
        cmocka_unit_test(ct_equal),
        cmocka_unit_test(wipe),
        cmocka_unit_test(parse_i64),
        cmocka_unit_test(utf8_valid),
        cmocka_unit_test(utf8_invalid),
        cmocka_unit_test(rfc3339),
        cmocka_unit_test(rfc3339_always_terminated),
        cmocka_unit_test(clocks),
        cmocka_unit_test(utc_time),
        cmocka_unit_test(err_names),
        cmocka_unit_test(pct_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
