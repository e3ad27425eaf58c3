/* Unit tests for src/gate/gate.c and gate_decide.c: the decision table
 * (every policy x not signed in / signed in / restricted / stale or
 * missing factor x API client / browser GET / browser POST / nginx), the
 * return URL in rd=, and reloads swapping the rule set while threads
 * match against it (run under TSan by `make test`). */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#include "gate/gate.h"
#include "gate/gate_config.h"

static const char *const ROLES[] = {"user", "admin"};

static const char RULES[] = "default: deny\n"
                            "rules:\n"
                            "  - path: /public\n"
                            "    policy: public\n"
                            "  - path: /app\n"
                            "    policy: signed_in\n"
                            "  - path: /billing\n"
                            "    policy: mfa\n"
                            "    max_age_minutes: 15\n"
                            "  - path: /mfa-any\n"
                            "    policy: mfa\n"
                            "  - path: /admin\n"
                            "    policy: role:admin\n"
                            "  - path: /closed\n"
                            "    policy: deny\n"
                            "  - host: \"*.example.com\"\n"
                            "    path: /w\n"
                            "    policy: signed_in\n"
                            "  - host: other.example.org\n"
                            "    policy: signed_in\n";

#define NOW 1800000000

static struct gate_set *set_of(const char *text)
{
    struct rules *r = NULL;
    char err[512] = "";
    if (rules_load_buffer(text, strlen(text), "t.yaml", ROLES, 2, &r, err, sizeof err))
        fail_msg("refused: %s", err);
    struct gate_set *s = NULL;
    assert_int_equal(gate_set_new(r, &s), GH_OK);
    return s;
}

static int setup(void **state)
{
    gh_cfg.production = true;
    snprintf(gh_cfg.public_url, sizeof gh_cfg.public_url, "https://auth.example.com/");
    snprintf(gh_cfg.cookie_domain, sizeof gh_cfg.cookie_domain, "%s", "");
    snprintf(gate_cfg.signin_url, sizeof gate_cfg.signin_url, "https://login.example.com/in");
    *state = set_of(RULES);
    return 0;
}

static int teardown(void **state)
{
    gate_set_free(*state);
    return 0;
}

enum client { API, BROWSER, BROWSER_POST, NGINX };
enum who { NOBODY, USER, ADMIN, RESTRICTED, NO_FACTOR, STALE_FACTOR };

static void request(struct gate_request *g, enum client c, const char *host, const char *path)
{
    memset(g, 0, sizeof *g);
    struct fwd_input in = {0};
    char url[512];
    snprintf(url, sizeof url, "https://%s%s", host, path);
    if (c == NGINX) {
        in.orig_method = "GET";
        in.orig_url = url;
    } else {
        in.fwd_method = c == BROWSER_POST ? "POST" : "GET";
        in.fwd_proto = "https";
        in.fwd_host = host;
        in.fwd_uri = path;
    }
    assert_int_equal(forwarded_parse(&in, &g->req), FWD_OK);
    g->api_client = c == API;
}

static const struct authcache_identity *identity(enum who w, struct authcache_identity *id)
{
    if (w == NOBODY) return NULL;
    memset(id, 0, sizeof *id);
    snprintf(id->user_id, sizeof id->user_id, "u1");
    snprintf(id->session_id, sizeof id->session_id, "s1");
    snprintf(id->email, sizeof id->email, "a@example.com");
    snprintf(id->role, sizeof id->role, "%s", w == ADMIN ? "admin" : "user");
    id->restricted = w == RESTRICTED;
    id->mfa_at = w == NO_FACTOR ? 0 : w == STALE_FACTOR ? NOW - 16 * 60 : NOW - 60;
    return id;
}

static void decide(void **state, enum client c, enum who w, const char *path, struct gate_answer *a)
{
    static struct gate_request g;
    struct authcache_identity id;
    request(&g, c, "app.example.com", path);
    gate_decide(*state, &g, identity(w, &id), NOW, a);
}

