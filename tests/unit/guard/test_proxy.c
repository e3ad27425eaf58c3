/* Unit tests for src/guard/proxy.c: trusted-proxy lists and the client
 * address from X-Forwarded-For / Forwarded. */
#include "testutil.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/config.h"
#include "guard/proxy.h"

static struct proxy_cidr cidrs[PROXY_MAX_CIDRS];
static int n;

static void trust(const char *spec)
{
    char err[256];
    assert_int_equal(proxy_parse_cidrs(spec, cidrs, PROXY_MAX_CIDRS, &n, err, sizeof err), GH_OK);
}

/* The loop's intake: headers as a proxy would pass them (name, value
 * pairs, NULL-terminated), with GATEHOUSE_CLIENT_IP_HEADER = kind. */
static void expect_h(enum proxy_header kind, const char *peer, const char *const *hdrs,
                     const char *want)
{
    struct evkeyvalq h;
    h.tqh_first = NULL;
    h.tqh_last = &h.tqh_first;
    for (int i = 0; hdrs && hdrs[i]; i += 2)
        assert_int_equal(evhttp_add_header(&h, hdrs[i], hdrs[i + 1]), 0);
    memcpy(proxy_cfg.trusted_proxies, cidrs, sizeof cidrs);
    proxy_cfg.ntrusted_proxies = n;
    proxy_cfg.client_ip_header = kind;
    char out[64];
    proxy_request_ip(&h, peer, out, sizeof out);
    evhttp_clear_headers(&h);
    assert_string_equal(out, want);
}

/* One header's value (joined list), as proxy_client_ip takes it. */
static void expect(enum proxy_header kind, const char *peer, const char *value, const char *want)
{
    char out[64];
    struct proxy_input in = {.peer = peer, .value = value, .nvalues = value ? 1 : 0};
    proxy_client_ip(&in, kind, cidrs, n, out, sizeof out);
    assert_string_equal(out, want);
}

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})

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
    const enum proxy_header X = PROXY_XFF, F = PROXY_FORWARDED, R = PROXY_REAL_IP;
    /* an untrusted peer is the client whatever it claims */
    expect(X, "203.0.113.5", "1.2.3.4", "203.0.113.5");
    expect(F, "203.0.113.5", "for=1.2.3.4", "203.0.113.5");
    expect(R, "203.0.113.5", "1.2.3.4", "203.0.113.5");
    /* behind one trusted proxy: the right-most hop */
    expect(X, "10.0.0.2", "198.51.100.7", "198.51.100.7");
    /* a client prepending a forged hop does not get it used */
    expect(X, "10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7");
    /* two trusted proxies in a row */
    expect(X, "10.0.0.2", "1.2.3.4, 198.51.100.7, 10.9.9.9", "198.51.100.7");
    /* every hop trusted: the left-most */
    expect(X, "10.0.0.2", "10.1.1.1, 10.2.2.2", "10.1.1.1");
    /* unreadable hop: the last trusted address */
    expect(X, "10.0.0.2", "198.51.100.7, junk", "10.0.0.2");
    expect(X, "10.0.0.2", "junk, 10.1.1.1", "10.1.1.1");
    expect(X, "10.0.0.2", "", "10.0.0.2");
    expect(X, "10.0.0.2", ",,,", "10.0.0.2");
    expect(X, "10.0.0.2", "198.51.100.7,", "10.0.0.2");
    expect(X, "10.0.0.2", "\"198.51.100.7\"", "10.0.0.2");
    expect(X, "10.0.0.2", "198.51.100.7 203.0.113.1", "10.0.0.2");
    expect(X, "10.0.0.2", NULL, "10.0.0.2");
    /* ports as some proxies write them */
    expect(X, "10.0.0.2", "198.51.100.7:4711", "198.51.100.7");
    expect(X, "10.0.0.2", "[2001:db8::7]:4711", "2001:db8::7");
    expect(X, "10.0.0.2", "[2001:db8::7]x", "10.0.0.2");
    /* Forwarded: quoting, ports, v6, case, obfuscated nodes */
    expect(F, "10.0.0.2", "for=192.0.2.60;proto=https", "192.0.2.60");
    expect(F, "10.0.0.2", "for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17");
    expect(F, "10.0.0.2", "For=192.0.2.1:8080, for=10.3.3.3", "192.0.2.1");
    expect(F, "10.0.0.2", "proto=https;for=192.0.2.1;by=10.0.0.2", "192.0.2.1");
    expect(F, "10.0.0.2", "for=unknown", "10.0.0.2");
    expect(F, "10.0.0.2", "for=_hidden, for=10.3.3.3", "10.3.3.3");
    expect(F, "10.0.0.2", "for=192.0.2.1;for=192.0.2.2", "10.0.0.2"); /* two for= */
    expect(F, "10.0.0.2", "proto=https", "10.0.0.2");
    expect(F, "10.0.0.2", "for=\"192.0.2.1", "10.0.0.2");
    /* a client's quoted comma or stray quote, left of the proxy's element */
    expect(F, "10.0.0.2", "for=6.6.6.6;host=\"a,for=7.7.7.7\", for=198.51.100.7", "198.51.100.7");
    expect(F, "10.0.0.2", "for=\"6.6.6.6, for=198.51.100.7", "198.51.100.7");
    /* X-Real-IP: one address, never a list */
    expect(R, "10.0.0.2", "198.51.100.7", "198.51.100.7");
    expect(R, "10.0.0.2", "[2001:db8::7]:80", "2001:db8::7");
    expect(R, "10.0.0.2", "6.6.6.6, 198.51.100.7", "10.0.0.2");
    expect(R, "10.0.0.2", "junk", "10.0.0.2");
    expect(R, "10.0.0.2", "10.7.7.7", "10.7.7.7"); /* what the proxy says, trusted or not */
    /* mapped and spelled-out forms come out canonical */
    expect(X, "::ffff:10.0.0.2", "::FFFF:198.51.100.7", "198.51.100.7");
    expect(X, "203.0.113.5", NULL, "203.0.113.5");
    expect(X, "::ffff:203.0.113.5", NULL, "203.0.113.5");
}

