/* Unit tests for src/import/import_run.c on a temporary database: batches
 * of IMPORT_BATCH in one transaction each (a store failure in the second
 * batch keeps the first and rolls back the second; the rerun imports the
 * rest and skips the rest), the exit statuses, --dry-run writing nothing,
 * duplicates inside the file and in the store, identities linked. */
#include "testutil.h"

#include <sqlite3.h>

#include "import/import_run.h"
#include "import/sources.h"
#include "store/fault.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600], file[700];

static int group_setup(void **state)
{
    (void)state;
    if (test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_import_run_")) return -1;
    snprintf(file, sizeof file, "%s/in.jsonl", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(file);
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

/* n accounts u0..u(n-1), each with a google identity. */
static void write_accounts(size_t n)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "{\"email\":\"u%zu@example.com\",\"identities\":[{\"provider\":\"google\","
                "\"subject\":\"s%zu\"}]}\n",
                i, i);
    fclose(f);
}

/* Runs the import of file through ops o; the report into report. */
static int run(const struct store_ops *o, struct store_conn *c, bool dry, char *report, size_t cap)
{
    struct import_source src;
    char why[256];
    assert_int_equal(import_users_open(file, &src, why, sizeof why), GH_OK);
    FILE *out = fmemopen(report, cap, "w");
    assert_non_null(out);
    int rc = import_run(o, c, &src, dry, out);
    fclose(out);
    import_source_close(&src);
    return rc;
}

static void test_batches_and_store_failure(void **state)
{
    struct store_conn *c = *state;
    static char report[1 << 16];
    const size_t n = IMPORT_BATCH + 100;
    write_accounts(n);
    const struct store_ops *f = store_fault_wrap(ops);

    /* Count the calls of the first batch on a dry run (the same reads). */
    store_fault_reset();
    assert_int_equal(run(f, c, true, report, sizeof report), 0);
    unsigned per_line = store_fault_calls() / (unsigned)n; /* by_email_key, by_subject */
    assert_int_equal(per_line, 2);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);

    /* Fail a call in the second batch: the first stays, the second is rolled back. */
    unsigned first_batch = 1 + IMPORT_BATCH * 4 + 1; /* begin, 4 calls a line, commit */
    store_fault_fail_nth(first_batch + 1 + 4 * 10 + 3);
    assert_int_equal(run(f, c, false, report, sizeof report), 2);
    assert_int_equal(store_fault_injected(), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), IMPORT_BATCH);
    assert_int_equal(count("SELECT COUNT(*) FROM identities"), IMPORT_BATCH);
    store_fault_reset();

    /* The rerun: the rest is imported, the first batch skipped. */
    assert_int_equal(run(ops, c, false, report, sizeof report), 0);
    assert_non_null(strstr(report, "imported: 100\nskipped: 500\nrefused: 0\n"));
    assert_non_null(strstr(report, "line 1: skipped: an account with this address exists\n"));
    assert_int_equal(count("SELECT COUNT(*) FROM users"), (int64_t)n);
    assert_int_equal(count("SELECT COUNT(*) FROM identities"), (int64_t)n);
    /* And a third run changes nothing. */
    assert_int_equal(run(ops, c, false, report, sizeof report), 0);
    assert_non_null(strstr(report, "imported: 0\nskipped: 600\n"));
}

static void test_duplicates_refusals_dry_run(void **state)
{
    struct store_conn *c = *state;
    static char report[8192], dry[8192];
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("{\"email\":\"a@example.com\",\"identities\":[{\"provider\":\"google\",\"subject\":\"1\"}"
          "]}\n"
          "{\"email\":\"A@EXAMPLE.com\"}\n"
          "\n"
          "{\"email\":\"b@example.com\",\"identities\":[{\"provider\":\"google\",\"subject\":\"1\"}"
          "]}\n"
          "{\"email\":\"c@example.com\",\"role\":\"owner\"}\n"
          "{\"email\":\"c@example.com\",\"password_hash\":\"plaintext\"}\n"
          "{\"email\":\"c@example.com\",\"name\":\"C\"}\n",
          f);
    fclose(f);
    assert_int_equal(run(ops, c, true, dry, sizeof dry), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);
    assert_int_equal(run(ops, c, false, report, sizeof report), 1);
    assert_string_equal(dry + strlen("dry run: nothing was written\n"), report);
    assert_true(!strncmp(dry, "dry run: nothing was written\n", 29));
    assert_non_null(strstr(report, "imported: 2\nskipped: 2\nrefused: 2\n"
                                   "line 2: skipped: line 1 of this file has the same address\n"
                                   "line 4: skipped: line 1 of this file has the same google "
                                   "identity\n"
                                   "line 5: refused: role: must be \"user\" or \"admin\"\n"
                                   "line 6: refused: password_hash: "));
    assert_int_equal(count("SELECT COUNT(*) FROM users WHERE email = 'c@example.com' AND name = 'C'"
                           " AND password_hash = '!'"),
                     1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_batches_and_store_failure),
        T(test_duplicates_refusals_dry_run),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
