/* Unit tests for src/store/schema.c (what applied migrations mean for this
 * release) and the SQLite backend's side of it: schema_read, the refusal
 * of an unknown applied migration not marked compatible, migration 20's
 * column and backfill on a database migrated before it, and migrate never
 * touching rows it does not know. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "store/migrations.h"
#include "store/schema.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_schema_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static int setup(void **state)
{
    (void)state;
    test_rm_db(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_db(path);
    return 0;
}

/* Runs SQL on the file directly (the way another release would). */
static void raw(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    int r = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (r != SQLITE_OK) fprintf(stderr, "raw: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    assert_int_equal(r, SQLITE_OK);
}

/* The one integer the query returns. */
static int64_t raw_int(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static struct store_conn *open_db(void)
{
    struct store_conn *c = NULL;
    assert_int_equal(ops->open(path, &c), GH_OK);
    return c;
}

static void migrate_fresh(void)
{
    struct store_conn *c = open_db();
    assert_int_equal(ops->migrate(c), GH_OK);
    ops->close(c);
}

/* ---- the verdict, without a database ---- */

static void test_verdict_known_only(void **state)
{
    (void)state;
    struct store_schema s;
    store_schema_init(&s);
    assert_false(s.table);
    assert_int_equal(store_schema_pending_count(&s), (int)STORE_MIGRATION_COUNT);
    store_schema_add(&s, 1, 0, 100);
    store_schema_add(&s, 2, 0, 0); /* a time of 0 is still applied */
    store_schema_add(&s, 2, 0, 5); /* counted once */
    assert_true(s.table);
    assert_int_equal(s.known_applied, 2);
    assert_true(s.applied_at[1] > 0);
    assert_int_equal(store_schema_pending_count(&s), (int)STORE_MIGRATION_COUNT - 2);
    assert_int_equal(store_schema_judge(&s), GH_OK);
    assert_int_equal(store_schema_newest_known(),
                     store_migrations[STORE_MIGRATION_COUNT - 1].version);
}

static void test_verdict_unknown(void **state)
{
    (void)state;
    struct store_schema s;
    store_schema_init(&s);
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++)
        store_schema_add(&s, store_migrations[i].version, store_migrations[i].compatible, 1);
    int newest = store_schema_newest_known();
    store_schema_add(&s, newest + 1, 1, 10);
    assert_int_equal(store_schema_judge(&s), GH_OK); /* compatible: runs, warns */
    assert_int_equal(store_schema_pending_count(&s), 0);
    store_schema_add(&s, newest + 2, 0, 11);
    assert_int_equal(store_schema_judge(&s), GH_ERR_CONFLICT);
    char list[256];
    store_schema_unknown_list(&s, true, list, sizeof list);
    char want[64];
    snprintf(want, sizeof want, "%d", newest + 2);
    assert_string_equal(list, want);
    store_schema_unknown_list(&s, false, list, sizeof list);
    snprintf(want, sizeof want, "%d, %d", newest + 1, newest + 2);
    assert_string_equal(list, want);
}

/* More unknown rows than are kept: counted, and the list says how many more. */
static void test_verdict_many_unknown(void **state)
{
    (void)state;
    struct store_schema s;
    store_schema_init(&s);
    for (int v = 1000; v < 1000 + STORE_SCHEMA_UNKNOWN_MAX + 3; v++)
        store_schema_add(&s, v, 1, 1);
    assert_int_equal(s.unknown, STORE_SCHEMA_UNKNOWN_MAX + 3);
    assert_int_equal(s.unknown_incompatible, 0);
    assert_int_equal(store_schema_judge(&s), GH_OK);
    store_schema_add(&s, 5000, 0, 1); /* not kept in the list, still counted */
    assert_int_equal(store_schema_judge(&s), GH_ERR_CONFLICT);
    char list[512];
    store_schema_unknown_list(&s, true, list, sizeof list);
    assert_string_equal(list, " (1 more)");
    store_schema_unknown_list(&s, false, list, sizeof list);
    assert_non_null(strstr(list, "1000, 1001"));
    assert_non_null(strstr(list, "(4 more)"));
    char tiny[6]; /* truncated, still terminated */
    store_schema_unknown_list(&s, false, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

/* ---- SQLite ---- */

static void test_new_file(void **state)
{
    (void)state;
    struct store_conn *c = open_db();
    struct store_schema s;
    store_schema_init(&s);
    assert_int_equal(ops->schema_read(c, &s), GH_OK);
    assert_false(s.table);
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, (int)STORE_MIGRATION_COUNT);
    ops->close(c);
}

/* Each recorded flag is the table's: the backfill (migration 20) for those
 * before it, the insert for the others. */
static void test_flags_recorded(void **state)
{
    (void)state;
    migrate_fresh();
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT compatible FROM schema_migrations"
                                        " WHERE version = ?1",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int(q, 1, store_migrations[i].version);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        if (sqlite3_column_int(q, 0) != store_migrations[i].compatible)
            fail_msg("migration %d: recorded %d, table %d", store_migrations[i].version,
                     sqlite3_column_int(q, 0), store_migrations[i].compatible);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    struct store_conn *c = open_db();
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 0);
    ops->close(c);
}

/* A database the release before migration 20 made: schema_migrations
 * without the column. Its rows read as not compatible until migrate adds
 * the column and backfills it. */
static void test_upgrade_adds_column(void **state)
{
    (void)state;
    raw("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at BIGINT NOT NULL)");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (m->version >= STORE_MIGRATION_COMPAT_COLUMN) break;
        if (m->sql) assert_int_equal(sqlite3_exec(db, m->sql, NULL, NULL, NULL), SQLITE_OK);
        if (m->sqlite_sql)
            assert_int_equal(sqlite3_exec(db, m->sqlite_sql, NULL, NULL, NULL), SQLITE_OK);
        char ins[160];
        snprintf(ins, sizeof ins, "INSERT INTO schema_migrations VALUES (%d, 'm', 1700000000)",
                 m->version);
        assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL), SQLITE_OK);
    }
    sqlite3_close(db);

    struct store_conn *c = open_db();
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    int before = 0;
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++)
        before += store_migrations[i].version < STORE_MIGRATION_COMPAT_COLUMN;
    assert_int_equal(n, (int)STORE_MIGRATION_COUNT - before);
    assert_int_equal(ops->migrate(c), GH_OK);
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 0);
    ops->close(c);
    int64_t want = 0;
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++)
        want += store_migrations[i].compatible;
    assert_int_equal(raw_int("SELECT SUM(compatible) FROM schema_migrations"), want);
    assert_int_equal(raw_int("SELECT applied_at FROM schema_migrations WHERE version = 1"),
                     1700000000);
}

