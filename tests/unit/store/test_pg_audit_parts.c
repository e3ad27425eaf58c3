/* The partitions of PostgreSQL's audit_log (migration 21,
 * src/store/migrations.h; prune in src/store/pg_audit.c) on fresh
 * databases made from GATEHOUSE_TEST_PG (a superuser URL), dropped at the
 * end; skipped (77) without it. The conversion of a filled table, appends
 * across partitions of a tiny block, the INSERT past the last partition
 * (refused), audit.extend, a prune that drops whole partitions and deletes
 * the rest (also while appenders run), and the triggers and checks that
 * keep the log append-only. */
#include "testutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/util.h"
#include "store/migrations.h"
#include "store/pg.h"
#include "store/pg_testdb.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static struct pg_testdb main_db, conv_db; /* conv_db: the conversion test's own */
static PGconn *db;                        /* the test's own look at the rows (superuser) */

/* Runs sql on url; 0 if it succeeded. */
static int exec_on(const char *url, const char *sql)
{
    PGconn *a = PQconnectdb(url);
    int ok = PQstatus(a) == CONNECTION_OK;
    PGresult *r = ok ? PQexec(a, sql) : NULL;
    ok = ok && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (!ok) fprintf(stderr, "test_pg_audit_parts: %.200s: %s\n", sql, PQerrorMessage(a));
    PQclear(r);
    PQfinish(a);
    return ok ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    if (pg_testdb_create(&main_db, "pg_parts", 2, true)) return -1;
    db = PQconnectdb(main_db.url);
    return PQstatus(db) == CONNECTION_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(db);
    int a = pg_testdb_drop(&conv_db); /* also shuts the store's pool: last */
    return pg_testdb_drop(&main_db) || a;
}

/* The one value the query returns on conn, as an integer (-1: no row). */
static int64_t q_int_on(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(conn));
    int64_t v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

static int64_t q_int(const char *sql)
{
    return q_int_on(db, sql);
}

/* The statement fails with an error that says why. */
static void refused(const char *sql, const char *why)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_FATAL_ERROR) fail_msg("not refused: %s", sql);
    if (!strstr(PQerrorMessage(db), why)) fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
}

static void ok_sql(const char *sql)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
}

static int64_t partition_exists(const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
             " WHERE i.inhparent = 'audit_log'::regclass AND c.relname = '%s'",
             name);
    return q_int(sql);
}

static void append_n(struct store_conn *c, int n)
{
    struct store_audit ev = {.actor = "u1", .action = "test.append", .target = "u1"};
    for (int i = 0; i < n; i++)
        assert_int_equal(ops->audit.append(c, &ev), GH_OK);
}

/* Migration 21 on a table that already has rows: they stay, in the
 * partition audit_log_p0 up to the block boundary past the newest id,
 * with the triggers, and the next two blocks exist. */
