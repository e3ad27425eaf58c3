/* Unit tests for src/gate/rules.c: loading, checking and matching the
 * access rules. */
#include "testutil.h"

#include "gate/rules.h"

static const char *const ROLES[] = {"user", "admin"};

static struct rules *load(const char *text)
{
    struct rules *r = NULL;
    char err[512] = "";
    enum gh_err rc = rules_load_buffer(text, strlen(text), "t.yaml", ROLES, 2, &r, err, sizeof err);
    if (rc != GH_OK) fail_msg("refused: %s", err);
    assert_non_null(r);
    return r;
}

/* text is refused with an error naming "t.yaml:<line>:" and holding why. */
static void bad(const char *text, int line, const char *why)
{
    struct rules *r = (struct rules *)1;
    char err[512] = "", want[32];
    assert_int_equal(rules_load_buffer(text, strlen(text), "t.yaml", ROLES, 2, &r, err, sizeof err),
                     GH_ERR_CONFIG);
    assert_null(r);
    snprintf(want, sizeof want, "t.yaml:%d: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, why))
        fail_msg("\"%s\" is not \"%s...%s\"", err, want, why);
}

static const struct rule *m(const struct rules *r, const char *method, const char *host,
                            const char *path)
{
    return rules_match(r, method, host, path, strlen(path));
}

static const char GOOD[] = "# the gate's rules\n"
                           "default: signed_in\n"
                           "rules:\n"
                           "  - host: health.example.com\n" /* 4 */
                           "    policy: public\n"
                           "  - host: \"*.Admin.Example.com\"\n" /* 6 */
                           "    policy: role:admin\n"
                           "  - path: /billing\n" /* 8 */
                           "    policy: mfa\n"
                           "    max_age_minutes: 15\n"
                           "  - path: /static/\n" /* 11 */
                           "    methods: [GET, HEAD]\n"
                           "    policy: public\n"
                           "  - path_regex: '/api/v[0-9]+/private'\n" /* 14 */
                           "    policy: deny\n"
                           "  - path: /account\n" /* 16 */
                           "    methods:\n"
                           "      - POST\n"
                           "    policy: mfa\n"
                           "  - host: app.example.com\n" /* 20 */
                           "    path: /\n"
                           "    policy: signed_in\n";

static void test_good_file(void **state)
{
    (void)state;
    struct rules *r = load(GOOD);
    assert_int_equal(rules_count(r), 7);
    const struct rule *x = m(r, "GET", "Health.Example.com:8443", "/anything");
    assert_int_equal(x->line, 4);
    assert_int_equal(x->policy, RULES_PUBLIC);
    x = m(r, "GET", "a.b.admin.example.COM", "/");
    assert_int_equal(x->line, 6);
    assert_int_equal(x->policy, RULES_ROLE);
    assert_string_equal(x->role, "admin");
    /* The wildcard needs a label: admin.example.com itself falls through. */
    assert_true(rules_is_default(r, m(r, "GET", "admin.example.com", "/x")));
    x = m(r, "POST", "shop.test", "/billing/invoices");
    assert_int_equal(x->line, 8);
    assert_int_equal(x->policy, RULES_MFA);
    assert_int_equal(x->max_age_minutes, 15);
    assert_int_equal(m(r, "GET", "shop.test", "/billing")->line, 8);
    /* A prefix without a trailing '/' is a segment: /billingx is not under it. */
    assert_true(rules_is_default(r, m(r, "GET", "shop.test", "/billingx")));
    /* Methods: GET and HEAD only; a POST falls to the default. */
    assert_int_equal(m(r, "HEAD", NULL, "/static/app.css")->line, 11);
    assert_true(rules_is_default(r, m(r, "POST", NULL, "/static/app.css")));
    assert_true(rules_is_default(r, m(r, "PROPFIND", NULL, "/static/app.css")));
    /* The regex is anchored at the start of the path. */
    assert_int_equal(m(r, "GET", NULL, "/api/v2/private/x")->policy, RULES_DENY);
    assert_true(rules_is_default(r, m(r, "GET", NULL, "/x/api/v2/private")));
    assert_int_equal(m(r, "POST", NULL, "/account/email")->line, 16);
    assert_int_equal(m(r, "POST", NULL, "/account/email")->max_age_minutes, 0);
    assert_true(rules_is_default(r, m(r, "GET", NULL, "/account/email")));
    /* First match wins: /billing on app.example.com is the mfa rule. */
    assert_int_equal(m(r, "GET", "app.example.com", "/billing")->line, 8);
    assert_int_equal(m(r, "GET", "app.example.com.", "/home")->line, 20);
    const struct rule *d = m(r, "GET", "other.test", "/home");
    assert_true(rules_is_default(r, d));
    assert_int_equal(d->policy, RULES_SIGNED_IN);
    assert_int_equal(d->line, 2);
    assert_ptr_equal(rules_at(r, rules_count(r)), d);
    assert_string_equal(rules_policy_name(d->policy), "signed_in");
    rules_free(r);
}

static void test_default_and_empty(void **state)
{
    (void)state;
    /* No default: deny. */
    struct rules *r = load("rules:\n  - path: /pub/\n    policy: public\n");
    assert_int_equal(m(r, "GET", "h", "/pub/x")->policy, RULES_PUBLIC);
    assert_int_equal(m(r, "GET", "h", "/private")->policy, RULES_DENY);
    rules_free(r);
    /* An empty file, or only comments: no rules, deny. */
    r = load("# nothing yet\n");
    assert_int_equal(rules_count(r), 0);
    assert_int_equal(m(r, "GET", "h", "/")->policy, RULES_DENY);
    rules_free(r);
    r = load("default: public\n");
    assert_int_equal(m(r, "DELETE", NULL, "/")->policy, RULES_PUBLIC);
    rules_free(r);
    r = load("default: role:user\nrules: []\n");
    assert_int_equal(m(r, "GET", NULL, "/")->policy, RULES_ROLE);
    assert_string_equal(m(r, "GET", NULL, "/")->role, "user");
    rules_free(r);
    /* A rule with neither host nor path matches everything. */
    r = load("rules:\n  - policy: public\n  - policy: deny\n");
    assert_int_equal(m(r, "GET", NULL, "")->line, 2);
    rules_free(r);
}

static void test_no_file_default(void **state)
{
    (void)state;
    struct rules *r = NULL;
    assert_int_equal(rules_default_signed_in(&r), GH_OK);
    assert_int_equal(rules_count(r), 0);
    const struct rule *x = m(r, "GET", "any.example.com", "/x");
    assert_true(rules_is_default(r, x));
    assert_int_equal(x->policy, RULES_SIGNED_IN);
    assert_int_equal(x->line, 0);
    rules_free(r);
    rules_free(NULL);
}

static void test_regex_anchoring(void **state)
{
    (void)state;
    /* An alternation stays anchored: it is wrapped as ^(...). */
    struct rules *r = load("rules:\n  - path_regex: /a|/b\n    policy: public\n");
    assert_false(rules_is_default(r, m(r, "GET", NULL, "/b/x")));
    assert_true(rules_is_default(r, m(r, "GET", NULL, "/x/b")));
    rules_free(r);
    r = load("rules:\n  - path_regex: '/v(1|2){1,3}/[a-z]+(/[0-9]{2,4})?/?$'\n    policy: deny\n");
    assert_int_equal(m(r, "GET", NULL, "/v12/users/2024")->policy, RULES_DENY);
    assert_true(rules_is_default(r, m(r, "GET", NULL, "/v3/users")));
    assert_true(rules_is_default(r, m(r, "GET", NULL, "/v1/users/1")));
    rules_free(r);
    r = load("rules:\n  - path_regex: \"/exact$\"\n    policy: public\n"
             "  - path_regex: '[)]x'\n    policy: mfa\n");
    assert_false(rules_is_default(r, m(r, "GET", NULL, "/exact")));
    assert_true(rules_is_default(r, m(r, "GET", NULL, "/exact/more")));
    assert_int_equal(m(r, "GET", NULL, ")x")->policy, RULES_MFA);
    /* The path length is honoured: no NUL needed after it. */
    assert_false(rules_is_default(r, rules_match(r, "GET", NULL, "/exactly", 6)));
    rules_free(r);
}

static void test_refused(void **state)
{
    (void)state;
    bad("default: deny\nrules:\n  - path: /x\n    polcy: public\n", 4, "unknown key \"polcy\"");
    bad("defaults: deny\n", 1, "unknown key");
    /* a prefix must be in the form the gate compares request paths in */
    bad("rules:\n  - path: /%40admin\n    policy: deny\n", 2,
        "written in the form the gate compares: /@admin");
    bad("rules:\n  - path: /caf%c3%a9\n    policy: deny\n", 2, "compares: /caf%C3%A9");
    bad("rules:\n  - path: /a//b\n    policy: deny\n", 2, "no request path the gate accepts");
    bad("rules:\n  - path: /a/../b\n    policy: deny\n", 2, "no request path the gate accepts");
    bad("rules:\n  - path: /a;b\n    policy: deny\n", 2, "no request path the gate accepts");
    bad("rules:\n  - path: /x\n    policy: open\n", 3, "unknown policy");
    bad("default: allow\n", 1, "unknown policy");
    bad("rules:\n  - policy: public\n  - path: /ops\n    policy: role:ops\n", 4,
        "unknown role \"ops\"");
    bad("rules:\n  - path_regex: '/a(['\n    policy: deny\n", 2, "unterminated [");
    bad("rules:\n  - path_regex: '/a[[:foo:]]'\n    policy: deny\n", 2, "does not compile");
    bad("rules:\n  - path_regex: '/a)|(/b'\n    policy: deny\n", 2, "unmatched ')'");
    bad("rules:\n  - path_regex: '/a)|/b'\n    policy: deny\n", 2, "unmatched");
    bad("rules:\n  - path_regex: '/a(/b'\n    policy: deny\n", 2, "unmatched '('");
    bad("rules:\n  - path_regex: '/(a)\\1'\n    policy: deny\n", 2, "back-reference");
    bad("rules:\n  - path_regex: '/a++'\n    policy: deny\n", 2, "repeats a repetition");
    bad("rules:\n  - path_regex: '/(a{100}){20}'\n    policy: deny\n", 2, "repeats too much");
    bad("rules:\n  - path_regex: '/((((((((((a+)+)+)+)+)+)+)+)+)+)+'\n    policy: deny\n", 2,
        "repeats too much");
    bad("rules:\n  - path_regex: '/a{300}'\n    policy: deny\n", 2, "repeats too much");
    bad("rules:\n  - path_regex: '/a{2'\n    policy: deny\n", 2, "malformed");
    bad("rules:\n  - path: /x\n    path: /y\n    policy: deny\n", 3, "path is given twice");
    bad("default: deny\nrules: []\ndefault: public\n", 3, "default is given twice");
    bad("rules: public\n", 1, "rules must be a list");
    bad("rules:\n  - public\n", 2, "a rule must be a mapping");
    bad("rules:\n  - path: [/a, /b]\n    policy: deny\n", 2, "path must be a single value");
    bad("rules:\n  - methods: GET\n    policy: deny\n", 2, "methods must be a list");
    bad("rules:\n  - methods: [GET, get]\n    policy: deny\n", 2, "unknown method");
    bad("rules:\n  - methods: [GET, GET]\n    policy: deny\n", 2, "twice");
    bad("rules:\n  - methods: []\n    policy: deny\n", 2, "methods is empty");
    bad("rules:\n  - policy: mfa\n    max_age_minutes: soon\n", 3, "number of minutes");
    bad("rules:\n  - policy: mfa\n    max_age_minutes: '15'\n", 3, "number of minutes");
    bad("rules:\n  - policy: mfa\n    max_age_minutes: 0\n", 3, "1 to");
    bad("rules:\n  - policy: public\n    max_age_minutes: 5\n", 3, "only with policy: mfa");
    bad("rules:\n  - host: ''\n    policy: deny\n", 2, "host is empty");
    bad("rules:\n  - host:\n    policy: deny\n", 2, "host is empty");
    bad("rules:\n  - host: a.example.com:443\n    policy: deny\n", 2, "not a host name");
    bad("rules:\n  - host: 'a.*.com'\n    policy: deny\n", 2, "not a host name");
    bad("rules:\n  - host: '*.'\n    policy: deny\n", 2, "not a host name");
    bad("rules:\n  - path: admin\n    policy: deny\n", 2, "must start with /");
    bad("rules:\n  - path: /a?b=1\n    policy: deny\n", 2, "'?'");
    bad("rules:\n  - path: /a\n    path_regex: /b\n    policy: deny\n", 3, "not both");
    bad("rules:\n  - path: /a\n", 2, "no policy");
    bad("rules:\n\t- policy: deny\n", 2, "tab");
    bad("default: deny\t# x\n", 1, "tab");
    bad("rules:\n  - &r\n    policy: deny\n  - *r\n", 2, "anchors");
    bad("rules:\n  - policy: deny\n  - *r\n", 3, "alias");
    bad("default: !!str deny\n", 1, "tags");
    bad("default: deny\n---\ndefault: public\n", 2, "one document");
    bad("- policy: deny\n", 1, "must be a mapping");
    bad("rules:\n  - policy: deny\n  bad indent\n", 3, "");
    bad("rules:\n  - policy: deny\n    path: /a\n   methods: [GET]\n", 4, "");
    bad("rules:\n  - policy: \"deny\n", 2, "quoted");
    bad("default: [deny\n", 1, "");
    bad("rules:\n  - {policy: deny, policy: public}\n", 2, "policy is given twice");
    bad("rules:\n  - ? [a]\n    : b\n", 2, "a key must be a name");
}

static void test_errors_name_the_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh_rules_XXXXXX", path[64], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/rules.yaml", dir);
    struct rules *r = NULL;
    assert_int_equal(rules_load(path, ROLES, 2, &r, err, sizeof err), GH_ERR_CONFIG);
    assert_non_null(strstr(err, "cannot open"));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(GOOD, f);
    fputs("  - path: /x\n    policy: role:root\n", f);
    fclose(f);
    assert_int_equal(rules_load(path, ROLES, 2, &r, err, sizeof err), GH_ERR_CONFIG);
    char want[96];
    snprintf(want, sizeof want, "%s:24: unknown role", path);
    assert_string_equal(strstr(err, want) == err ? want : err, want);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(GOOD, f);
    fclose(f);
    assert_int_equal(rules_load(path, ROLES, 2, &r, err, sizeof err), GH_OK);
    assert_int_equal(rules_count(r), 7);
    rules_free(r);
    unlink(path);
    rmdir(dir);
}

/* Many rules load and the last one still matches. */
static void test_many_rules(void **state)
{
    (void)state;
    size_t cap = 1000 * 64 + 64, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    len += (size_t)snprintf(buf, cap, "rules:\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(buf + len, cap - len,
                                "  - host: h%d.example.com\n    path: /p%d\n    policy: public\n",
                                i, i);
    struct rules *r = load(buf);
    assert_int_equal(rules_count(r), 1000);
    assert_int_equal(m(r, "GET", "h999.example.com", "/p999/x")->line, 1 + 999 * 3 + 1);
    rules_free(r);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),       cmocka_unit_test(test_default_and_empty),
        cmocka_unit_test(test_no_file_default), cmocka_unit_test(test_regex_anchoring),
        cmocka_unit_test(test_refused),         cmocka_unit_test(test_errors_name_the_file),
        cmocka_unit_test(test_many_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