/* The answer's status and verdict, and where it sends the browser. */
static void expect(void **state, enum client c, enum who w, const char *path, int status,
                   enum gate_verdict v, const char *location)
{
    struct gate_answer a;
    decide(state, c, w, path, &a);
    if (a.status != status || a.verdict != v || strcmp(a.location, location) != 0)
        fail_msg("%s client %d who %d: %d/%d \"%s\", want %d/%d \"%s\"", path, c, w, a.status,
                 a.verdict, a.location, status, v, location);
}

#define SIGNIN "https://login.example.com/in?rd=https://app.example.com/"
#define STEPUP "https://auth.example.com/step-up?rd=https://app.example.com/"

static void test_public(void **state)
{
    struct gate_answer a;
    for (enum client c = API; c <= NGINX; c++) {
        expect(state, c, NOBODY, "/public", 200, GATE_PASS, "");
        expect(state, c, RESTRICTED, "/public/x", 200, GATE_PASS, "");
        expect(state, c, NO_FACTOR, "/public", 200, GATE_PASS, "");
    }
    decide(state, BROWSER, NOBODY, "/public", &a);
    assert_false(a.identity);
    decide(state, BROWSER, RESTRICTED, "/public", &a);
    assert_false(a.identity); /* an enrolment-only session is nobody here */
    decide(state, BROWSER, USER, "/public", &a);
    assert_true(a.identity);
}

static void test_signed_in(void **state)
{
    expect(state, API, NOBODY, "/app", 401, GATE_SIGNIN, "");
    expect(state, BROWSER, NOBODY, "/app/x?y=1", 302, GATE_SIGNIN, SIGNIN "app/x%3Fy%3D1");
    expect(state, BROWSER_POST, NOBODY, "/app", 303, GATE_SIGNIN, SIGNIN "app");
    expect(state, NGINX, NOBODY, "/app", 401, GATE_SIGNIN, SIGNIN "app");
    for (enum client c = API; c <= NGINX; c++) {
        expect(state, c, USER, "/app", 200, GATE_PASS, "");
        expect(state, c, NO_FACTOR, "/app", 200, GATE_PASS, "");
        expect(state, c, RESTRICTED, "/app", 403, GATE_ENROL, "");
    }
    struct gate_answer a;
    decide(state, API, USER, "/app", &a);
    assert_true(a.identity);
    assert_int_equal(a.rule_line, 5);
    assert_int_equal(a.policy, RULES_SIGNED_IN);
}

static void test_mfa(void **state)
{
    for (enum client c = API; c <= NGINX; c++) {
        expect(state, c, USER, "/billing", 200, GATE_PASS, "");
        expect(state, c, RESTRICTED, "/billing", 403, GATE_ENROL, "");
        expect(state, c, USER, "/mfa-any", 200, GATE_PASS, "");
        expect(state, c, STALE_FACTOR, "/mfa-any", 200, GATE_PASS, ""); /* no max age */
    }
    expect(state, API, NOBODY, "/billing", 401, GATE_SIGNIN, "");
    expect(state, BROWSER, NOBODY, "/billing", 302, GATE_SIGNIN, SIGNIN "billing");
    expect(state, API, STALE_FACTOR, "/billing", 401, GATE_STEP_UP, "");
    expect(state, API, NO_FACTOR, "/mfa-any", 401, GATE_STEP_UP, "");
    expect(state, BROWSER, STALE_FACTOR, "/billing", 302, GATE_STEP_UP, STEPUP "billing");
    expect(state, BROWSER_POST, NO_FACTOR, "/billing", 303, GATE_STEP_UP, STEPUP "billing");
    expect(state, NGINX, NO_FACTOR, "/billing", 401, GATE_STEP_UP, STEPUP "billing");
}

