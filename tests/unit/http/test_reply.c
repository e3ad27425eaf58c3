/* Reply profiles and extra headers (src/http/reply.c), and the body types
 * a profile accepts (src/http/reqparse.c). No route uses the page profile
 * yet: these pin what it chooses, so that /v1/verify (identity headers,
 * 401/302) and HTML pages (303, forms) need no new fields in gh_req. */
#include "testutil.h"

#include "http/reqparse.h"
#include "http/server.h"

static void test_profiles(void **state)
{
    (void)state;
    const struct gh_profile_info *api = gh_profile_of(GH_PROFILE_API);
    const struct gh_profile_info *page = gh_profile_of(GH_PROFILE_PAGE);
    assert_string_equal(api->csp, "default-src 'none'; frame-ancestors 'none'");
    assert_string_equal(api->body_type, "application/json");
    assert_string_equal(page->csp, "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'");
    assert_string_equal(page->body_type, "application/x-www-form-urlencoded");
    assert_ptr_equal(gh_profile_of(99), api); /* unknown: the API's, the strictest */
    assert_ptr_equal(gh_profile_of(-1), api);

    /* A route declares its profile by its flags; none: the API. */
    struct gh_route rt = {GH_POST, "/x", NULL, R_BODY, NULL, 0};
    assert_int_equal(gh_route_profile(&rt), GH_PROFILE_API);
    rt.flags |= R_PAGE;
    assert_int_equal(gh_route_profile(&rt), GH_PROFILE_PAGE);
    assert_int_equal(gh_route_profile(NULL), GH_PROFILE_API);
}

static void test_body_types(void **state)
{
    (void)state;
    const char *json = gh_profile_of(GH_PROFILE_API)->body_type;
    const char *form = gh_profile_of(GH_PROFILE_PAGE)->body_type;
    assert_true(reqparse_content_type_is("application/json", json));
    assert_true(reqparse_content_type_is(" Application/JSON ; charset=utf-8", json));
    assert_false(reqparse_content_type_is("application/x-www-form-urlencoded", json));
    assert_false(reqparse_content_type_is("application/jsonx", json));
    assert_false(reqparse_content_type_is(NULL, json));
    assert_true(reqparse_content_type_is("application/x-www-form-urlencoded", form));
    assert_true(reqparse_content_type_is("application/x-www-form-urlencoded; charset=UTF-8", form));
    assert_false(reqparse_content_type_is("application/json", form));
    assert_false(reqparse_content_type_is("multipart/form-data; boundary=x", form));
}

static void test_form_body(void **state)
{
    (void)state;
    json_t *o = NULL;
    const char ok[] = "email=a%40b.example&password=c+d%C3%A9&empty=";
    assert_int_equal(reqparse_form_body(ok, sizeof ok - 1, &o), REQPARSE_BODY_OK);
    assert_string_equal(json_string_value(json_object_get(o, "email")), "a@b.example");
    assert_string_equal(json_string_value(json_object_get(o, "password")), "c d\xc3\xa9");
    assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
    json_decref(o);
    assert_int_equal(reqparse_form_body(NULL, 0, &o), REQPARSE_BODY_OK);
    assert_int_equal(json_object_size(o), 0);
    json_decref(o);
    static const char *const bad[] = {
        "a=1&a=2", "a=%00", "a=%zz", "a=%4", "a=1&", "=1", "a", "a=1&&b=2", "a=%ff%fe",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = (json_t *)1;
        assert_int_equal(reqparse_form_body(bad[i], strlen(bad[i]), &o), REQPARSE_BODY_INVALID);
        assert_null(o);
    }
}

