/* Unit tests for the accounts logic (src/accounts/signin.c, links.c,
 * signup.c) called without an HTTP request, on a temporary SQLite
 * database: the refusals that need no session. Sign-in failures must not
 * tell an unknown address from a wrong password, in the outcome or in the
 * audit row's shape; the emailed links refuse made-up tokens with one
 * audit row each. The signed-in path itself is covered by the API tests. */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "accounts/links.h"
#include "accounts/signin.h"
#include "accounts/signup.h"
#include "audit/failures.h"
#include "core/util.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "sessions/authcache.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];
static const char *const good_pw = "correct horse battery staple 42";

static int group_setup(void **state)
{
    (void)state;
    test_config();
    gh_cfg.audit_failure_rows = 100;
    gh_cfg.audit_failure_window = 60;
    if (password_init() != GH_OK || limit_init() != GH_OK ||
        authcache_init(AUTHCACHE_MIN_BYTES) != GH_OK)
        return -1;
    if (test_mkdtemp(dir, sizeof dir, "gh_signin_")) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    authcache_shutdown();
    test_rm_db(path);
    rmdir(dir);
    return 0;
}

static int setup(void **state)
{
    test_rm_db(path);
    audit_failures_reset();
    gh_cfg.email_verification = 0;
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    test_rm_db(path);
    return 0;
}

/* The request as a handler would describe it, auditing on. */
static void req(struct accounts_req *in, struct store_audit *base)
{
    *base = (struct store_audit){.ip = "192.0.2.7", .user_agent = "test", .request_id = "req-1"};
    *in = (struct accounts_req){.ip = "192.0.2.7", .user_agent = "test", .audit = base};
}

static void add_user(struct store_conn *c, const char *email, bool verified, struct store_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->email_key, sizeof u->email_key, "%s", email);
    sessions_new_id(u->id);
    assert_int_equal(password_hash(u->password_hash, good_pw, strlen(good_pw)), GH_OK);
    u->created_at = u->updated_at = gh_now_s();
    assert_int_equal(ops->users.create(c, u, NULL), GH_OK);
    if (verified) assert_int_equal(ops->users.verify_email(c, u->id, gh_now_s(), NULL), GH_OK);
}

struct rows {
    int n;
    char action[4][48], actor[4][48], target[4][48], ip[4][48], request_id[4][48];
};

static int collect(void *arg, const struct store_audit_row *row)
{
    struct rows *r = arg;
    if (r->n < 4) {
        snprintf(r->action[r->n], 48, "%s", row->action);
        snprintf(r->actor[r->n], 48, "%s", row->actor);
        snprintf(r->target[r->n], 48, "%s", row->target);
        snprintf(r->ip[r->n], 48, "%s", row->ip);
        snprintf(r->request_id[r->n], 48, "%s", row->request_id);
    }
    r->n++;
    return 0;
}

static void rows_of(struct store_conn *c, struct rows *r)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(ops->audit.scan(c, 0, INT64_MAX, collect, r), GH_OK);
}

static void test_unknown_and_wrong_password_alike(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "ada@example.com", true, &u);
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    const char *unknown = "nobody@example.com", *bad = "not a password";
    assert_int_equal(signin_password(ops, c, &in, unknown, strlen(unknown), bad, strlen(bad), &res),
                     GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_BAD_CREDENTIALS);
    accounts_result_clear(&res);
    assert_int_equal(signin_password(ops, c, &in, u.email, strlen(u.email), bad, strlen(bad), &res),
                     GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_BAD_CREDENTIALS);
    accounts_result_clear(&res);
    /* One signin.failure row each, from the request's audit fields; only
     * the target (the account, when there is one) differs. */
    struct rows r;
    rows_of(c, &r);
    assert_int_equal(r.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(r.action[i], "signin.failure");
        assert_string_equal(r.actor[i], "anonymous");
        assert_string_equal(r.ip[i], "192.0.2.7");
        assert_string_equal(r.request_id[i], "req-1");
    }
    assert_string_equal(r.target[0], "");
    assert_string_equal(r.target[1], u.id);
}

static void test_unverified_address_said_after_right_password(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "bea@example.com", false, &u);
    gh_cfg.email_verification = 2;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    assert_int_equal(
        signin_password(ops, c, &in, u.email, strlen(u.email), good_pw, strlen(good_pw), &res),
        GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_NOT_VERIFIED);
    accounts_result_clear(&res);
    const char *bad = "wrong horse";
    assert_int_equal(signin_password(ops, c, &in, u.email, strlen(u.email), bad, strlen(bad), &res),
                     GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_BAD_CREDENTIALS);
    accounts_result_clear(&res);
}

static void test_mfa_step_refuses_made_up_token(void **state)
{
    struct store_conn *c = *state;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    const char *tok = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", *code = "123 456";
    assert_int_equal(signin_mfa(ops, c, &in, tok, strlen(tok), code, strlen(code), &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_STEP_INVALID);
    accounts_result_clear(&res);
}

static void test_links_refuse_made_up_tokens(void **state)
{
    struct store_conn *c = *state;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    const char *tok = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", *pw = "x";
    assert_int_equal(links_magic_verify(ops, c, &in, tok, strlen(tok), &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_LINK_INVALID);
    accounts_result_clear(&res);
    assert_int_equal(links_password_reset(ops, c, &in, tok, strlen(tok), pw, 1, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_LINK_INVALID);
    accounts_result_clear(&res);
    assert_int_equal(links_email_verify(ops, c, &in, "short", 5, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_LINK_INVALID);
    accounts_result_clear(&res);
    struct rows r;
    rows_of(c, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.action[0], "signin.failure");
    assert_string_equal(r.action[1], "password.reset_failure");
    assert_string_equal(r.action[2], "email.verify_failure");
    for (int i = 0; i < 3; i++)
        assert_string_equal(r.target[i], "");
}

static void test_signup_refusals(void **state)
{
    struct store_conn *c = *state;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    const char *bad_email = "not-an-address", *email = "cy@example.com", *weak = "password";
    assert_int_equal(
        signup_password(ops, c, &in, bad_email, strlen(bad_email), good_pw, strlen(good_pw), &res),
        GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_INVALID_EMAIL);
    accounts_result_clear(&res);
    assert_int_equal(signup_password(ops, c, &in, email, strlen(email), weak, strlen(weak), &res),
                     GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_WEAK_PASSWORD);
    assert_true(res.reason[0] != '\0');
    accounts_result_clear(&res);
    struct store_user u;
    add_user(c, email, true, &u);
    assert_int_equal(
        signup_password(ops, c, &in, email, strlen(email), good_pw, strlen(good_pw), &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_EMAIL_TAKEN);
    accounts_result_clear(&res);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_unknown_and_wrong_password_alike),
        T(test_unverified_address_said_after_right_password),
        T(test_mfa_step_refuses_made_up_token),
        T(test_links_refuse_made_up_tokens),
        T(test_signup_refusals),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
