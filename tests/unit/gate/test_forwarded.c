/* Unit tests for src/gate/forwarded.c: the original request a proxy
 * reports to /v1/verify, in both header families, and the path forms that
 * must be refused because a proxy or an upstream could read them two
 * ways. */
#include "testutil.h"

#include "gate/forwarded.h"

static enum fwd_result caddy(const char *method, const char *proto, const char *host,
                             const char *uri, struct fwd_request *out)
{
    struct fwd_input in = {
        .fwd_method = method, .fwd_proto = proto, .fwd_host = host, .fwd_uri = uri};
    return forwarded_parse(&in, out);
}

static enum fwd_result nginx(const char *method, const char *url, struct fwd_request *out)
{
    struct fwd_input in = {.orig_method = method, .orig_url = url};
    return forwarded_parse(&in, out);
}

static void test_caddy_family(void **state)
{
    (void)state;
    static struct fwd_request r;
    assert_int_equal(caddy("GET", "https", "App.Example.COM", "/admin/x?y=1&z=%41", &r), FWD_OK);
    assert_string_equal(r.method, "GET");
    assert_true(r.https);
    assert_string_equal(r.host, "app.example.com");
    assert_string_equal(r.authority, "app.example.com");
    assert_string_equal(r.path, "/admin/x");
    assert_int_equal(r.path_len, 8);
    assert_string_equal(r.url, "https://app.example.com/admin/x?y=1&z=%41");
    assert_false(r.nginx);

    assert_int_equal(caddy("DELETE", "HTTP", "localhost:8080", "/", &r), FWD_OK);
    assert_false(r.https);
    assert_string_equal(r.host, "localhost");
    assert_string_equal(r.authority, "localhost:8080");
    assert_string_equal(r.url, "http://localhost:8080/");

    assert_int_equal(caddy("GET", "https", "[::1]:8443", "/x", &r), FWD_OK);
    assert_string_equal(r.host, "[::1]");
    assert_string_equal(r.authority, "[::1]:8443");
}

static void test_nginx_family(void **state)
{
    (void)state;
    static struct fwd_request r;
    assert_int_equal(nginx("POST", "https://app.example.com:8443/a/%7Eb?q", &r), FWD_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.host, "app.example.com");
    assert_string_equal(r.authority, "app.example.com:8443");
    assert_string_equal(r.path, "/a/~b");
    assert_string_equal(r.url, "https://app.example.com:8443/a/%7Eb?q");
    assert_true(r.nginx);
}

static void test_missing(void **state)
{
    (void)state;
    static struct fwd_request r;
    struct fwd_input none = {0};
    assert_int_equal(forwarded_parse(&none, &r), FWD_MISSING);
    assert_int_equal(caddy("GET", NULL, "app.example.com", "/", &r), FWD_MISSING);
    assert_int_equal(caddy("GET", "https", NULL, "/", &r), FWD_MISSING);
    assert_int_equal(caddy("GET", "https", "app.example.com", NULL, &r), FWD_MISSING);
    assert_int_equal(caddy(NULL, "https", "app.example.com", "/", &r), FWD_MISSING);
    assert_int_equal(nginx(NULL, "https://app.example.com/", &r), FWD_MISSING);
    assert_int_equal(nginx("GET", NULL, &r), FWD_MISSING);
}

static void test_mixed_families_refused(void **state)
{
    (void)state;
    static struct fwd_request r;
    struct fwd_input in = {.fwd_method = "GET",
                           .fwd_proto = "https",
                           .fwd_host = "a.example.com",
                           .fwd_uri = "/public",
                           .orig_url = "https://a.example.com/admin"};
    assert_int_equal(forwarded_parse(&in, &r), FWD_INVALID);
    struct fwd_input in2 = {
        .orig_method = "GET", .orig_url = "https://a.example.com/x", .fwd_uri = "/y"};
    assert_int_equal(forwarded_parse(&in2, &r), FWD_INVALID);
    /* Proto and Host beside X-Original-URL are only ignored. */
    struct fwd_input in3 = {.orig_method = "GET",
                            .orig_url = "https://a.example.com/x",
                            .fwd_proto = "http",
                            .fwd_host = "evil.com"};
    assert_int_equal(forwarded_parse(&in3, &r), FWD_OK);
    assert_string_equal(r.host, "a.example.com");
    assert_true(r.https);
}