static void test_header_ok(void **state)
{
    (void)state;
    assert_true(gh_reply_header_ok("Location", "/v1/pages/signin?next=%2F"));
    assert_true(gh_reply_header_ok("X-Gatehouse-User", "0123abcd"));
    assert_true(gh_reply_header_ok("X-Empty", ""));
    assert_true(gh_reply_header_ok("X-Tab", "a\tb"));
    /* names: a token, 1 to 64 characters */
    assert_false(gh_reply_header_ok("", "x"));
    assert_false(gh_reply_header_ok("X Space", "x"));
    assert_false(gh_reply_header_ok("X:Colon", "x"));
    assert_false(gh_reply_header_ok("X-\r\nInjected", "x"));
    char name[66];
    memset(name, 'a', 65);
    name[65] = '\0';
    assert_false(gh_reply_header_ok(name, "x"));
    name[64] = '\0';
    assert_true(gh_reply_header_ok(name, "x"));
    /* values: no CR, LF or control characters, at most 1024 */
    assert_false(gh_reply_header_ok("Location", "/a\r\nSet-Cookie: x=1"));
    assert_false(gh_reply_header_ok("Location", "/a\nb"));
    assert_false(gh_reply_header_ok("Location", "/a\rb"));
    assert_false(gh_reply_header_ok("Location", "/a\x7f"));
    assert_false(gh_reply_header_ok("Location", "/\xc3\xa9"));
    char value[1026];
    memset(value, 'v', 1025);
    value[1025] = '\0';
    assert_false(gh_reply_header_ok("X-Long", value));
    value[1024] = '\0';
    assert_true(gh_reply_header_ok("X-Long", value));
    /* the headers the server writes itself, in any case */
    static const char *const ours[] = {"Content-Type",
                                       "content-length",
                                       "SET-COOKIE",
                                       "X-Request-Id",
                                       "Content-Security-Policy",
                                       "Cache-Control",
                                       "Access-Control-Allow-Origin",
                                       "Connection"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        assert_false(gh_reply_header_ok(ours[i], "x"));
    assert_false(gh_reply_header_ok(NULL, "x"));
    assert_false(gh_reply_header_ok("X", NULL));
}

static void test_header_list(void **state)
{
    (void)state;
    struct gh_req *r = calloc(1, sizeof *r);
    assert_non_null(r);
    char name[16];
    for (int i = 0; i < GH_REPLY_HEADERS_MAX; i++) {
        snprintf(name, sizeof name, "X-H%d", i);
        assert_int_equal(gh_reply_header(r, name, "v"), GH_OK);
    }
    assert_int_equal(gh_reply_header(r, "X-Ninth", "v"), GH_ERR_INVALID); /* bounded */
    assert_int_equal(r->reply_nhdr, GH_REPLY_HEADERS_MAX);
    assert_string_equal(r->reply_hdr + r->reply_hdr_at[3][0], "X-H3");
    assert_string_equal(r->reply_hdr + r->reply_hdr_at[3][1], "v");

    /* an error reply carries none of them */
    gh_fail(r, GH_E_INTERNAL_ERROR);
    assert_int_equal(r->reply_nhdr, 0);
    assert_string_equal(r->error_code, "internal_error");
    json_decref(r->resp);
    r->resp = NULL;

    /* the byte budget: long values run out of room before the count does */
    memset(r, 0, sizeof *r);
    char value[1025];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    assert_int_equal(gh_reply_header(r, "Location", value), GH_OK);
    assert_int_equal(gh_reply_header(r, "X-A", value), GH_OK);
    assert_int_equal(gh_reply_header(r, "X-B", value), GH_ERR_INVALID);
    assert_int_equal(r->reply_nhdr, 2);
    assert_int_equal(gh_reply_header(r, "X-Bad", "a\r\nb"), GH_ERR_INVALID);
    assert_int_equal(r->reply_nhdr, 2);

    /* a non-JSON body with its type; a JSON reply after it wins */
    char *html = strdup("<p>hi</p>");
    gh_reply_body(r, 200, "text/html; charset=utf-8", html, strlen(html));
    assert_int_equal(r->resp_len, 9);
    assert_string_equal(r->resp_type, "text/html; charset=utf-8");
    gh_reply(r, 303, NULL);
    assert_null(r->resp_text);
    assert_null(r->resp_type);
    assert_int_equal(r->status, 303);
    free(r);
}

/* A page's own cookies (gh_reply_cookie): without cookie_init cookies are
 * not Secure, so names carry no prefix; the session's are refused. */
static void test_reply_cookie(void **state)
{
    (void)state;
    struct gh_req *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(gh_reply_cookie(r, "__Host-gh_form", "v", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "gh_session", "v", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "gh_csrf", "v", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "gh form", "v", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "", "v", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "gh_form", "a;b", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "gh_form", "a\r\nb", 60), GH_ERR_INVALID);
    assert_int_equal(gh_reply_cookie(r, "gh_form", "v", -1), GH_ERR_INVALID);
    assert_int_equal(r->set_cookie_n, 0);
    assert_int_equal(gh_reply_cookie(r, "gh_form", "abc-_9", 7200), GH_OK);
    assert_string_equal(r->set_cookie[0], "gh_form=abc-_9; Path=/; Max-Age=7200; HttpOnly; "
                                          "SameSite=Lax");
    assert_int_equal(gh_reply_cookie(r, "gh_mfa", "", 0), GH_OK);
    assert_int_equal(gh_reply_cookie(r, "gh_more", "x", 1), GH_ERR_INVALID); /* bounded */
    /* kept on an error reply */
    gh_fail(r, GH_E_INTERNAL_ERROR);
    assert_int_equal(r->set_cookie_n, 2);
    json_decref(r->resp);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),    cmocka_unit_test(test_body_types),
        cmocka_unit_test(test_form_body),   cmocka_unit_test(test_header_ok),
        cmocka_unit_test(test_header_list), cmocka_unit_test(test_reply_cookie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
