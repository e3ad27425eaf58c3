/* Unit tests for src/accounts/link_peek.c on a temporary SQLite database
 * (through the fault wrapper, which names every store call): a peek answers
 * what the POST would (OK with the address, invalid, expired) and reads
 * only: the link stays spendable and no row is written. A made-up value
 * costs no store call; a store failure is never "OK". */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "accounts/link_peek.h"
#include "core/util.h"
#include "sessions/sessions.h"
#include "store/fault.h"
#include "store/store.h"

static const struct store_ops *raw = &store_sqlite;
static const struct store_ops *ops;
static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (test_mkdtemp(dir, sizeof dir, "gh_link_peek_")) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    ops = store_fault_wrap(raw);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    test_rm_db(path);
    rmdir(dir);
    return 0;
}

static int setup(void **state)
{
    test_rm_db(path);
    gh_cfg.magic_link_signup = false;
    struct store_conn *c = NULL;
    if (raw->open(path, &c) != GH_OK || raw->migrate(c) != GH_OK) return -1;
    *state = c;
    store_fault_reset();
    return 0;
}

static int teardown(void **state)
{
    raw->close(*state);
    test_rm_db(path);
    return 0;
}

static void add_user(struct store_conn *c, const char *email)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.email_key, sizeof u.email_key, "%s", email);
    sessions_new_id(u.id);
    memcpy(u.password_hash, "!", 2);
    u.created_at = u.updated_at = gh_now_s();
    assert_int_equal(raw->users.create(c, &u, NULL), GH_OK);
}

/* A link of purpose for email, expiring at expires (its token into tok). */
static void add_link(struct store_conn *c, const char *email, const char *purpose, int64_t expires,
                     char tok[44])
{
    struct store_magic m;
    uint8_t h[32];
    memset(&m, 0, sizeof m);
    snprintf(m.purpose, sizeof m.purpose, "%s", purpose);
    snprintf(m.email, sizeof m.email, "%s", email);
    snprintf(m.email_key, sizeof m.email_key, "%s", email);
    m.expires_at = expires;
    assert_int_equal(gh_random_token(tok, 44, 32), GH_OK);
    assert_int_equal(gh_sha256(h, tok, 43), GH_OK);
    assert_int_equal(raw->links.create(c, h, &m, gh_now_s()), GH_OK);
}

static int64_t audit_rows(struct store_conn *c)
{
    int64_t first = 0, last = 0, n = 0;
    assert_int_equal(raw->audit.bounds(c, &first, &last, &n), GH_OK);
    return n;
}

static void peek(struct store_conn *c, const char *tok, size_t len, const char *purpose,
                 enum link_peek_outcome want, const char *want_email)
{
    enum link_peek_outcome o = LINK_PEEK_OK;
    char email[STORE_EMAIL_MAX + 1] = "x";
    assert_int_equal(link_peek(ops, c, tok, len, purpose, &o, email), GH_OK);
    assert_int_equal(o, want);
    assert_string_equal(email, want_email);
}

static void good_link_reads_and_stays_unspent(void **state)
{
    struct store_conn *c = *state;
    char tok[44];
    add_user(c, "ada@example.com");
    add_link(c, "ada@example.com", "signin", gh_now_s() + 600, tok);
    int64_t rows = audit_rows(c);
    store_fault_reset();
    peek(c, tok, 43, "signin", LINK_PEEK_OK, "ada@example.com");
    peek(c, tok, 43, "signin", LINK_PEEK_OK, "ada@example.com");
    /* reads only: the link and the account, twice */
    assert_int_equal(store_fault_calls(), 4);
    for (unsigned i = 1; i <= 4; i++) {
        const char *n = store_fault_call_name(i);
        assert_true(strcmp(n, "links.get") == 0 || strcmp(n, "users.by_email_key") == 0);
    }
    assert_int_equal(audit_rows(c), rows);
    /* still spendable */
    uint8_t h[32];
    struct store_magic m;
    assert_int_equal(gh_sha256(h, tok, 43), GH_OK);
    assert_int_equal(raw->links.consume(c, h, "signin", gh_now_s(), &m), GH_OK);
    /* and now used */
    peek(c, tok, 43, "signin", LINK_PEEK_INVALID, "");
}

static void refusals(void **state)
{
    struct store_conn *c = *state;
    char tok[44], old[44], reset[44], gone[44];
    add_user(c, "bo@example.com");
    add_link(c, "bo@example.com", "verify", gh_now_s() + 600, tok);
    add_link(c, "bo@example.com", "signin", gh_now_s() - 1, old);
    add_link(c, "bo@example.com", "reset", gh_now_s() + 600, reset);
    add_link(c, "nobody@example.com", "signin", gh_now_s() + 600, gone);
    peek(c, tok, 43, "signin", LINK_PEEK_INVALID, "");   /* another purpose */
    peek(c, reset, 43, "signin", LINK_PEEK_INVALID, ""); /* a reset link is not a sign-in */
    peek(c, reset, 43, "reset", LINK_PEEK_OK, "bo@example.com");
    peek(c, tok, 43, "verify", LINK_PEEK_OK, "bo@example.com");
    peek(c, old, 43, "signin", LINK_PEEK_EXPIRED, "");
    peek(c, gone, 43, "signin", LINK_PEEK_INVALID, ""); /* no account, no sign-up */
    gh_cfg.magic_link_signup = true;
    peek(c, gone, 43, "signin", LINK_PEEK_OK, "nobody@example.com"); /* the POST makes one */
    gh_cfg.magic_link_signup = false;
    /* a link one character off is unknown */
    char off[44];
    memcpy(off, tok, 44);
    off[0] = off[0] == 'A' ? 'B' : 'A';
    peek(c, off, 43, "verify", LINK_PEEK_INVALID, "");
}

static void made_up_values_cost_no_store_call(void **state)
{
    struct store_conn *c = *state;
    static const char *const bad[] = {"", "short", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    store_fault_reset();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        peek(c, bad[i], strlen(bad[i]), "signin", LINK_PEEK_INVALID, "");
    char nul[43];
    memset(nul, 'a', sizeof nul);
    nul[10] = '\0';
    peek(c, nul, sizeof nul, "signin", LINK_PEEK_INVALID, "");
    assert_int_equal(store_fault_calls(), 0);
}

static void store_failure_is_never_ok(void **state)
{
    struct store_conn *c = *state;
    char tok[44];
    add_user(c, "cy@example.com");
    add_link(c, "cy@example.com", "signin", gh_now_s() + 600, tok);
    static const char *const names[] = {"links.get", "users.by_email_key"};
    for (size_t i = 0; i < 2; i++) {
        store_fault_fail_name(names[i]);
        enum link_peek_outcome o = LINK_PEEK_OK;
        char email[STORE_EMAIL_MAX + 1];
        assert_int_equal(link_peek(ops, c, tok, 43, "signin", &o, email), GH_ERR_INTERNAL);
        assert_int_equal(o, LINK_PEEK_INVALID);
        assert_string_equal(email, "");
    }
    store_fault_fail_name(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(good_link_reads_and_stays_unspent, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(made_up_values_cost_no_store_call, setup, teardown),
        cmocka_unit_test_setup_teardown(store_failure_is_never_ok, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