static const char *const bad_uris[] = {
    "",       "admin",   "//evil.com/", "/a//b",       "/a/./b",       "/a/../b",
    "/..",    "/.",      "/a/.",        "/a/%2e%2e/b", "/a/%2E/b",     "/a/.%2e",
    "/a%2fb", "/a%2Fb",  "/a%5cb",      "/a\\b",       "/a%00b",       "/a%0ab",
    "/a%7fb", "/a%2561", "/a%",         "/a%4",        "/a%zz",        "/admin;jsessionid=1",
    "/a b",   "/a\tb",   "/a#frag",     "/a?b#c",      "/caf\xc3\xa9", "/a\x7f",
    "/a%3bb", "/a%3B",
};

static void test_bad_paths(void **state)
{
    (void)state;
    static struct fwd_request r;
    for (size_t i = 0; i < sizeof bad_uris / sizeof bad_uris[0]; i++) {
        enum fwd_result res = caddy("GET", "https", "app.example.com", bad_uris[i], &r);
        if (res != FWD_INVALID) fail_msg("accepted %s", bad_uris[i]);
    }
}

static const char *const bad_hosts[] = {
    "",
    "user@app.example.com",
    "app.example.com.",
    ".app.example.com",
    "a..b",
    "app_x.example.com",
    "app.example.com:",
    "app.example.com:0",
    "a:65536",
    "a:08080",
    "[::1",
    "[zz::1]",
    "a b",
    "-a.example.com",
    "a-.example.com",
    "app.example.com/x",
};

static void test_bad_hosts(void **state)
{
    (void)state;
    static struct fwd_request r;
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++)
        if (caddy("GET", "https", bad_hosts[i], "/", &r) != FWD_INVALID)
            fail_msg("accepted host %s", bad_hosts[i]);
    assert_int_equal(caddy("get", "https", "a.example.com", "/", &r), FWD_INVALID);
    assert_int_equal(caddy("GET", "ftp", "a.example.com", "/", &r), FWD_INVALID);
    assert_int_equal(caddy("G ET", "https", "a.example.com", "/", &r), FWD_INVALID);
}

static const char *const bad_urls[] = {
    "/relative/path",            /* a path alone: decided to refuse (see the header) */
    "https://app.example.com",   /* no path */
    "https://app.example.com?x", /* no path */
    "https://a@evil.com/",       /* userinfo */
    "https://evil.com\\@app.example.com/",
    "javascript://app.example.com/",
    "https:/app.example.com/",
    "https:///app.example.com/",
    "https://app.example.com//evil.com",
    "https://app.example.com/a/../b",
};

static void test_bad_nginx_urls(void **state)
{
    (void)state;
    static struct fwd_request r;
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++)
        if (nginx("GET", bad_urls[i], &r) != FWD_INVALID) fail_msg("accepted %s", bad_urls[i]);
}

static void test_path_normal_form(void **state)
{
    (void)state;
    char out[64];
    size_t n = 0;
    assert_true(forwarded_path("/%61dmin/%7e%2D%5F%2e", 21, out, sizeof out, &n));
    assert_string_equal(out, "/admin/~-_.");
    assert_true(forwarded_path("/a%20b%3f?x=/../", 16, out, sizeof out, &n));
    assert_string_equal(out, "/a%20b%3F");
    /* the characters a path may hold as they are: decoded like unreserved
     * ones, so "/%40admin" meets a rule written "/@admin" */
    assert_true(
        forwarded_path("/%40admin/%3a%21%24%26%27%28%29%2a%2b%2c%3d", 43, out, sizeof out, &n));
    assert_string_equal(out, "/@admin/:!$&'()*+,=");
    assert_true(forwarded_path("/%5b%5d%22", 10, out, sizeof out, &n)); /* others: kept */
    assert_string_equal(out, "/%5B%5D%22");
    assert_true(forwarded_path("/a/", 3, out, sizeof out, &n));
    assert_string_equal(out, "/a/");
    assert_true(forwarded_path("/...", 4, out, sizeof out, &n)); /* not a dot segment */
    assert_false(forwarded_path("/abcdef", 7, out, 4, &n));      /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caddy_family),   cmocka_unit_test(test_nginx_family),
        cmocka_unit_test(test_missing),        cmocka_unit_test(test_mixed_families_refused),
        cmocka_unit_test(test_bad_paths),      cmocka_unit_test(test_bad_hosts),
        cmocka_unit_test(test_bad_nginx_urls), cmocka_unit_test(test_path_normal_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
