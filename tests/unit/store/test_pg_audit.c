/* The PostgreSQL audit log (src/store/pg_audit.c) on a scratch database
 * (pg_testdb.h) made from GATEHOUSE_TEST_PG, dropped at the end; skipped
 * (77) without it. One chain under concurrent appenders on their own
 * connections, list, a scan across pages, bounds, prune through the gate
 * (also two prunes at once), and the triggers of migration 3. */
#include "testutil.h"

#include <libpq-fe.h>
#include <pthread.h>

#include "audit/audit.h"
#include "core/util.h"
#include "store/pg.h"
#include "store/pg_testdb.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static struct pg_testdb tdb; /* the scratch database (pg_testdb.h) */
static PGconn *db;           /* the test's own look at the rows (superuser) */

#define THREADS 6
#define PER_THREAD 60

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    if (pg_testdb_create(&tdb, "pg_audit", THREADS + 2, true)) return -1;
    db = PQconnectdb(tdb.url);
    return PQstatus(db) == CONNECTION_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(db);
    return pg_testdb_drop(&tdb);
}

static int setup(void **state)
{
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    return 0;
}

/* The one value the query returns, as an integer (-1: no row). */
static int64_t q_int(const char *sql)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(db));
    int64_t v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

/* The statement fails with `audit_log is append-only`. */
static void refused(const char *sql)
{
    PGresult *r = PQexec(db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_non_null(strstr(PQerrorMessage(db), "audit_log is append-only"));
    PQclear(r);
}

/* The chain as the verifier sees it: ok, with rows rows. */
static void chain_ok(struct store_conn *c, int64_t rows)
{
    struct audit_verify_result res;
    assert_int_equal(audit_verify(ops, c, 0, NULL, &res), GH_OK);
    if (!res.ok) fail_msg("chain broken at %lld: %s", (long long)res.bad_id, res.reason);
    assert_int_equal(res.rows, rows);
}

static void *appender(void *arg)
{
    const char *who = arg;
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return (void *)1;
    struct store_audit ev = {.actor = who, .action = "test.append", .target = who};
    intptr_t bad = 0;
    for (int i = 0; i < PER_THREAD && !bad; i++)
        bad = ops->audit.append(c, &ev) != GH_OK;
    ops->close(c);
    return (void *)bad;
}

/* Appenders on their own connections at once: one chain, ids 1..N. */
static void test_concurrent_chain(void **state)
{
    struct store_conn *c = *state;
    static char names[THREADS][24];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        snprintf(names[i], sizeof names[i], "actor-%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, appender, names[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
    int64_t n = THREADS * PER_THREAD;
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log"), n);
    assert_int_equal(q_int("SELECT MAX(id) FROM audit_log"), n);
    assert_int_equal(q_int("SELECT COUNT(DISTINCT prev_hash) FROM audit_log"), n);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log a JOIN audit_log b ON b.id = a.id + 1"
                           " WHERE b.prev_hash <> a.hash"),
                     0);
    chain_ok(c, n);
    int64_t min = 0, max = 0, count = 0;
    assert_int_equal(ops->audit.bounds(c, &min, &max, &count), GH_OK);
    assert_int_equal(min, 1);
    assert_int_equal(max, n);
    assert_int_equal(count, n);
}

