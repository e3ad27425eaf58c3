/* Unit tests for src/store/sqlite_import.c (import.user), through the
 * store_ops table on a temporary database: every column as given (name,
 * verified, role, created_at), the confirmed TOTP factor without backup
 * codes, the audit row, a clash of the address writing nothing, a
 * caller's transaction rolled back leaving nothing, the fault injector's
 * entry. */
#include "testutil.h"

#include <sqlite3.h>

#include "core/util.h"
#include "store/fault.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static const char *UID = "00000000-0000-4000-8000-0000000000a1";
static const char *UID2 = "00000000-0000-4000-8000-0000000000a2";

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_import_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static int setup(void **state)
{
    test_rm_db(path);
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

static struct store_user user(const char *id, const char *email, int64_t created, int64_t ver,
                              const char *role)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.email_key, sizeof u.email_key, "%s", email);
    snprintf(u.password_hash, sizeof u.password_hash, "%s",
             "$2y$05$abcdefghijklmnopqrstuuJ3Fv0VNlO4PM6Krhs1wKvbLJ6bcWsHW");
    snprintf(u.role, sizeof u.role, "%s", role);
    u.created_at = created;
    u.email_verified_at = ver;
    return u;
}

static int64_t count(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static void test_columns_as_given(void **state)
{
    struct store_conn *c = *state;
    struct store_user u = user(UID, "ann@example.com", 1500000000, 1600000000, "admin"), got;
    struct store_audit ev = {.actor = "system", .action = "user.imported", .target = UID};
    assert_int_equal(ops->import.user(c, &u, "Ann Example", NULL, &ev), GH_OK);
    assert_int_equal(ops->users.by_id(c, UID, &got), GH_OK);
    assert_string_equal(got.email, "ann@example.com");
    assert_string_equal(got.password_hash, u.password_hash);
    assert_int_equal(got.created_at, 1500000000);
    assert_int_equal(got.updated_at, 1500000000);
    assert_int_equal(got.email_verified_at, 1600000000);
    assert_int_equal(got.tokens_invalidated_at, 0);
    assert_string_equal(got.role, "admin");
    assert_int_equal(count("SELECT COUNT(*) FROM users WHERE name = 'Ann Example'"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.imported'"), 1);
    struct store_totp t;
    assert_int_equal(ops->totp.get(c, UID, &t), GH_ERR_NOT_FOUND);

    /* Not verified: NULL, as for a sign-up; no name: ''. */
    struct store_user v = user(UID2, "bob@example.com", 1500000000, 0, "user");
    assert_int_equal(ops->import.user(c, &v, NULL, NULL, NULL), GH_OK);
    assert_int_equal(ops->users.by_id(c, UID2, &got), GH_OK);
    assert_int_equal(got.email_verified_at, 0);
    assert_int_equal(count("SELECT COUNT(*) FROM users WHERE email_verified_at IS NULL"
                           " AND name = ''"),
                     1);
}

static void test_confirmed_factor(void **state)
{
    struct store_conn *c = *state;
    struct store_user u = user(UID, "ann@example.com", 1500000000, 0, "user");
    assert_int_equal(ops->import.user(c, &u, "", "v1.sealed-secret", NULL), GH_OK);
    struct store_totp t;
    assert_int_equal(ops->totp.get(c, UID, &t), GH_OK);
    assert_string_equal(t.secret_sealed, "v1.sealed-secret");
    assert_true(t.confirmed_at > 0);
    assert_int_equal(t.last_step, -1);
    assert_int_equal(count("SELECT COUNT(*) FROM mfa_backup_codes"), 0);
    /* A factor that exists stops a new enrolment, as a confirmed one does. */
    assert_int_equal(ops->totp.begin(c, UID, "v1.other", gh_now_s()), GH_ERR_CONFLICT);
}

static void test_clash_writes_nothing(void **state)
{
    struct store_conn *c = *state;
    struct store_user u = user(UID, "ann@example.com", 1500000000, 0, "user");
    assert_int_equal(ops->import.user(c, &u, "Ann", NULL, NULL), GH_OK);
    struct store_user dup = user(UID2, "ann@example.com", 1500000000, 0, "admin");
    struct store_audit ev = {.actor = "system", .action = "user.imported", .target = UID2};
    assert_int_equal(ops->import.user(c, &dup, "Other", "v1.x", &ev), GH_ERR_CONFLICT);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM mfa_totp"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM audit_log"), 0);
}

/* In the caller's transaction (a batch): a rollback leaves nothing. */
static void test_batch_rollback(void **state)
{
    struct store_conn *c = *state;
    struct store_user u = user(UID, "ann@example.com", 1500000000, 0, "user");
    struct store_user v = user(UID2, "bob@example.com", 1500000000, 0, "user");
    struct store_audit ev = {.actor = "system", .action = "user.imported", .target = UID};
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->import.user(c, &u, "A", "v1.s", &ev), GH_OK);
    assert_int_equal(ops->import.user(c, &v, "B", NULL, &ev), GH_OK);
    ops->tx.rollback(c);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM mfa_totp"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM audit_log"), 0);
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->import.user(c, &u, "A", "v1.s", &ev), GH_OK);
    assert_int_equal(ops->import.user(c, &v, "B", NULL, &ev), GH_OK);
    assert_int_equal(ops->tx.commit(c), GH_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM audit_log"), 2);
}

static void test_fault_wrap(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(ops);
    store_fault_reset();
    struct store_user u = user(UID, "ann@example.com", 1500000000, 0, "user");
    store_fault_fail_name("import.user");
    assert_int_equal(f->import.user(c, &u, "A", NULL, NULL), GH_ERR_INTERNAL);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);
    store_fault_reset();
    assert_int_equal(f->import.user(c, &u, "A", NULL, NULL), GH_OK);
    assert_string_equal(store_fault_call_name(1), "import.user");
    store_fault_reset();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_columns_as_given), T(test_confirmed_factor), T(test_clash_writes_nothing),
        T(test_batch_rollback),   T(test_fault_wrap),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
