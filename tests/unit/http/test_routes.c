/* The route table (src/http/routes.c): every route anyone can call
 * without a session spends a per-IP budget on the loop before any work
 * (issue 9, item 2). The only exceptions are routes answered from memory
 * on the event loop, named here: a route added without a budget fails
 * this test until it gets one or is argued onto this list. */
#include "testutil.h"

#include "guard/guard.h"
#include "http/routes.h"

static const struct {
    int method;
    const char *path;
} answered_from_memory[] = {
    {GH_GET, "/healthz"},
    {GH_GET, "/readyz"},
    {GH_GET, "/metrics"},
    {GH_GET, "/.well-known/jwks.json"},
    {GH_GET, "/.well-known/openid-configuration"},
    /* the pages' static parts: the stylesheet, the logo, and fixed
     * messages (/denied only checks its rd, in memory) */
    {GH_GET, "/assets/gatehouse.css"},
    {GH_GET, "/assets/logo"},
    {GH_GET, "/denied"},
    {GH_GET, "/step-up/done"},
    {GH_GET, "/signout/done"},
    /* the link pages' fixed messages, and the forgot-password form (its
     * form token is made in memory) */
    {GH_GET, "/verify-email/done"},
    {GH_GET, "/forgot-password"},
    {GH_GET, "/forgot-password/sent"},
    /* the sign-in and sign-up forms and their fixed messages: a template
     * and at most two HMACs for the form token (pages/form_token.h) */
    {GH_GET, "/signin"},
    {GH_GET, "/signin/mfa"},
    {GH_GET, "/signin/check-email"},
    {GH_GET, "/signup"},
    {GH_GET, "/signup/check-email"},
    {GH_GET, "/account/email/sent"},
    {GH_GET, "/email-change/done"},
    /* the pending-link page: a template and one AES-GCM open of its cookie */
    {GH_GET, "/signin/link"},
};

static bool exempt(const struct gh_route *r)
{
    for (size_t i = 0; i < sizeof answered_from_memory / sizeof answered_from_memory[0]; i++)
        if (r->method == answered_from_memory[i].method &&
            strcmp(r->path, answered_from_memory[i].path) == 0)
            return true;
    return false;
}

static void test_every_open_route_has_a_budget(void **state)
{
    (void)state;
    int open = 0, failures = 0;
    for (size_t i = 0; i < gh_routes_count; i++) {
        const struct gh_route *r = &gh_routes[i];
        /* Without a session these are refused on the loop: a bearer token
         * needs a valid signature there, and a session cookie the cache
         * does not know spends the per-IP refresh budget (guard.c). */
        if (r->flags & R_AUTH) continue;
        open++;
        if (exempt(r)) {
            /* the exemption holds only while they stay on the loop */
            if (!(r->flags & R_LOOP)) {
                fprintf(stderr, "exempt route %s is not answered on the loop\n", r->path);
                failures++;
            }
            continue;
        }
        if (r->guard == GUARD_NONE) {
            fprintf(stderr, "route %s (method %d) has no session and no budget\n", r->path,
                    r->method);
            failures++;
        }
    }
    assert_true(open > 0);
    assert_int_equal(failures, 0);
}

/* The unauthenticated routes that spend a token the issue names, each on
 * its own per-IP rule. */
static void test_named_routes(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        int guard;
    } want[] = {
        {"/v1/magic-link/verify", GUARD_LINK}, {"/v1/email/verify", GUARD_LINK},
        {"/v1/password/reset", GUARD_LINK},    {"/v1/signin/mfa", GUARD_MFA},
        {"/v1/token", GUARD_REFRESH},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < gh_routes_count; i++)
            if (gh_routes[i].method == GH_POST && strcmp(gh_routes[i].path, want[k].path) == 0) {
                assert_int_equal(gh_routes[i].guard, want[k].guard);
                found = true;
            }
        assert_true(found);
    }
}

/* The pages emailed links land on spend their API twins' budgets, the GET
 * that only reads the link too (anyone can call it with made-up tokens). */
static void test_link_pages(void **state)
{
    (void)state;
    static const struct {
        int method;
        const char *path;
        int guard;
    } want[] = {
        {GH_GET, "/magic-link", GUARD_LINK},        {GH_POST, "/magic-link", GUARD_LINK},
        {GH_GET, "/reset-password", GUARD_LINK},    {GH_POST, "/reset-password", GUARD_LINK},
        {GH_GET, "/verify-email", GUARD_LINK},      {GH_POST, "/verify-email", GUARD_LINK},
        {GH_POST, "/forgot-password", GUARD_EMAIL},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < gh_routes_count; i++)
            if (gh_routes[i].method == want[k].method &&
                strcmp(gh_routes[i].path, want[k].path) == 0) {
                assert_int_equal(gh_routes[i].guard, want[k].guard);
                assert_true(gh_routes[i].flags & R_PAGE);
                assert_false(gh_routes[i].flags & R_LOOP); /* a worker reads the store */
                found = true;
            }
        assert_true(found);
    }
}

