/* store/health.c: the disk-class error classification, the messages that
 * name the file and the system error, and the failing/recovered state with
 * its probe (a real write into a migrated SQLite database). */
#include "testutil.h"

#include <sys/stat.h>

#include <sqlite3.h>

#include "store/health.h"
#include "store/store.h"

static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    test_config();
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gh_health_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    const char *sfx[] = {"", "-wal", "-shm"};
    char p[700];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/adir.db", dir);
    rmdir(p);
    rmdir(dir);
    return 0;
}

/* A folder where the database file should be: a disk-class error whose
 * text names the file and the system error; the start message repeats it. */
static void cannot_open_names_file_and_errno(void **state)
{
    (void)state;
    char p[700], why[800];
    snprintf(p, sizeof p, "%s/adir.db", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    struct store_conn *c = NULL;
    assert_int_equal(store_sqlite.open(p, &c), GH_ERR_INTERNAL);
    const char *msg = store_start_error("cannot open the database");
    assert_non_null(strstr(msg, "cannot open the database: unable to open database file"));
    assert_non_null(strstr(msg, "(Is a directory)"));
    assert_non_null(strstr(msg, p));
    sqlite3 *db = NULL;
    (void)sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    assert_true(store_sqlite_describe(db, p, why, sizeof why));
    sqlite3_close(db);
}

/* Statement errors and contention say nothing about the disk. */
static void constraint_is_not_disk_class(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    char why[800];
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x INTEGER PRIMARY KEY)", 0, 0, 0),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO t VALUES (1)", 0, 0, 0), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "INSERT INTO t VALUES (1)", 0, 0, 0), SQLITE_OK);
    assert_false(store_sqlite_describe(db, NULL, why, sizeof why));
    assert_int_not_equal(sqlite3_exec(db, "SELECT nope FROM t", 0, 0, 0), SQLITE_OK);
    assert_false(store_sqlite_describe(db, NULL, why, sizeof why));
    sqlite3_close(db);
}

/* Before serve watches (a CLI command), failures are counted, not tracked;
 * then one episode: failing until the probe's real write commits. */
static void episode_and_probe(void **state)
{
    (void)state;
    uint64_t n0 = store_health_failures_total();
    assert_false(store_health_failed("disk I/O error: /x"));
    assert_true(store_health_writes_ok());
    assert_int_equal(store_health_failures_total(), n0 + 1);

    store_health_watch();
    struct store_conn *c = NULL;
    assert_int_equal(store_sqlite.open(path, &c), GH_OK);
    assert_int_equal(store_sqlite.migrate(c), GH_OK);
    store_health_probe(&store_sqlite, c); /* healthy: writes nothing */
    sqlite3 *db = NULL;
    char n[32] = "";
    assert_true(store_health_failed("database or disk is full (No space left on device): /y"));
    assert_true(store_health_failed("a second failure: the episode keeps its first reason"));
    assert_false(store_health_writes_ok());
    char why[512];
    store_health_reason(why, sizeof why);
    assert_string_equal(why, "database or disk is full (No space left on device): /y");
    store_health_probe(&store_sqlite, c); /* a real write commits: recovered */
    assert_true(store_health_writes_ok());
    store_health_reason(why, sizeof why);
    assert_string_equal(why, "");
    store_sqlite.close(c);
    /* the probe's row is on disk, seen by another connection */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM health_probe", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(n, sizeof n, "%d", sqlite3_column_int(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_string_equal(n, "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cannot_open_names_file_and_errno),
        cmocka_unit_test(constraint_is_not_disk_class),
        cmocka_unit_test(episode_and_probe),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