static void test_conversion(void **state)
{
    (void)state;
    assert_int_equal(pg_testdb_create(&conv_db, "pg_parts_conv", 0, false), 0);
    const char *url = conv_db.url;
    PGconn *k = PQconnectdb(url);
    assert_int_equal(PQstatus(k), CONNECTION_OK);
    const struct store_migration *m21 = NULL;
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (m->version == 21) {
            m21 = m;
            continue;
        }
        if (m->version > 21) continue;
        if (m->sql) assert_int_equal(exec_on(url, m->sql), 0);
        /* 20 alters schema_migrations, which pg.c creates first */
        if (m->version == 20)
            assert_int_equal(exec_on(url, "CREATE TABLE schema_migrations"
                                          " (version INTEGER PRIMARY KEY)"),
                             0);
        if (m->pg_sql) assert_int_equal(exec_on(url, m->pg_sql), 0);
    }
    assert_non_null(m21);
    assert_int_equal(
        exec_on(url, "INSERT INTO audit_log SELECT g, 't', 'a', 'x', 'b', '', '', '', '', '', ''"
                     " FROM generate_series(1, 3) g UNION ALL SELECT 10000001, 't', 'a', 'x', 'b',"
                     " '', '', '', '', '', ''"),
        0);
    assert_int_equal(exec_on(url, m21->pg_sql), 0);
    assert_int_equal(q_int_on(k, "SELECT COUNT(*) FROM pg_partitioned_table"
                                 " WHERE partrelid = 'audit_log'::regclass"),
                     1);
    assert_int_equal(q_int_on(k, "SELECT COUNT(*) FROM audit_log_p0"), 4);
    /* p0 ends at the boundary past 10000001; then two blocks ahead */
    PGresult *r = PQexec(k, "SELECT string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound,"
                            " c.oid), '; ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c"
                            " ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0),
                        "audit_log_p0 FOR VALUES FROM (MINVALUE) TO ('20000000'); "
                        "audit_log_p20000000 FOR VALUES FROM ('20000000') TO ('30000000'); "
                        "audit_log_p30000000 FOR VALUES FROM ('30000000') TO ('40000000')");
    PQclear(r);
    /* three statement triggers on the parent and on each partition */
    assert_int_equal(q_int_on(k, "SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal"
                                 " AND tgrelid::regclass::text LIKE 'audit_log%'"),
                     12);
    assert_int_equal(q_int_on(k, "SELECT audit_log_extend()"), 0);
    PQfinish(k);
}

/* Blocks of 10 ids: appends cross partitions, the one past the last
 * partition fails until audit.extend makes more, and a prune drops the
 * old partitions whole and deletes the rest. */
