/* Unit tests for src/http/framing.c: the raw header-block scanner and the
 * parsed-header checks (issue 9 item 6). */
#include "testutil.h"

#include "http/framing.h"

#define H "POST /v1/signup HTTP/1.1\r\nHost: x\r\n"

static enum framing_verdict check(const char *s)
{
    size_t used = 0;
    return framing_check(s, strlen(s), &used);
}

/* The same bytes one at a time give the same verdict. */
static enum framing_verdict check_bytewise(const char *s)
{
    struct framing_scan sc;
    framing_scan_init(&sc);
    enum framing_verdict v = FRAMING_MORE;
    for (size_t i = 0; s[i] && v == FRAMING_MORE; i++)
        v = framing_scan_feed(&sc, s + i, 1, NULL);
    return v;
}

static void expect(const char *s, enum framing_verdict want)
{
    if (check(s) != want || check_bytewise(s) != want)
        fail_msg("\"%s\": got %d/%d, want %d", s, check(s), check_bytewise(s), want);
}

static void test_accepts_wellformed(void **state)
{
    expect("GET / HTTP/1.1\r\nHost: x\r\n\r\n", FRAMING_DONE);
    expect("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", FRAMING_DONE); /* RFC 9112 2.2 */
    expect(H "Content-Length: 12\r\n\r\n", FRAMING_DONE);
    expect(H "content-length:\t0 \r\n\r\n", FRAMING_DONE);
    expect(H "Content-Lengthy: +1\r\n\r\n", FRAMING_DONE); /* another header */
    expect(H "X-A: tab\tinside and obs-text \xc3\xa9\r\n\r\n", FRAMING_DONE);
    expect(H "X-Empty:\r\n\r\n", FRAMING_DONE);
    expect("GET / HTTP/1.1\r\nHost: x\r\n", FRAMING_MORE);
    size_t used = 0;
    const char two[] = "GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    assert_int_equal(framing_check(two, sizeof two - 1, &used), FRAMING_DONE);
    assert_int_equal(used, strlen("GET / HTTP/1.1\r\n\r\n")); /* stops at the block's end */
}

static void test_rejects_lenient_forms(void **state)
{
    expect(H "Transfer-Encoding : chunked\r\n\r\n", FRAMING_REJECT);
    expect(H "Transfer-Encoding\t: chunked\r\n\r\n", FRAMING_REJECT);
    expect(H "X Y: z\r\n\r\n", FRAMING_REJECT);
    expect(H "X/Y: z\r\n\r\n", FRAMING_REJECT);
    expect(H ": x\r\n\r\n", FRAMING_REJECT);
    expect(H "Content-Length: +2\r\n\r\n", FRAMING_REJECT);
    expect(H "Content-Length: -1\r\n\r\n", FRAMING_REJECT);
    expect(H "Content-Length: 2, 2\r\n\r\n", FRAMING_REJECT);
    expect(H "Content-Length: 0x2\r\n\r\n", FRAMING_REJECT);
    expect(H "Content-Length: 1 2\r\n\r\n", FRAMING_REJECT);
    expect(H "Content-Length: \r\n\r\n", FRAMING_REJECT);
    expect(H "X-A: b\nX-B: c\r\n\r\n", FRAMING_REJECT);        /* bare LF */
    expect("GET / HTTP/1.1\nHost: x\r\n\r\n", FRAMING_REJECT); /* bare LF, request line */
    expect("GET / HTTP/1.1\r\nHost: x\r\n\n", FRAMING_REJECT); /* bare LF, blank line */
    expect(H "X-A: b\r\n c\r\n\r\n", FRAMING_REJECT);          /* obsolete folding */
    expect(H "X-A: b\r\n\tc\r\n\r\n", FRAMING_REJECT);
    expect(H "X-A: b\rc\r\n\r\n", FRAMING_REJECT); /* bare CR */
    expect(H "X-A: b\x01c\r\n\r\n", FRAMING_REJECT);
    expect(H "X-A: bbbbbbbbbbbbbbbbbbbbbb\x7f\r\n\r\n", FRAMING_REJECT);
    expect("GET /a\tb HTTP/1.1\r\n\r\n", FRAMING_REJECT);
    expect(" GET / HTTP/1.1\r\n\r\n", FRAMING_REJECT);
    const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    assert_int_equal(framing_check(nul, sizeof nul - 1, NULL), FRAMING_REJECT);
}

static void test_parsed_checks(void **state)
{
    assert_true(framing_name_ok("Transfer-Encoding"));
    assert_true(framing_name_ok("x!#$%&'*+-.^_`|~9"));
    assert_false(framing_name_ok("Transfer-Encoding "));
    assert_false(framing_name_ok(""));
    assert_false(framing_name_ok("a:b"));
    assert_false(framing_name_ok("a\tb"));
    assert_true(framing_length_ok("0"));
    assert_true(framing_length_ok("18446744073709551616")); /* digits: libevent judges the size */
    assert_false(framing_length_ok("+2"));
    assert_false(framing_length_ok("-1"));
    assert_false(framing_length_ok(""));
    assert_false(framing_length_ok("1,1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_wellformed),
        cmocka_unit_test(test_rejects_lenient_forms),
        cmocka_unit_test(test_parsed_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