/* Each documented proxy configuration, with a client sending every
 * forwarding header it likes: the operator's header decides, read from
 * the right; the others are ignored. */
static void test_proxies(void **state)
{
    (void)state;
    trust("127.0.0.1, 10.0.0.0/8");
    const enum proxy_header X = PROXY_XFF, F = PROXY_FORWARDED, R = PROXY_REAL_IP;
    const char *client = "203.0.113.5";
    /* nginx, proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for:
     * the client's own XFF, then its address appended; its Forwarded and
     * X-Real-IP pass through untouched. */
    expect_h(X, "127.0.0.1",
             H("Forwarded", "for=6.6.6.6", "X-Forwarded-For", "7.7.7.7, 203.0.113.5", "X-Real-IP",
               "8.8.8.8"),
             client);
    /* the same with the client's XFF split over two headers, and the
     * proxy's appended in a header of its own */
    expect_h(X, "127.0.0.1",
             H("X-Forwarded-For", "7.7.7.7", "X-Forwarded-For", "9.9.9.9, 203.0.113.5"), client);
    expect_h(X, "127.0.0.1", H("X-Forwarded-For", "7.7.7.7", "X-Forwarded-For", "203.0.113.5"),
             client);
    /* nginx, proxy_set_header X-Real-IP $remote_addr (replaces the
     * client's), operator chose x-real-ip: XFF and Forwarded ignored */
    expect_h(
        R, "127.0.0.1",
        H("X-Real-IP", "203.0.113.5", "X-Forwarded-For", "7.7.7.7", "Forwarded", "for=6.6.6.6"),
        client);
    /* two X-Real-IP (the proxy did not replace the client's): the peer */
    expect_h(R, "127.0.0.1", H("X-Real-IP", "7.7.7.7", "X-Real-IP", "203.0.113.5"), "127.0.0.1");
    expect_h(R, "127.0.0.1", H("X-Forwarded-For", "203.0.113.5"), "127.0.0.1");
    /* nginx, proxy_set_header Forwarded "$proxy_add_forwarded" style:
     * appended element; a client-sent XFF is ignored */
    expect_h(F, "127.0.0.1",
             H("X-Forwarded-For", "7.7.7.7", "Forwarded", "for=6.6.6.6", "Forwarded",
               "for=203.0.113.5;proto=https"),
             client);
    /* Caddy's reverse_proxy default: X-Forwarded-For set to the peer (the
     * client's dropped, as it is not a trusted proxy of Caddy's);
     * Forwarded and X-Real-IP from the client pass through */
    expect_h(X, "127.0.0.1",
             H("X-Forwarded-For", "203.0.113.5", "X-Forwarded-Proto", "https", "Forwarded",
               "for=6.6.6.6", "X-Real-IP", "8.8.8.8"),
             client);
    /* Traefik's default (forwardedHeaders not trusted): X-Forwarded-For
     * and X-Real-Ip set from the peer; the client's Forwarded passes */
    expect_h(
        X, "127.0.0.1",
        H("Forwarded", "for=6.6.6.6", "X-Forwarded-For", "203.0.113.5", "X-Real-Ip", "203.0.113.5"),
        client);
    expect_h(
        R, "127.0.0.1",
        H("Forwarded", "for=6.6.6.6", "X-Forwarded-For", "203.0.113.5", "X-Real-Ip", "203.0.113.5"),
        client);
    /* two trusted hops (a load balancer, then nginx) */
    expect_h(X, "127.0.0.1", H("X-Forwarded-For", "7.7.7.7, 203.0.113.5, 10.0.0.9"), client);
    /* from an untrusted peer nothing counts */
    expect_h(X, "198.51.100.1", H("X-Forwarded-For", "203.0.113.5"), "198.51.100.1");
    expect_h(F, "198.51.100.1", H("Forwarded", "for=203.0.113.5"), "198.51.100.1");
    expect_h(R, "198.51.100.1", H("X-Real-IP", "203.0.113.5"), "198.51.100.1");
    /* no header at all: the proxy is the client */
    expect_h(X, "127.0.0.1", H("Forwarded", "for=6.6.6.6"), "127.0.0.1");
    /* a client-sent XFF longer than what is read: the right end counts */
    static char big[6000];
    memset(big, '7', sizeof big - 1);
    for (size_t i = 1; i < sizeof big - 1; i += 2)
        big[i] = i % 8 == 1 ? ',' : '.';
    expect_h(X, "127.0.0.1", H("X-Forwarded-For", big, "X-Forwarded-For", "203.0.113.5"), client);
    /* ... and when every hop read is trusted, the cut one is not read:
     * here the buffer starts at "0.0.0.10," (of 10.0.0.10), which would
     * read as an untrusted client */
    static char cut[PROXY_VALUE_MAX + 16];
    size_t o = (size_t)snprintf(cut, sizeof cut, "10.0.0.10,");
    for (int i = 0; i < 203; i++)
        o += (size_t)snprintf(cut + o, sizeof cut - o, "10.0.0.10,");
    snprintf(cut + o, sizeof cut - o, "10.0.0.1");
    assert_int_equal(strlen("1.2.3.4,") + strlen(cut) - (PROXY_VALUE_MAX - 1), strlen("1.2.3.4,1"));
    expect_h(X, "127.0.0.1", H("X-Forwarded-For", "1.2.3.4", "X-Forwarded-For", cut), "10.0.0.10");
}

