/* Unit tests for src/guard/proxy.c: trusted-proxy lists and the client
 * address from X-Forwarded-For / Forwarded. */
#include "testutil.h"

#include "guard/proxy.h"

static struct proxy_cidr cidrs[PROXY_MAX_CIDRS];
static int n;

static void trust(const char *spec)
{
    char err[256];
    assert_int_equal(proxy_parse_cidrs(spec, cidrs, PROXY_MAX_CIDRS, &n, err, sizeof err), GH_OK);
}

static void expect(const char *peer, const char *xff, const char *fwd, const char *want)
{
    char out[64];
    proxy_client_ip(peer, xff, fwd, cidrs, n, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_parse(void **state)
{
    (void)state;
    char err[256];
    trust("10.0.0.0/8, 192.168.1.7 ::1 2001:db8::/32");
    assert_int_equal(n, 4);
    assert_true(proxy_trusted("10.200.3.4", cidrs, n));
    assert_false(proxy_trusted("11.0.0.1", cidrs, n));
    assert_true(proxy_trusted("192.168.1.7", cidrs, n));
    assert_false(proxy_trusted("192.168.1.8", cidrs, n));
    assert_true(proxy_trusted("::1", cidrs, n));
    assert_true(proxy_trusted("2001:db8:ffff::1", cidrs, n));
    assert_true(proxy_trusted("::ffff:10.1.1.1", cidrs, n)); /* mapped v4 */
    assert_false(proxy_trusted("not an ip", cidrs, n));
    trust("");
    assert_int_equal(n, 0);
    const char *bad[] = {"10.0.0.0/33", "1.2.3",       "10.0.0.0/-1",
                         "::1/129",     "example.com", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(proxy_parse_cidrs(bad[i], cidrs, PROXY_MAX_CIDRS, &n, err, sizeof err),
                         GH_ERR_CONFIG);
        assert_non_null(strstr(err, "GATEHOUSE_TRUSTED_PROXIES"));
    }
    trust("10.1.0.0/17");
    assert_true(proxy_trusted("10.1.127.255", cidrs, n));
    assert_false(proxy_trusted("10.1.128.0", cidrs, n));
}

static void test_client_ip(void **state)
{
    (void)state;
    trust("10.0.0.0/8");
    /* an untrusted peer is the client whatever it claims */
    expect("203.0.113.5", "1.2.3.4", "for=1.2.3.4", "203.0.113.5");
    /* behind one trusted proxy: the right-most hop */
    expect("10.0.0.2", "198.51.100.7", NULL, "198.51.100.7");
    /* a client prepending a forged hop does not get it used */
    expect("10.0.0.2", "1.2.3.4, 198.51.100.7", NULL, "198.51.100.7");
    /* two trusted proxies in a row */
    expect("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.9.9.9", NULL, "198.51.100.7");
    /* every hop trusted: the left-most */
    expect("10.0.0.2", "10.1.1.1, 10.2.2.2", NULL, "10.1.1.1");
    /* unreadable hop: the last trusted address */
    expect("10.0.0.2", "198.51.100.7, junk", NULL, "10.0.0.2");
    expect("10.0.0.2", "", NULL, "10.0.0.2");
    expect("10.0.0.2", NULL, NULL, "10.0.0.2");
    /* Forwarded wins over X-Forwarded-For, with quoting, ports and v6 */
    expect("10.0.0.2", "9.9.9.9", "for=192.0.2.60;proto=https", "192.0.2.60");
    expect("10.0.0.2", NULL, "for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17");
    expect("10.0.0.2", NULL, "For=192.0.2.1:8080, for=10.3.3.3", "192.0.2.1");
    expect("10.0.0.2", NULL, "for=unknown", "10.0.0.2");
    /* mapped and spelled-out forms come out canonical */
    expect("::ffff:10.0.0.2", "::FFFF:198.51.100.7", NULL, "198.51.100.7");
    expect("203.0.113.5", NULL, NULL, "203.0.113.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_client_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