static void test_list(void **state)
{
    struct store_conn *c = *state;
    struct store_audit mine = {.actor = "someone",
                               .action = "test.list",
                               .target = "subject-1",
                               .ip = "192.0.2.1",
                               .user_agent = "ua",
                               .request_id = "rq",
                               .details = "{\"k\":1}"};
    struct store_audit by = {.actor = "subject-1", .action = "test.list2"};
    assert_int_equal(ops->audit.append(c, &mine), GH_OK);
    assert_int_equal(ops->audit.append(c, &by), GH_OK);
    struct store_audit_row rows[4];
    size_t n = 0;
    assert_int_equal(ops->audit.list(c, "subject-1", 0, rows, 4, &n), GH_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].action, "test.list2"); /* newest first */
    assert_string_equal(rows[1].action, "test.list");
    assert_string_equal(rows[1].ip, "192.0.2.1");
    assert_string_equal(rows[1].user_agent, "ua");
    assert_string_equal(rows[1].request_id, "rq");
    assert_string_equal(rows[1].details, "{\"k\":1}");
    assert_string_equal(rows[0].prev_hash, rows[1].hash);
    assert_int_equal(strlen(rows[1].occurred_at), 27);
    int64_t newest = rows[0].id;
    for (size_t i = 0; i < n; i++)
        store_audit_row_clear(&rows[i]);
    assert_int_equal(ops->audit.list(c, "subject-1", newest, rows, 4, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].action, "test.list");
    store_audit_row_clear(&rows[0]);
    assert_int_equal(ops->audit.list(c, "subject-1", 0, rows, 1, &n), GH_OK);
    assert_int_equal(n, 1);
    store_audit_row_clear(&rows[0]);
    assert_int_equal(ops->audit.list(c, "nobody", 0, rows, 4, &n), GH_OK);
    assert_int_equal(n, 0);
}

struct walk {
    int64_t rows, last, stop_at;
    bool ordered;
};

static int walk_row(void *arg, const struct store_audit_row *row)
{
    struct walk *w = arg;
    if (row->id <= w->last) w->ordered = false;
    w->last = row->id;
    w->rows++;
    return w->stop_at && w->rows >= w->stop_at;
}

/* More rows than a page (2000): the scan goes on across pages, in order,
 * within (after, upto], and stops when told to in the middle of a page. */
static void test_scan_pages(void **state)
{
    struct store_conn *c = *state;
    struct store_audit ev = {.actor = "system", .action = "test.fill"};
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    for (int i = 0; i < 4500; i++)
        assert_int_equal(ops->audit.append(c, &ev), GH_OK);
    assert_int_equal(ops->tx.commit(c), GH_OK);
    int64_t min = 0, max = 0, count = 0;
    assert_int_equal(ops->audit.bounds(c, &min, &max, &count), GH_OK);
    assert_true(count > 4500);

    struct walk w = {.ordered = true};
    assert_int_equal(ops->audit.scan(c, 0, 0, walk_row, &w), GH_OK);
    assert_int_equal(w.rows, count);
    assert_int_equal(w.last, max);
    assert_true(w.ordered);

    w = (struct walk){.ordered = true, .last = 10};
    assert_int_equal(ops->audit.scan(c, 10, 4010, walk_row, &w), GH_OK);
    assert_int_equal(w.rows, 4000);
    assert_int_equal(w.last, 4010);
    assert_true(w.ordered);

    w = (struct walk){.ordered = true, .stop_at = 2500};
    assert_int_equal(ops->audit.scan(c, 0, 0, walk_row, &w), GH_OK);
    assert_int_equal(w.rows, 2500);
    assert_int_equal(w.last, 2500);

    ops->audit.tune_for_scan(c);
    chain_ok(c, count);
}

/* Migration 3: UPDATE, TRUNCATE and DELETE fail even for the superuser
 * that owns the tables; DELETE passes only while the gate is open. */