static void test_parse_header(void **state)
{
    (void)state;
    enum proxy_header h;
    assert_int_equal(proxy_parse_header(NULL, &h), GH_OK);
    assert_int_equal(h, PROXY_XFF);
    assert_int_equal(proxy_parse_header("Forwarded", &h), GH_OK);
    assert_int_equal(h, PROXY_FORWARDED);
    assert_int_equal(proxy_parse_header("x-real-ip", &h), GH_OK);
    assert_int_equal(h, PROXY_REAL_IP);
    assert_int_equal(proxy_parse_header("X-Forwarded-For", &h), GH_OK);
    assert_int_equal(h, PROXY_XFF);
    assert_int_equal(proxy_parse_header("x-client-ip", &h), GH_ERR_CONFIG);
    assert_int_equal(proxy_parse_header("", &h), GH_ERR_CONFIG);
}

static void key_is(const char *ip, int prefix, const char *want)
{
    char k[PROXY_KEY_MAX];
    proxy_budget_key(ip, prefix, k);
    assert_string_equal(k, want);
}

/* Per-IP budgets: IPv4 by address (mapped too), IPv6 by prefix. */
static void test_budget_key(void **state)
{
    (void)state;
    key_is("203.0.113.5", 64, "203.0.113.5");
    key_is("::ffff:203.0.113.5", 64, "203.0.113.5");
    key_is("::FFFF:203.0.113.5", 48, "203.0.113.5");
    key_is("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64");
    key_is("2001:db8:1:2::1", 64, "2001:db8:1:2::/64");
    key_is("2001:0db8:0001:0002:ffff::", 64, "2001:db8:1:2::/64");
    key_is("2001:db8:1:3::1", 64, "2001:db8:1:3::/64");
    key_is("2001:db8:1:2ff::1", 60, "2001:db8:1:2f0::/60");
    key_is("2001:db8:1:2::1", 48, "2001:db8:1::/48");
    key_is("2001:db8:abcd:2::1", 32, "2001:db8::/32");
    key_is("2001:db8:1:2::1", 128, "2001:db8:1:2::1");
    key_is("::1", 64, "::/64");
    key_is("not an ip", 64, "not an ip");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),      cmocka_unit_test(test_client_ip),
        cmocka_unit_test(test_proxies),    cmocka_unit_test(test_parse_header),
        cmocka_unit_test(test_budget_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