static void test_partitions(void **state)
{
    (void)state;
    struct store_conn *c = NULL;
    assert_int_equal(ops->open("", &c), GH_OK);
    assert_int_equal(q_int("SELECT COUNT(*) FROM pg_partitioned_table"
                           " WHERE partrelid = 'audit_log'::regclass"),
                     1);
    /* Start over with the tiny block (the log is empty). */
    ok_sql("DROP TABLE audit_log_p10000000, audit_log_p20000000;"
           "ALTER TABLE audit_log DETACH PARTITION audit_log_p0; DROP TABLE audit_log_p0;"
           "UPDATE audit_partitioning SET block = 10");
    assert_int_equal(q_int("SELECT audit_log_extend()"), 3); /* ids 0..29 */
    append_n(c, 25);
    usleep(3000); /* rows 1..25 are older than the rest */
    append_n(c, 4);
    assert_int_equal(q_int("SELECT MAX(id) FROM audit_log"), 29);
    /* id 30 has no partition: the append fails, nothing is written */
    struct store_audit ev = {.actor = "u1", .action = "test.append", .target = "u1"};
    assert_int_not_equal(ops->audit.append(c, &ev), GH_OK);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log"), 29);
    int created = -1;
    assert_int_equal(ops->audit.extend(c, &created), GH_OK);
    assert_int_equal(created, 2); /* 30..39, 40..49 */
    assert_int_equal(ops->audit.extend(c, &created), GH_OK);
    assert_int_equal(created, 0);
    append_n(c, 6);
    assert_int_equal(q_int("SELECT MAX(id) FROM audit_log"), 35);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log_p30"), 6);

    /* The partitions are append-only like the parent. */
    refused("DELETE FROM audit_log_p20", "append-only");
    refused("TRUNCATE audit_log_p20", "append-only");
    refused("UPDATE audit_log_p20 SET actor = 'x'", "append-only");
    /* drop_through: only with the gate open, never the newest row */
    refused("SELECT audit_log_drop_through(5)", "append-only");
    ok_sql("BEGIN; UPDATE audit_gate SET open = 1");
    refused("SELECT audit_log_drop_through(35)", "newest row");
    ok_sql("ROLLBACK");
    assert_int_equal(partition_exists("audit_log_p0"), 1);

    /* Prune everything before row 26: p0 (ids 1..9) and p10 (10..19)
     * dropped, 20..25 deleted from p20. */
    PGresult *r = PQexec(db, "SELECT occurred_at FROM audit_log WHERE id = 26");
    assert_int_equal(PQntuples(r), 1);
    char before[64];
    snprintf(before, sizeof before, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQexec(db, "SELECT hash FROM audit_log WHERE id = 25");
    char last_gone[80];
    snprintf(last_gone, sizeof last_gone, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    struct store_audit cp = {.actor = "system", .action = "audit.checkpoint"};
    int64_t deleted = -1;
    assert_int_equal(ops->audit.prune(c, before, &cp, &deleted), GH_OK);
    assert_int_equal(deleted, 25);
    assert_int_equal(partition_exists("audit_log_p0"), 0);
    assert_int_equal(partition_exists("audit_log_p10"), 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM pg_class WHERE relname IN ('audit_log_p0',"
                           " 'audit_log_p10')"),
                     0);
    assert_int_equal(partition_exists("audit_log_p20"), 1);
    assert_int_equal(q_int("SELECT MIN(id) FROM audit_log"), 26);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log"), 11); /* 26..35 and the checkpoint */
    assert_int_equal(q_int("SELECT open FROM audit_gate"), 0);
    r = PQexec(db, "SELECT details FROM audit_log WHERE action = 'audit.checkpoint'");
    assert_int_equal(PQntuples(r), 1);
    char want[256];
    snprintf(want, sizeof want, "{\"continues_from\":\"%s\",\"first_kept_id\":26,\"deleted\":25}",
             last_gone);
    assert_string_equal(PQgetvalue(r, 0, 0), want);
    PQclear(r);
    struct audit_verify_result res;
    assert_int_equal(audit_verify(ops, c, 0, NULL, &res), GH_OK);
    if (!res.ok) fail_msg("chain broken at %lld: %s", (long long)res.bad_id, res.reason);
    assert_int_equal(res.rows, 11);
    ops->close(c);
}

static void *appender(void *arg)
{
    (void)arg;
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return (void *)1;
    struct store_audit ev = {.actor = "u2", .action = "test.append", .target = "u2"};
    intptr_t bad = 0;
    for (int i = 0; i < 40 && !bad; i++)
        bad = ops->audit.append(c, &ev) != GH_OK;
    ops->close(c);
    return (void *)bad;
}

/* Prunes that drop partitions while three appenders run on their own
 * connections: no deadlock (the prune takes the chain locks before the
 * table's), no failed append, one chain. */
static void test_prune_beside_appends(void **state)
{
    (void)state;
    struct store_conn *c = NULL;
    assert_int_equal(ops->open("", &c), GH_OK);
    ok_sql("UPDATE audit_partitioning SET block = 100");
    assert_true(q_int("SELECT audit_log_extend()") > 0); /* up to id 299 */
    ok_sql("UPDATE audit_partitioning SET block = 10");
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, appender, NULL), 0);
    struct store_audit cp = {.actor = "system", .action = "audit.checkpoint"};
    int64_t total = 0;
    for (int i = 0; i < 3; i++) {
        usleep(30000);
        int64_t deleted = 0;
        assert_int_equal(ops->audit.prune(c, "2999-01-01T00:00:00.000000Z", &cp, &deleted), GH_OK);
        total += deleted;
    }
    for (int i = 0; i < 3; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
    assert_true(total > 0);
    /* ids 1..35 and a checkpoint before; 120 appends and 3 checkpoints
     * now, with no gap: nothing failed or was lost */
    assert_int_equal(q_int("SELECT MAX(id) FROM audit_log"), 36 + 120 + 3);
    assert_int_equal(partition_exists("audit_log_p20"), 0); /* dropped whole */
    struct audit_verify_result res;
    assert_int_equal(audit_verify(ops, c, 0, NULL, &res), GH_OK);
    if (!res.ok) fail_msg("chain broken at %lld: %s", (long long)res.bad_id, res.reason);
    assert_int_equal(res.rows, q_int("SELECT COUNT(*) FROM audit_log"));
    ops->close(c);
}

int main(void)
{
    pg_testdb_require("test_pg_audit_parts");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversion),
        cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_prune_beside_appends),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
