/* Unit tests for src/store/pg_pool.c and pg.c against a real PostgreSQL:
 * GATEHOUSE_TEST_PG=<superuser URL> (scripts/pg_cluster.sh start prints
 * one). Without it every test is skipped (and reported so). Each test
 * gets a database of its own, dropped after: SQLSTATE mapping, bytea and
 * NULL reads, an exhausted pool, a terminated backend and the backoff,
 * a failed statement inside a transaction, and concurrent migrations. */
#include "testutil.h"

#include <pthread.h>
#include <time.h>

#include "store/migrations.h"
#include "store/pg.h"
#include "store/pg_internal.h"
#include "store/pg_testdb.h"

static struct pg_testdb tdb; /* a scratch database per test (pg_testdb.h) */

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs fixed admin SQL (identifiers made here, never from input). */
static void admin_exec(const char *sql)
{
    if (pg_testdb_admin(&tdb, sql)) fail_msg("admin SQL failed: %s", sql);
}

static int setup(void **state)
{
    (void)state;
    if (!pg_testdb_wanted()) return 0;
    return pg_testdb_create(&tdb, "pool", 2, false);
}

static int teardown(void **state)
{
    (void)state;
    return pg_testdb_drop(&tdb); /* also lets connections in again */
}

#define NEED_PG()                                                                                  \
    do {                                                                                           \
        if (!tdb.admin) {                                                                          \
            print_message("GATEHOUSE_TEST_PG is not set: skipped\n");                              \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static const char SQL_T[] = "CREATE TABLE t (id TEXT PRIMARY KEY, b BYTEA, n BIGINT)";
static const char SQL_INS[] = "INSERT INTO t (id, b, n) VALUES ($1, $2, $3)";
static const char SQL_GET[] = "SELECT id, b, n FROM t WHERE id = $1";
static const char SQL_NULLS[] = "SELECT NULL::text, NULL::bigint, NULL::bytea, $1::text";
static const char SQL_PID[] = "SELECT pg_backend_pid()";
static const char SQL_ONE[] = "SELECT 1";
static const char SQL_BAD[] = "SELECT 1 / 0";

static struct store_conn *conn(void)
{
    struct store_conn *c = NULL;
    assert_int_equal(store_pg.open("ignored", &c), GH_OK);
    return c;
}

static void make_table(struct store_conn *c)
{
    assert_int_equal(pg_exec(c, SQL_T, "create", NULL, 0, NULL, NULL), GH_OK);
}

static void test_conflict_is_mapped(void **state)
{
    (void)state;
    NEED_PG();
    struct store_conn *c = conn();
    make_table(c);
    uint8_t b[1] = {7};
    int64_t n = 0;
    assert_int_equal(PG_COUNT(c, SQL_INS, "ins", &n, PG_TEXT("a"), PG_BYTEA(b, 1), PG_INT(1)),
                     GH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(PG_RUN(c, SQL_INS, "ins", PG_TEXT("a"), PG_BYTEA(b, 1), PG_INT(2)),
                     GH_ERR_CONFLICT);
    /* Any other error is internal: a bug, not a lost race. */
    assert_int_equal(pg_exec(c, SQL_BAD, "bad", NULL, 0, NULL, NULL), GH_ERR_INTERNAL);
    store_pg.close(c);
}

static void test_bytea_round_trip(void **state)
{
    (void)state;
    NEED_PG();
    struct store_conn *c = conn();
    make_table(c);
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    assert_int_equal(
        PG_RUN(c, SQL_INS, "ins", PG_TEXT("x"), PG_BYTEA(in, sizeof in), PG_INT(-9000000000LL)),
        GH_OK);
    PGresult *r = NULL;
    assert_int_equal(PG_QUERY(c, SQL_GET, "get", &r, PG_TEXT("x")), GH_OK);
    assert_int_equal(pg_rows(r), 1);
    size_t len = 0;
    assert_int_equal(pg_bytea(r, 0, 1, out, sizeof out, &len), GH_OK);
    assert_int_equal(len, sizeof in);
    assert_memory_equal(in, out, sizeof in);
    assert_int_equal(pg_int(r, 0, 2), -9000000000LL);
    /* A value longer than the buffer is refused, not cut. */
    assert_int_equal(pg_bytea(r, 0, 1, out, 255, &len), GH_ERR_INTERNAL);
    char id[2];
    pg_text(r, 0, 0, id, sizeof id);
    assert_string_equal(id, "x");
    PQclear(r);
    store_pg.close(c);
}

static void test_null_reads(void **state)
{
    (void)state;
    NEED_PG();
    struct store_conn *c = conn();
    PGresult *r = NULL;
    assert_int_equal(PG_QUERY(c, SQL_NULLS, "nulls", &r, PG_TEXT(NULL)), GH_OK);
    for (int col = 0; col < 4; col++)
        assert_true(pg_isnull(r, 0, col));
    assert_string_equal(pg_str(r, 0, 0), "");
    assert_int_equal(pg_int(r, 0, 1), 0);
    uint8_t b[4];
    size_t len = 99;
    assert_int_equal(pg_bytea(r, 0, 2, b, sizeof b, &len), GH_OK);
    assert_int_equal(len, 0);
    /* Out of range reads as NULL too. */
    assert_true(pg_isnull(r, 5, 0));
    assert_string_equal(pg_str(r, 0, 9), "");
    PQclear(r);
    store_pg.close(c);
}

/* Pool of 1, held by an open transaction: another statement waits about
 * five seconds, then is GH_ERR_UNAVAILABLE; once given back, it runs. */
static void test_pool_exhaustion(void **state)
{
    (void)state;
    NEED_PG();
    assert_int_equal(store_pg_use(tdb.url, 1), GH_OK);
    struct store_conn *a = conn(), *b = conn();
    assert_int_equal(store_pg.tx.begin_write(a), GH_OK);
    int64_t t0 = ms_now();
    assert_int_equal(pg_exec(b, SQL_ONE, "one", NULL, 0, NULL, NULL), GH_ERR_UNAVAILABLE);
    int64_t waited = ms_now() - t0;
    assert_true(waited >= 4900 && waited < 8000);
    /* The pool cannot be repointed while a link is borrowed. */
    assert_int_equal(store_pg_use(tdb.url, 1), GH_ERR_BUSY);
    store_pg.tx.rollback(a);
    assert_int_equal(pg_exec(b, SQL_ONE, "one", NULL, 0, NULL, NULL), GH_OK);
    store_pg.close(a);
    store_pg.close(b);
}

static int64_t backend_pid(struct store_conn *c)
{
    PGresult *r = NULL;
    assert_int_equal(pg_exec(c, SQL_PID, "pid", NULL, 0, &r, NULL), GH_OK);
    int64_t pid = pg_int(r, 0, 0);
    PQclear(r);
    return pid;
}

static void terminate(int64_t pid)
{
    char sql[100];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", (long long)pid);
    admin_exec(sql);
    usleep(100 * 1000); /* the backend's goodbye reaches the socket */
}

static void allow_connections(bool yes)
{
    char sql[200];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS %s", tdb.name,
             yes ? "true" : "false");
    admin_exec(sql);
}

/* An idle link whose backend was terminated is found dead before use and
 * reconnected; while the database refuses connections the request is
 * GH_ERR_UNAVAILABLE, then at once during the backoff (no connection
 * attempt); after the backoff it recovers without a restart. */
static void test_lost_connection_backoff(void **state)
{
    (void)state;
    NEED_PG();
    assert_int_equal(store_pg_use(tdb.url, 1), GH_OK);
    struct store_conn *c = conn();
    int64_t pid = backend_pid(c);
    terminate(pid);
    int64_t pid2 = backend_pid(c); /* reconnected transparently: nothing was sent */
    assert_true(pid2 != pid);

    allow_connections(false);
    terminate(pid2);
    assert_int_equal(pg_exec(c, SQL_ONE, "one", NULL, 0, NULL, NULL), GH_ERR_UNAVAILABLE);
    int64_t t0 = ms_now();
    assert_int_equal(pg_exec(c, SQL_ONE, "one", NULL, 0, NULL, NULL), GH_ERR_UNAVAILABLE);
    assert_true(ms_now() - t0 < 100); /* backing off: no attempt */
    allow_connections(true);
    usleep(300 * 1000); /* past the first backoff step (250 ms) */
    assert_int_equal(pg_exec(c, SQL_ONE, "one", NULL, 0, NULL, NULL), GH_OK);
    store_pg.close(c);
}

/* Lost inside a transaction: every later statement and the commit fail
 * (the outcome is unknown: 503, never a guess), and the next request
 * runs on a new connection. */
static void test_lost_inside_transaction(void **state)
{
    (void)state;
    NEED_PG();
    assert_int_equal(store_pg_use(tdb.url, 1), GH_OK);
    struct store_conn *c = conn();
    make_table(c);
    assert_int_equal(store_pg.tx.begin_write(c), GH_OK);
    int64_t pid = backend_pid(c);
    terminate(pid);
    uint8_t b[1] = {1};
    assert_int_equal(PG_RUN(c, SQL_INS, "ins", PG_TEXT("k"), PG_BYTEA(b, 1), PG_INT(1)),
                     GH_ERR_UNAVAILABLE);
    assert_int_not_equal(store_pg.tx.commit(c), GH_OK);
    usleep(300 * 1000);
    assert_true(backend_pid(c) != pid);
    PGresult *r = NULL;
    assert_int_equal(PG_QUERY(c, SQL_GET, "get", &r, PG_TEXT("k")), GH_OK);
    assert_int_equal(pg_rows(r), 0);
    PQclear(r);
    store_pg.close(c);
}

/* A statement that failed aborts a PostgreSQL transaction: its COMMIT must
 * not report success (it would silently have rolled back). */
static void test_failed_statement_fails_commit(void **state)
{
    (void)state;
    NEED_PG();
    struct store_conn *c = conn();
    make_table(c);
    uint8_t b[1] = {1};
    assert_int_equal(PG_RUN(c, SQL_INS, "ins", PG_TEXT("a"), PG_BYTEA(b, 1), PG_INT(1)), GH_OK);
    assert_int_equal(store_pg.tx.begin_write(c), GH_OK);
    assert_int_equal(PG_RUN(c, SQL_INS, "ins", PG_TEXT("b"), PG_BYTEA(b, 1), PG_INT(1)), GH_OK);
    assert_int_equal(PG_RUN(c, SQL_INS, "ins", PG_TEXT("a"), PG_BYTEA(b, 1), PG_INT(1)),
                     GH_ERR_CONFLICT);
    assert_int_equal(store_pg.tx.commit(c), GH_ERR_CONFLICT);
    PGresult *r = NULL;
    assert_int_equal(PG_QUERY(c, SQL_GET, "get", &r, PG_TEXT("b")), GH_OK);
    assert_int_equal(pg_rows(r), 0);
    PQclear(r);
    store_pg.close(c);
}

struct mig_arg {
    pthread_barrier_t *go;
    enum gh_err rc;
};

static void *migrate_thread(void *p)
{
    struct mig_arg *a = p;
    struct store_conn *c = NULL;
    a->rc = store_pg.open(NULL, &c);
    pthread_barrier_wait(a->go);
    if (a->rc == GH_OK) a->rc = store_pg.migrate(c);
    store_pg.close(c);
    return NULL;
}

/* Two migrations at once (two replicas starting): the advisory lock makes
 * the second wait and find everything applied; both succeed. */
static void test_concurrent_migrate(void **state)
{
    (void)state;
    NEED_PG();
    assert_int_equal(store_pg_use(tdb.url, 4), GH_OK);
    struct store_conn *c = conn();
    int pending = 0;
    assert_int_equal(store_pg.pending_migrations(c, &pending), GH_OK);
    assert_int_equal(pending, (int)STORE_MIGRATION_COUNT);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    struct mig_arg a[2] = {{.go = &go}, {.go = &go}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, migrate_thread, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    assert_int_equal(a[0].rc, GH_OK);
    assert_int_equal(a[1].rc, GH_OK);
    assert_int_equal(store_pg.pending_migrations(c, &pending), GH_OK);
    assert_int_equal(pending, 0);
    static const char count_sql[] = "SELECT count(*), min(compatible) FROM schema_migrations";
    PGresult *r = NULL;
    assert_int_equal(pg_exec(c, count_sql, "count", NULL, 0, &r, NULL), GH_OK);
    assert_int_equal(pg_int(r, 0, 0), (int64_t)STORE_MIGRATION_COUNT);
    assert_int_equal(pg_int(r, 0, 1), 0);
    PQclear(r);
    /* Idempotent. */
    assert_int_equal(store_pg.migrate(c), GH_OK);
    store_pg.close(c);
}

int main(void)
{
    test_config();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conflict_is_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytea_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_connection_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_inside_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_statement_fails_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_migrate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