static void test_role_and_deny(void **state)
{
    for (enum client c = API; c <= NGINX; c++) {
        expect(state, c, ADMIN, "/admin", 200, GATE_PASS, "");
        expect(state, c, USER, "/admin", 403, GATE_FORBIDDEN, "");
        expect(state, c, RESTRICTED, "/admin", 403, GATE_ENROL, "");
        for (enum who w = NOBODY; w <= STALE_FACTOR; w++) {
            expect(state, c, w, "/closed", 403, GATE_FORBIDDEN, "");
            expect(state, c, w, "/unlisted", 403, GATE_FORBIDDEN, ""); /* default: deny */
        }
    }
    expect(state, API, NOBODY, "/admin", 401, GATE_SIGNIN, "");
    expect(state, BROWSER, NOBODY, "/admin", 302, GATE_SIGNIN, SIGNIN "admin");
}

static void test_no_pages_configured(void **state)
{
    char saved[sizeof gate_cfg.signin_url], pub[sizeof gh_cfg.public_url];
    memcpy(saved, gate_cfg.signin_url, sizeof saved);
    memcpy(pub, gh_cfg.public_url, sizeof pub);
    gate_cfg.signin_url[0] = '\0';
    gh_cfg.public_url[0] = '\0';
    expect(state, BROWSER, NOBODY, "/app", 401, GATE_SIGNIN, "");
    expect(state, NGINX, NOBODY, "/app", 401, GATE_SIGNIN, "");
    expect(state, BROWSER, NO_FACTOR, "/billing", 401, GATE_STEP_UP, "");
    memcpy(gate_cfg.signin_url, saved, sizeof saved);
    memcpy(gh_cfg.public_url, pub, sizeof pub);
}

/* rd= names only hosts the rules name (exact or wildcard), the cookie
 * domain, or the public URL; anything else goes without rd. */
static void test_return_url(void **state)
{
    static struct gate_request g;
    struct gate_answer a;
    request(&g, BROWSER, "evil.com", "/app");
    gate_decide(*state, &g, NULL, NOW, &a);
    assert_int_equal(a.status, 302);
    assert_string_equal(a.location, "https://login.example.com/in");
    assert_true(a.rd_refused);
    request(&g, BROWSER, "other.example.org", "/x");
    gate_decide(*state, &g, NULL, NOW, &a);
    assert_string_equal(a.location, "https://login.example.com/in?rd=https://other.example.org/x");
    request(&g, BROWSER, "deep.a.example.com:8443", "/w");
    gate_decide(*state, &g, NULL, NOW, &a); /* a wildcard grants no other port */
    assert_string_equal(a.location, "https://login.example.com/in");
    snprintf(gh_cfg.cookie_domain, sizeof gh_cfg.cookie_domain, "example.net");
    request(&g, BROWSER, "shop.example.net", "/app");
    gate_decide(*state, &g, NULL, NOW, &a);
    assert_string_equal(a.location, "https://login.example.com/in?rd=https://shop.example.net/app");
    gh_cfg.cookie_domain[0] = '\0';
    /* a sign-in URL with a query gets &rd= */
    snprintf(gate_cfg.signin_url, sizeof gate_cfg.signin_url, "https://l.example.com/in?x=1");
    request(&g, BROWSER, "app.example.com", "/app?a=b&c=%2F");
    gate_decide(*state, &g, NULL, NOW, &a);
    assert_string_equal(
        a.location,
        "https://l.example.com/in?x=1&rd=https://app.example.com/app%3Fa%3Db%26c%3D%252F");
    snprintf(gate_cfg.signin_url, sizeof gate_cfg.signin_url, "https://login.example.com/in");
    /* development: http to the proxy's own loopback origin, port and all */
    gh_cfg.production = false;
    struct fwd_input in = {
        .fwd_method = "GET", .fwd_proto = "http", .fwd_host = "127.0.0.1:8081", .fwd_uri = "/app"};
    assert_int_equal(forwarded_parse(&in, &g.req), FWD_OK);
    gate_decide(*state, &g, NULL, NOW, &a);
    assert_string_equal(a.location, "https://login.example.com/in?rd=http://127.0.0.1:8081/app");
    gh_cfg.production = true;
    gate_decide(*state, &g, NULL, NOW, &a);
    assert_string_equal(a.location, "https://login.example.com/in");
}