static void test_triggers(void **state)
{
    (void)state;
    refused("UPDATE audit_log SET actor = 'x' WHERE id = 1");
    refused("UPDATE audit_log SET actor = actor WHERE false");
    refused("DELETE FROM audit_log WHERE id = 1");
    refused("TRUNCATE audit_log");
    /* A temporary table named audit_gate does not open the gate. */
    PGresult *r = PQexec(db, "CREATE TEMP TABLE audit_gate (id INTEGER, open INTEGER);"
                             "INSERT INTO audit_gate VALUES (1, 1)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    refused("DELETE FROM audit_log WHERE id = 1");
    r = PQexec(db, "DROP TABLE pg_temp.audit_gate");
    PQclear(r);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log WHERE id = 1"), 1);
}

struct pruner {
    const char *before;
    int64_t deleted;
    enum gh_err rc;
};

static void *pruner(void *arg)
{
    struct pruner *p = arg;
    struct store_conn *c = NULL;
    if ((p->rc = ops->open("", &c))) return NULL;
    struct store_audit ev = {.actor = "system", .action = "audit.checkpoint"};
    p->rc = ops->audit.prune(c, p->before, &ev, &p->deleted);
    ops->close(c);
    return NULL;
}

/* Retention: everything but the newest row goes, a checkpoint follows,
 * the chain still verifies; two prunes at once run one after the other. */
static void test_prune(void **state)
{
    struct store_conn *c = *state;
    int64_t min = 0, max = 0, count = 0;
    assert_int_equal(ops->audit.bounds(c, &min, &max, &count), GH_OK);
    struct store_audit ev = {.actor = "system", .action = "audit.checkpoint"};
    int64_t deleted = -1;
    assert_int_equal(ops->audit.prune(c, "2000-01-01T00:00:00.000000Z", &ev, &deleted), GH_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log"), count);

    char hash_of_last_gone[80];
    PGresult *r = PQexec(db, "SELECT hash FROM audit_log ORDER BY id DESC OFFSET 1 LIMIT 1");
    assert_int_equal(PQntuples(r), 1);
    snprintf(hash_of_last_gone, sizeof hash_of_last_gone, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    struct pruner p[2] = {{.before = "2999-01-01T00:00:00.000000Z"},
                          {.before = "2999-01-01T00:00:00.000000Z"}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pruner, &p[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(p[0].rc, GH_OK);
    assert_int_equal(p[1].rc, GH_OK);
    /* The first removes all but the newest row and appends its
     * checkpoint; the second then removes that newest row (its checkpoint
     * is newer still). */
    int64_t first = p[0].deleted > p[1].deleted ? p[0].deleted : p[1].deleted;
    int64_t second = p[0].deleted > p[1].deleted ? p[1].deleted : p[0].deleted;
    assert_int_equal(first, count - 1);
    assert_int_equal(second, 1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log"), 2);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.checkpoint'"), 2);
    assert_int_equal(q_int("SELECT MIN(id) FROM audit_log"), max + 1);
    assert_int_equal(q_int("SELECT open FROM audit_gate"), 0);
    r = PQexec(db, "SELECT details FROM audit_log ORDER BY id LIMIT 1");
    char want[256];
    snprintf(want, sizeof want,
             "{\"continues_from\":\"%s\",\"first_kept_id\":%lld,\"deleted\":%lld}",
             hash_of_last_gone, (long long)max, (long long)(count - 1));
    assert_string_equal(PQgetvalue(r, 0, 0), want);
    PQclear(r);
    chain_ok(c, 2);

    /* Appending goes on from the checkpoint. */
    struct store_audit more = {.actor = "system", .action = "test.after"};
    assert_int_equal(ops->audit.append(c, &more), GH_OK);
    chain_ok(c, 3);
}

/* The grants of migrate (pg_roles.c): every table of the schema is usable
 * by the runtime group (a table added by a migration but not to the
 * grants fails here), and the audit tables only as docs/postgresql.md
 * says. The group roles are cluster-wide: made here if missing. */
static void test_grants(void **state)
{
    struct store_conn *c = *state;
    PGresult *r =
        PQexec(db, "DO $$ BEGIN"
                   " CREATE ROLE gatehouse_runtime NOLOGIN;"
                   " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
                   "DO $$ BEGIN"
                   " CREATE ROLE gatehouse_retention NOLOGIN;"
                   " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(ops->migrate(c), GH_OK); /* nothing pending: the grants again */
    assert_int_equal(q_int("SELECT COUNT(*) FROM pg_class WHERE relkind IN ('r', 'p')"
                           " AND NOT relispartition AND relnamespace = 'public'::regnamespace"
                           " AND NOT has_table_privilege('gatehouse_runtime', oid, 'SELECT')"),
                     0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM pg_class WHERE relkind IN ('r', 'p')"
                           " AND NOT relispartition AND relnamespace = 'public'::regnamespace"
                           " AND relname NOT IN ('audit_log', 'audit_gate', 'schema_migrations',"
                           " 'audit_partitioning')"
                           " AND NOT (has_table_privilege('gatehouse_runtime', oid, 'INSERT')"
                           " AND has_table_privilege('gatehouse_runtime', oid, 'UPDATE')"
                           " AND has_table_privilege('gatehouse_runtime', oid, 'DELETE'))"),
                     0);
    assert_true(q_int("SELECT COUNT(*) FROM pg_class WHERE relkind IN ('r', 'p')"
                      " AND NOT relispartition AND relnamespace = 'public'::regnamespace") >= 19);
    /* The partitions of audit_log: no grant at all (reached through
     * audit_log, whose triggers and grants apply). */
    assert_true(q_int("SELECT COUNT(*) FROM pg_class WHERE relispartition"
                      " AND relname LIKE 'audit_log_p%'") >= 3);
    assert_int_equal(q_int("SELECT COUNT(*) FROM pg_class WHERE relispartition"
                           " AND relname LIKE 'audit_log_p%' AND relacl IS NOT NULL"),
                     0);
    /* The two functions of migration 21, in this order: runtime may run
     * extend, not drop_through; retention the other way round; PUBLIC
     * (any role) neither. */
    PGresult *f = PQexec(
        db, "SELECT concat("
            "has_function_privilege('gatehouse_runtime', 'audit_log_extend()', 'EXECUTE')::int,"
            "has_function_privilege('gatehouse_runtime', 'audit_log_drop_through(bigint)',"
            " 'EXECUTE')::int,"
            "has_function_privilege('gatehouse_retention', 'audit_log_extend()', 'EXECUTE')::int,"
            "has_function_privilege('gatehouse_retention', 'audit_log_drop_through(bigint)',"
            " 'EXECUTE')::int,"
            "(SELECT COUNT(*) FROM pg_proc, aclexplode(proacl) a WHERE proname IN"
            " ('audit_log_extend', 'audit_log_drop_through') AND a.grantee = 0))");
    assert_int_equal(PQresultStatus(f), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(f, 0, 0), "10010");
    PQclear(f);
    /* 1 = the privilege is held, in this order: runtime on audit_log
     * INSERT, UPDATE, DELETE, TRUNCATE; on audit_gate UPDATE; retention on
     * audit_log DELETE, UPDATE; on audit_gate UPDATE; on users SELECT. */
    PGresult *p = PQexec(
        db, "SELECT concat(has_table_privilege('gatehouse_runtime', 'audit_log', 'INSERT')::int"
            ", has_table_privilege('gatehouse_runtime', 'audit_log', 'UPDATE')::int"
            ", has_table_privilege('gatehouse_runtime', 'audit_log', 'DELETE')::int"
            ", has_table_privilege('gatehouse_runtime', 'audit_log', 'TRUNCATE')::int"
            ", has_table_privilege('gatehouse_runtime', 'audit_gate', 'UPDATE')::int"
            ", has_table_privilege('gatehouse_retention', 'audit_log', 'DELETE')::int"
            ", has_table_privilege('gatehouse_retention', 'audit_log', 'UPDATE')::int"
            ", has_table_privilege('gatehouse_retention', 'audit_gate', 'UPDATE')::int"
            ", has_table_privilege('gatehouse_retention', 'users', 'SELECT')::int)");
    assert_int_equal(PQresultStatus(p), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(p, 0, 0), "100001010");
    PQclear(p);
}

int main(void)
{
    pg_testdb_require("test_pg_audit");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
