/* Unit tests for src/store/pg_listen.c against a real PostgreSQL:
 * GATEHOUSE_TEST_PG=<superuser URL>; skipped without it. A committed
 * change event wakes the listener, a rolled-back one does not; a
 * terminated listening backend is reported down, and the listener comes
 * back up by itself. */
#include "testutil.h"

#include <stdatomic.h>
#include <time.h>

#include "store/listen.h"
#include "store/pg.h"
#include "store/pg_internal.h"
#include "store/pg_testdb.h"

static struct pg_testdb tdb; /* the scratch database (pg_testdb.h) */
static _Atomic int ups, downs, wakes;

static void admin_exec(const char *sql)
{
    if (pg_testdb_admin(&tdb, sql)) fail_msg("admin SQL failed: %s", sql);
}

static void on_news(enum store_listen_news what, const struct store_ops *ops, struct store_conn *c,
                    void *arg)
{
    (void)ops, (void)c;
    assert_ptr_equal(arg, &ups);
    atomic_fetch_add(what == STORE_LISTEN_UP     ? &ups
                     : what == STORE_LISTEN_DOWN ? &downs
                                                 : &wakes,
                     1);
}

/* Waits up to ms for *v to reach at least want. */
static bool reaches(_Atomic int *v, int want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (atomic_load(v) >= want) return true;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return atomic_load(v) >= want;
}

static int setup(void **state)
{
    (void)state;
    if (!pg_testdb_wanted()) return 0;
    return pg_testdb_create(&tdb, "listen", 2, true);
}

static int teardown(void **state)
{
    (void)state;
    if (!tdb.admin) return 0;
    store_listen_stop();
    return pg_testdb_drop(&tdb);
}

static void test_wake_down_up(void **state)
{
    (void)state;
    if (!tdb.admin) {
        print_message("GATEHOUSE_TEST_PG is not set: skipped\n");
        skip();
    }
    assert_int_equal(store_listen_start(on_news, &ups), GH_OK);
    assert_int_equal(store_listen_start(on_news, &ups), GH_ERR_BUSY);
    assert_true(reaches(&ups, 1, 5000));
    assert_int_equal(atomic_load(&wakes), 0);

    /* Committed: a wake-up. */
    struct store_conn *c = NULL;
    assert_int_equal(store_pg.open("", &c), GH_OK);
    struct store_event e = {.kind = STORE_EV_ROLE_CHANGED};
    snprintf(e.user_id, sizeof e.user_id, "00000000-0000-4000-8000-000000000001");
    snprintf(e.text, sizeof e.text, "admin");
    assert_int_equal(store_pg.events.append(c, &e), GH_OK);
    assert_true(reaches(&wakes, 1, 2000));

    /* Rolled back: NOTIFY is delivered at commit only, so nothing. */
    int before = atomic_load(&wakes);
    assert_int_equal(store_pg.tx.begin_write(c), GH_OK);
    assert_int_equal(pg_event_add(c, STORE_EV_SESSION_REVOKED, "", "s", "", 0), GH_OK);
    store_pg.tx.rollback(c);
    assert_false(reaches(&wakes, before + 1, 500));
    store_pg.close(c);

    /* The listening backend terminated: down, then up again by itself.
     * (tdb.name is made by pg_testdb from the pid, never from input.) */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'"
             " AND application_name = 'gatehouse listener'",
             tdb.name);
    admin_exec(sql);
    assert_true(reaches(&downs, 1, 4000));
    assert_true(reaches(&ups, 2, 5000));
    store_listen_stop();
    store_listen_stop(); /* a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wake_down_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