static void test_signin_url_check(void **state)
{
    (void)state;
    assert_true(gate_signin_url_ok("https://login.example.com/in?x=1", false));
    assert_true(gate_signin_url_ok("http://127.0.0.1:3000/login", true));
    assert_true(gate_signin_url_ok("http://localhost/login", true));
    assert_false(gate_signin_url_ok("http://127.0.0.1:3000/login", false));
    assert_false(gate_signin_url_ok("http://app.example.com/login", true));
    assert_false(gate_signin_url_ok("https://a@evil.com/", false));
    assert_false(gate_signin_url_ok("https://login.example.com/#x", false));
    assert_false(gate_signin_url_ok("/login", true));
    assert_false(gate_signin_url_ok("javascript:alert(1)", true));
    assert_false(gate_signin_url_ok("https:///x", false));
    assert_false(gate_signin_url_ok("https://a b/", false));
}

/* Without GATEHOUSE_SIGNIN_URL the gate sends browsers to our own page. */
static void test_default_signin_url(void **state)
{
    (void)state;
    char out[GATE_URL_MAX + 1];
    assert_true(gate_default_signin_url("https://auth.example.com", out, sizeof out));
    assert_string_equal(out, "https://auth.example.com/signin");
    assert_true(gate_default_signin_url("https://example.com/auth//", out, sizeof out));
    assert_string_equal(out, "https://example.com/auth/signin");
    assert_true(gate_default_signin_url("http://127.0.0.1:8080", out, sizeof out));
    assert_string_equal(out, "http://127.0.0.1:8080/signin");
    /* over http off loopback too: the page says why nobody can sign in */
    assert_true(gate_default_signin_url("http://auth.example.com/", out, sizeof out));
    assert_string_equal(out, "http://auth.example.com/signin");
    assert_false(gate_default_signin_url("", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(gate_default_signin_url(NULL, out, sizeof out));
    assert_false(gate_default_signin_url("ftp://auth.example.com", out, sizeof out));
    assert_false(gate_default_signin_url("https://a@evil.example", out, sizeof out));
    assert_false(gate_default_signin_url("https://auth.example.com/?x=1", out, sizeof out));
    assert_false(gate_default_signin_url("https://auth.example.com/#x", out, sizeof out));
    assert_false(gate_default_signin_url("https://auth.example.com", out, 10));
    char long_url[GATE_URL_MAX + 8];
    memset(long_url, 'a', sizeof long_url - 1);
    memcpy(long_url, "https://", 8);
    long_url[sizeof long_url - 1] = '\0';
    assert_false(gate_default_signin_url(long_url, out, sizeof out));
}

/* Readers match while another thread swaps the rule set again and again:
 * every answer comes from a whole set (one or the other, never freed
 * memory; TSan and ASan watch). */
static atomic_bool stop;

static void *reader(void *arg)
{
    static struct gate_request g0;
    struct gate_request *g = arg;
    struct authcache_identity id;
    identity(USER, &id);
    long n = 0;
    while (!atomic_load(&stop) || n < 1000) {
        struct gate_answer a;
        const struct gate_set *s = gate_enter();
        gate_decide(s, g, &id, NOW, &a);
        gate_leave();
        assert_true(a.status == 200 || a.status == 403);
        n++;
    }
    (void)g0;
    return NULL;
}

static void test_reload_while_matching(void **state)
{
    (void)state;
    static struct gate_request g;
    request(&g, BROWSER, "app.example.com", "/app");
    gate_install(set_of(RULES));
    pthread_t t[4];
    atomic_store(&stop, false);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &g), 0);
    for (int i = 0; i < 40; i++)
        gate_install(set_of(i % 2 ? RULES
                                  : "default: deny\nrules:\n  - path: /app\n"
                                    "    policy: deny\n"));
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    gate_shutdown();
    assert_null(gate_enter());
    gate_leave();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_public, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mfa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_and_deny, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_pages_configured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_return_url, setup, teardown),
        cmocka_unit_test(test_signin_url_check),
        cmocka_unit_test(test_default_signin_url),
        cmocka_unit_test(test_reload_while_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