/* Before the column exists, a row this release does not know counts as
 * not compatible (fail closed). */
static void test_legacy_unknown_refused(void **state)
{
    (void)state;
    raw("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at BIGINT NOT NULL);"
        "INSERT INTO schema_migrations VALUES (1, 'm', 1), (999, 'future', 2)");
    struct store_conn *c = open_db();
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_ERR_CONFLICT);
    ops->close(c);
}

static void test_unknown_incompatible_refused(void **state)
{
    (void)state;
    migrate_fresh();
    raw("INSERT INTO schema_migrations (version, name, applied_at, compatible)"
        " VALUES (999, 'future', 1800000000, 0)");
    struct store_conn *c = open_db();
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_ERR_CONFLICT);
    struct store_schema s;
    store_schema_init(&s);
    assert_int_equal(ops->schema_read(c, &s), GH_OK);
    assert_int_equal(s.unknown, 1);
    assert_int_equal(s.unknown_incompatible, 1);
    assert_int_equal(s.unknowns[0].version, 999);
    assert_int_equal(s.unknowns[0].applied_at, 1800000000);
    assert_int_equal(store_schema_pending_count(&s), 0);
    /* migrate itself never downgrades nor touches the row it does not know */
    assert_int_equal(ops->migrate(c), GH_OK);
    ops->close(c);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM schema_migrations WHERE version = 999"
                             " AND compatible = 0 AND applied_at = 1800000000"),
                     1);
}

static void test_unknown_compatible_runs(void **state)
{
    (void)state;
    migrate_fresh();
    raw("INSERT INTO schema_migrations (version, name, applied_at, compatible)"
        " VALUES (999, 'future', 1800000000, 1), (1000, 'future 2', 1800000001, 1)");
    struct store_conn *c = open_db();
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 0);
    ops->close(c);
    /* one of them not compatible: refused */
    raw("UPDATE schema_migrations SET compatible = 0 WHERE version = 1000");
    c = open_db();
    assert_int_equal(ops->pending_migrations(c, &n), GH_ERR_CONFLICT);
    ops->close(c);
}

/* A known migration missing from the table is pending even when a newer
 * one is applied (counted by version, not by the highest). */
static void test_gap_is_pending(void **state)
{
    (void)state;
    migrate_fresh();
    raw("DELETE FROM schema_migrations WHERE version = 19");
    struct store_conn *c = open_db();
    int n = -1;
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 1);
    ops->close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_known_only),
        cmocka_unit_test(test_verdict_unknown),
        cmocka_unit_test(test_verdict_many_unknown),
        cmocka_unit_test_setup_teardown(test_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_adds_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_unknown_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_incompatible_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_compatible_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_is_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
