/* Unit tests for src/guard/cors.c: the origin allowlist. */
#include "testutil.h"

#include "guard/cors.h"

static char list[CORS_MAX_ORIGINS][CORS_ORIGIN_MAX + 1];
static int n;

static void ok(const char *spec, bool production)
{
    char err[256];
    assert_int_equal(
        cors_parse_origins(spec, list, CORS_MAX_ORIGINS, &n, production, err, sizeof err), GH_OK);
}

static void bad(const char *spec, bool production, const char *why)
{
    char err[256] = "";
    assert_int_equal(
        cors_parse_origins(spec, list, CORS_MAX_ORIGINS, &n, production, err, sizeof err),
        GH_ERR_CONFIG);
    assert_int_equal(n, 0);
    if (!strstr(err, why)) fail_msg("%s: \"%s\" lacks \"%s\"", spec, err, why);
}

static bool listed(const char *origin)
{
    return cors_origin_listed(origin, (const char(*)[CORS_ORIGIN_MAX + 1]) list, n);
}

static void test_parse_normalises(void **state)
{
    (void)state;
    ok("HTTPS://App.Example.com:443, http://localhost:5173 http://LOCALHOST:80,"
       "https://[::1]:8443 https://app.example.com",
       false);
    assert_int_equal(n, 4); /* the duplicate is kept once */
    assert_string_equal(list[0], "https://app.example.com");
    assert_string_equal(list[1], "http://localhost:5173");
    assert_string_equal(list[2], "http://localhost");
    assert_string_equal(list[3], "https://[::1]:8443");
    assert_true(listed("https://app.example.com"));
    assert_true(listed("http://localhost:5173"));
    /* browsers send the serialised form; anything else is another origin */
    assert_false(listed("https://app.example.com:443"));
    assert_false(listed("https://app.example.com/"));
    assert_false(listed("http://app.example.com"));
    assert_false(listed("https://evil.app.example.com"));
    assert_false(listed("https://app.example.com.evil.test"));
    assert_false(listed("null"));
    assert_false(listed(""));
    assert_false(listed(NULL));
    ok(NULL, true);
    assert_int_equal(n, 0);
    ok("  ,, ", true);
    assert_int_equal(n, 0);
    ok("https://app.example.com", true);
    assert_int_equal(n, 1);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    bad("*", false, "wildcard");
    bad("https://*.example.com", false, "wildcard");
    bad("null", false, "opaque");
    bad("https://app.example.com/", false, "path");
    bad("https://app.example.com/login", false, "path");
    bad("https://user@app.example.com", false, "user info");
    bad("ftp://app.example.com", false, "https://");
    bad("app.example.com", false, "https://");
    bad("https://", false, "https://");
    bad("https://:443", false, "no host");
    bad("https://app.example.com:0", false, "port");
    bad("https://app.example.com:65536", false, "port");
    bad("https://app.example.com:", false, "port");
    bad("https://app.example.com:44a", false, "port");
    bad("https://app.example.com?x=1", false, "cannot hold");
    bad("https://[::1", false, "IPv6");
    bad("https://[]", false, "IPv6");
    bad("https://[::1]x", false, "cannot hold");
    bad("http://app.example.com", true, "production");
    bad("https://ok.example.com,https://bad.example.com/", false, "bad.example.com");
    char many[40 * 40] = "";
    for (int i = 0; i <= CORS_MAX_ORIGINS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "https://h%d.test ", i);
    bad(many, false, "too many");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_normalises),
        cmocka_unit_test(test_parse_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
