/* Unit tests for the pure parts of src/sessions/cookie.c: the Cookie header
 * parser, URL origins and the Origin / Sec-Fetch-Site rule. */
#include "testutil.h"

#include "core/config.h"
#include "sessions/cookie.h"

static int find(const char *hdr, const char *name, char *out, size_t cap)
{
    const char *v;
    size_t n;
    int k = cookie_find(hdr, name, &v, &n);
    out[0] = '\0';
    if (k) {
        assert_non_null(v);
        assert_true(n < cap);
        memcpy(out, v, n);
        out[n] = '\0';
    } else {
        assert_null(v);
        assert_int_equal(n, 0);
    }
    return k;
}

static void test_find(void **state)
{
    (void)state;
    char v[128];
    assert_int_equal(find("a=1; __Host-gh_session=tok; b=2", "__Host-gh_session", v, sizeof v), 1);
    assert_string_equal(v, "tok");
    assert_int_equal(find("__Host-gh_session=tok", "__Host-gh_session", v, sizeof v), 1);
    assert_string_equal(v, "tok");
    assert_int_equal(find("  x = y ;  gh_session = \"q\" ;", "gh_session", v, sizeof v), 1);
    assert_string_equal(v, "q");
    assert_int_equal(find("gh_session=", "gh_session", v, sizeof v), 1);
    assert_string_equal(v, "");
    /* names compare exactly: no prefix, suffix or case games */
    assert_int_equal(find("xgh_session=1; gh_sessionx=2; GH_SESSION=3", "gh_session", v, sizeof v),
                     0);
    assert_int_equal(find("__Host-gh_session=1", "gh_session", v, sizeof v), 0);
    /* a value containing the name is not a second cookie */
    assert_int_equal(find("a=gh_session=2; gh_session=1", "gh_session", v, sizeof v), 1);
    assert_string_equal(v, "1");
    /* twice: counted, the first one described */
    assert_int_equal(find("gh_session=1; gh_session=2; gh_session=3", "gh_session", v, sizeof v),
                     2);
    assert_string_equal(v, "1");
    /* no '=' is not a cookie of that name */
    assert_int_equal(find("gh_session; a=1", "gh_session", v, sizeof v), 0);
    assert_int_equal(find("", "gh_session", v, sizeof v), 0);
    assert_int_equal(find(";;; ;", "gh_session", v, sizeof v), 0);
    assert_int_equal(find(NULL, "gh_session", v, sizeof v), 0);
    assert_int_equal(find("=1", "", v, sizeof v), 0);
    /* a lone quote is kept as is (and then fails the token shape check) */
    assert_int_equal(find("gh_session=\"", "gh_session", v, sizeof v), 1);
    assert_string_equal(v, "\"");
}

static void origin_is(const char *url, const char *want)
{
    char out[COOKIE_ORIGIN_MAX + 1];
    if (!want) {
        assert_false(cookie_origin_of(url, out, sizeof out));
        return;
    }
    assert_true(cookie_origin_of(url, out, sizeof out));
    assert_string_equal(out, want);
}

/* A cookie domain adds Domain= to every name but a __Host- one (a browser
 * refuses a __Host- cookie with a Domain). No cookie_init: not Secure. */
static void test_format_domain(void **state)
{
    (void)state;
    char v[COOKIE_HEADER_MAX];
    gh_cfg.cookie_domain[0] = '\0';
    cookie_format(v, sizeof v, "gh_session", "t", 60, true);
    assert_string_equal(v, "gh_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
    snprintf(gh_cfg.cookie_domain, sizeof gh_cfg.cookie_domain, "example.com");
    cookie_format(v, sizeof v, "gh_session", "t", 60, true);
    assert_string_equal(
        v, "gh_session=t; Path=/; Max-Age=60; Domain=example.com; HttpOnly; SameSite=Lax");
    cookie_format(v, sizeof v, "__Host-gh_csrf", "", 0, false);
    assert_string_equal(v, "__Host-gh_csrf=; Path=/; Max-Age=0; SameSite=Lax");
    assert_null(cookie_legacy_session_name()); /* not Secure: no __Host- names to read */
    gh_cfg.cookie_domain[0] = '\0';
}

static void test_origin_of(void **state)
{
    (void)state;
    origin_is("https://auth.example.com", "https://auth.example.com");
    origin_is("https://auth.example.com/", "https://auth.example.com");
    origin_is("HTTPS://Auth.Example.COM:443/base/path?q#f", "https://auth.example.com");
    origin_is("https://auth.example.com:8443/x", "https://auth.example.com:8443");
    origin_is("http://127.0.0.1:80", "http://127.0.0.1");
    origin_is("http://127.0.0.1:8080", "http://127.0.0.1:8080");
    origin_is("http://[::1]:8080/", "http://[::1]:8080");
    origin_is("http://[::1]", "http://[::1]");
    origin_is("https://user@auth.example.com", NULL);
    origin_is("ftp://auth.example.com", NULL);
    origin_is("https://", NULL);
    origin_is("https:///path", NULL);
    origin_is("https://a.example:0", NULL);
    origin_is("https://a.example:65536", NULL);
    origin_is("https://a.example:", NULL);
    origin_is("https://a.example:12x", NULL);
    origin_is("https://a exa.example", NULL);
    origin_is("http://[::1", NULL);
    origin_is("http://[::1]x", NULL);
    origin_is("http://a[b.example", NULL);
    origin_is("http://[::g]", NULL);
    origin_is("http://[[::1]]", NULL);
    origin_is(NULL, NULL);
    char small[10];
    assert_false(cookie_origin_of("https://auth.example.com", small, sizeof small));
    assert_string_equal(small, "");
}

static void test_origin_rule(void **state)
{
    (void)state;
    const char *own = "https://auth.example.com";
    /* Origin decides when there is one */
    assert_true(cookie_origin_acceptable(own, own, NULL, false));
    assert_true(cookie_origin_acceptable(own, own, "same-origin", false));
    assert_false(cookie_origin_acceptable(own, "https://evil.example", NULL, false));
    assert_false(cookie_origin_acceptable(own, "null", NULL, false));
    assert_false(cookie_origin_acceptable(own, "https://auth.example.com.evil", NULL, false));
    assert_true(cookie_origin_acceptable(own, "https://app.example.com", "same-site", true));
    assert_true(cookie_origin_acceptable(own, "https://app.example.com", "cross-site", true));
    assert_true(cookie_origin_acceptable(own, "https://app.example.com", NULL, true));
    /* our own origin claiming a cross-site fetch: contradictory, refused */
    assert_false(cookie_origin_acceptable(own, own, "cross-site", false));
    assert_false(cookie_origin_acceptable(own, own, "same-site", false));
    /* Sec-Fetch-Site alone */
    assert_true(cookie_origin_acceptable(own, NULL, "same-origin", false));
    assert_false(cookie_origin_acceptable(own, NULL, "same-site", false));
    assert_false(cookie_origin_acceptable(own, NULL, "cross-site", false));
    assert_false(cookie_origin_acceptable(own, NULL, "none", false));
    assert_false(cookie_origin_acceptable(own, NULL, "Same-Origin", false));
    /* neither: not a browser we can vouch for */
    assert_false(cookie_origin_acceptable(own, NULL, NULL, false));
    /* no own origin (unparsable public URL): only the allowlist */
    assert_false(cookie_origin_acceptable("", "", NULL, false));
    assert_false(cookie_origin_acceptable(NULL, "https://x.example", NULL, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_origin_of),
        cmocka_unit_test(test_origin_rule),
        cmocka_unit_test(test_format_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
