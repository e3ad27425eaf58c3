/* Unit tests for src/store/fault.c: the wrapper counts, names and fails
 * store calls as told, and otherwise changes nothing. Over a temporary
 * SQLite store; the account flows under it are in
 * tests/unit/accounts/test_fault_walk.c. */
#include "testutil.h"

#include "core/util.h"
#include "store/fault.h"
#include "store/store.h"

static const struct store_ops *raw = &store_sqlite;
static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_fault_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static int setup(void **state)
{
    struct store_conn *c = NULL;
    test_rm_db(path);
    if (raw->open(path, &c) != GH_OK || raw->migrate(c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    raw->close(*state);
    test_rm_db(path);
    return 0;
}

static struct store_user new_user(const char *email)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%08x-0000-4000-8000-000000000001", (unsigned)strlen(email));
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.email_key, sizeof u.email_key, "%s", email);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = gh_now_s();
    return u;
}

/* Counting mode forwards everything and numbers the calls. */
static void counts_and_forwards(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(raw);
    assert_string_equal(f->name, "fault");
    assert_ptr_equal(f->open, raw->open); /* set-up passes straight through */
    assert_ptr_equal(f->migrate, raw->migrate);
    struct store_user u = new_user("a@example.com"), got;
    assert_int_equal(f->users.create(c, &u, NULL), GH_OK);
    assert_int_equal(f->users.by_id(c, u.id, &got), GH_OK);
    assert_string_equal(got.email, "a@example.com");
    assert_int_equal(f->users.by_id(c, "no-such-user", &got), GH_ERR_NOT_FOUND);
    f->tx.rollback(c); /* cannot fail: not counted */
    assert_int_equal(store_fault_calls(), 3);
    assert_int_equal(store_fault_injected(), 0);
    assert_string_equal(store_fault_call_name(1), "users.create");
    assert_string_equal(store_fault_call_name(3), "users.by_id");
    assert_null(store_fault_call_name(0));
    assert_null(store_fault_call_name(4));
    store_fault_reset();
    assert_int_equal(store_fault_calls(), 0);
}

/* The nth call fails without reaching the backend; the others work. */
static void fails_nth(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(raw);
    struct store_user a = new_user("a@example.com"), b = new_user("bb@example.com"), got;
    store_fault_fail_nth(2);
    assert_int_equal(f->users.create(c, &a, NULL), GH_OK);
    assert_int_equal(f->users.create(c, &b, NULL), GH_ERR_INTERNAL);
    assert_int_equal(f->users.by_id(c, a.id, &got), GH_OK);
    assert_int_equal(store_fault_injected(), 1);
    assert_int_equal(raw->users.by_id(c, b.id, &got), GH_ERR_NOT_FOUND); /* never written */
    store_fault_reset();
}

/* By name: every call of that operation fails, the others work. */
static void fails_by_name(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(raw);
    struct store_user a = new_user("a@example.com"), got;
    store_fault_fail_name("users.by_id");
    assert_int_equal(f->users.create(c, &a, NULL), GH_OK);
    assert_int_equal(f->users.by_id(c, a.id, &got), GH_ERR_INTERNAL);
    assert_int_equal(f->users.by_id(c, a.id, &got), GH_ERR_INTERNAL);
    assert_int_equal(f->users.by_email_key(c, a.email_key, &got), GH_OK);
    assert_int_equal(store_fault_calls(), 4);
    assert_int_equal(store_fault_injected(), 2);
    store_fault_reset();
}

/* A failed commit leaves no transaction open and nothing written, like
 * the store's own commit when it fails. */
static void failed_commit_rolls_back(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(raw);
    struct store_user a = new_user("a@example.com"), got;
    store_fault_fail_name("tx.commit");
    assert_int_equal(f->tx.begin_write(c), GH_OK);
    assert_int_equal(f->users.create(c, &a, NULL), GH_OK);
    assert_int_equal(f->tx.commit(c), GH_ERR_INTERNAL);
    store_fault_reset();
    assert_int_equal(raw->users.by_id(c, a.id, &got), GH_ERR_NOT_FOUND);
    assert_int_equal(raw->tx.begin_write(c), GH_OK); /* no transaction was left open */
    assert_int_equal(raw->tx.commit(c), GH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(counts_and_forwards, setup, teardown),
        cmocka_unit_test_setup_teardown(fails_nth, setup, teardown),
        cmocka_unit_test_setup_teardown(fails_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_commit_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