/* Sign-in with a provider (decision 0036): every route on the
 * per-IP budget; those that call a provider on the network lane; the
 * form_post callback without the form token (a cross-site POST: its state
 * is its CSRF defence) and never behind a session. */
static void test_oauth_routes(void **state)
{
    (void)state;
    static const struct {
        int method;
        const char *path;
        unsigned must, must_not;
    } want[] = {
        {GH_GET, "/v1/oauth/*/start", R_PAGE | R_NET, R_AUTH | R_FORM | R_LOOP},
        {GH_GET, "/v1/oauth/*/callback", R_PAGE | R_NET | R_SIGNIN, R_AUTH | R_FORM | R_LOOP},
        {GH_POST, "/v1/oauth/*/callback", R_PAGE | R_NET | R_SIGNIN | R_BODY,
         R_AUTH | R_FORM | R_LOOP},
        {GH_POST, "/v1/oauth/*/nonce", 0, R_AUTH | R_LOOP | R_PAGE},
        {GH_POST, "/v1/oauth/*/token", R_NET | R_BODY | R_SIGNIN, R_AUTH | R_LOOP | R_PAGE},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < gh_routes_count; i++) {
            const struct gh_route *r = &gh_routes[i];
            if (r->method != want[k].method || strcmp(r->path, want[k].path) != 0) continue;
            assert_int_equal(r->guard, GUARD_OAUTH);
            assert_int_equal(r->flags & want[k].must, want[k].must);
            assert_int_equal(r->flags & want[k].must_not, 0);
            found = true;
        }
        assert_true(found);
    }
}

/* A "*" stands for one whole segment, at the end or in the middle. */
static void test_path_match(void **state)
{
    (void)state;
    char param[GH_PARAM_MAX + 1] = "before";
    static const struct {
        const char *pattern, *path, *param; /* param NULL: no match */
    } cases[] = {
        {"/v1/sessions/*", "/v1/sessions/abc-1_2", "abc-1_2"},
        {"/v1/sessions/*", "/v1/sessions/", NULL},
        {"/v1/sessions/*", "/v1/sessions/a/b", NULL},
        {"/v1/sessions/*", "/v1/sessions/..", NULL},
        {"/v1/sessions/*", "/v1/sessions/%2e", NULL},
        {"/v1/sessions/*", "/v1/sessionsx/a", NULL},
        {"/v1/oauth/*/start", "/v1/oauth/google/start", "google"},
        {"/v1/oauth/*/start", "/v1/oauth/google/start/", NULL},
        {"/v1/oauth/*/start", "/v1/oauth/google/startx", NULL},
        {"/v1/oauth/*/start", "/v1/oauth//start", NULL},
        {"/v1/oauth/*/start", "/v1/oauth/a/b/start", NULL},
        {"/v1/oauth/*/start", "/v1/oauth/../start", NULL},
        {"/v1/oauth/*/start", "/v1/oauth/goo.gle/start", NULL},
        {"/v1/oauth/*/start", "/v1/oauth/google", NULL},
        {"/v1/oauth/*/callback", "/v1/oauth/apple/callback", "apple"},
        {"/v1/oauth/*/start", "/v1/oauth/apple/callback", NULL},
        {"/exact", "/exact", "before"},
        {"/exact", "/exact/", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(param, sizeof param, "before");
        bool hit = gh_route_path_match(cases[k].pattern, cases[k].path, param);
        assert_int_equal(hit, cases[k].param != NULL);
        assert_string_equal(param, cases[k].param ? cases[k].param : "before");
    }
    /* one character over the cap */
    char path[GH_PARAM_MAX + 32] = "/v1/oauth/";
    memset(path + 10, 'a', GH_PARAM_MAX + 1);
    memcpy(path + 10 + GH_PARAM_MAX + 1, "/start", 7);
    assert_false(gh_route_path_match("/v1/oauth/*/start", path, param));
    path[10 + GH_PARAM_MAX] = '/';
    memcpy(path + 10 + GH_PARAM_MAX + 1, "start", 6);
    assert_true(gh_route_path_match("/v1/oauth/*/start", path, param));
    assert_int_equal(strlen(param), GH_PARAM_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_open_route_has_a_budget),
        cmocka_unit_test(test_named_routes),
        cmocka_unit_test(test_link_pages),
        cmocka_unit_test(test_path_match),
        cmocka_unit_test(test_oauth_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
