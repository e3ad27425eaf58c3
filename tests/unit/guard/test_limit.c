/* Unit tests for src/guard/limit.c: the GCRA arithmetic at chosen times
 * (the .c is included so the clock can be passed in). */
#include "testutil.h"

#include "../../../src/guard/limit.c"

#define S 1000000LL /* one second in microseconds */

static int setup(void **state)
{
    (void)state;
    gh_cfg.rate_limits = true;
    gh_cfg.limits[LIMIT_MFA_ACCOUNT] = (struct gh_limit_rule){5, 300};
    return limit_init() == GH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    limit_shutdown();
    return 0;
}

/* 5 per 300 s: a burst of 5, then one more every 60 s. */
static void test_burst_then_steady_rate(void **state)
{
    (void)state;
    struct limit_result r;
    int64_t t0 = 1000 * S;
    for (int i = 0; i < 5; i++) {
        take_at(LIMIT_MFA_ACCOUNT, "alice", t0, &r);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, 4 - i);
        assert_int_equal(r.limit, 5);
    }
    take_at(LIMIT_MFA_ACCOUNT, "alice", t0, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_s, 60);
    assert_int_equal(r.remaining, 0);
    /* denied requests take nothing: still 60 s, not more */
    take_at(LIMIT_MFA_ACCOUNT, "alice", t0, &r);
    assert_int_equal(r.retry_after_s, 60);
    take_at(LIMIT_MFA_ACCOUNT, "alice", t0 + 59 * S, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_s, 1);
    take_at(LIMIT_MFA_ACCOUNT, "alice", t0 + 60 * S, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    take_at(LIMIT_MFA_ACCOUNT, "alice", t0 + 60 * S, &r);
    assert_false(r.allowed);
    /* after a whole period the burst is back */
    take_at(LIMIT_MFA_ACCOUNT, "alice", t0 + 420 * S, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 4);
}

static void test_subjects_and_refund_and_clear(void **state)
{
    (void)state;
    struct limit_result r;
    int64_t t0 = 5000 * S;
    for (int i = 0; i < 5; i++)
        take_at(LIMIT_MFA_ACCOUNT, "bob", t0, &r);
    take_at(LIMIT_MFA_ACCOUNT, "bob", t0, &r);
    assert_false(r.allowed);
    take_at(LIMIT_MFA_ACCOUNT, "carol", t0, &r);
    assert_true(r.allowed); /* another subject has its own budget */
    /* a refund (limit_refund uses the real clock: only the tat moves) */
    limit_refund(LIMIT_MFA_ACCOUNT, "bob");
    take_at(LIMIT_MFA_ACCOUNT, "bob", t0, &r);
    assert_true(r.allowed);
    take_at(LIMIT_MFA_ACCOUNT, "bob", t0, &r);
    assert_false(r.allowed);
    limit_clear(LIMIT_MFA_ACCOUNT, "bob");
    take_at(LIMIT_MFA_ACCOUNT, "bob", t0, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 4);
}

static void test_off_allows_everything(void **state)
{
    (void)state;
    struct limit_result r;
    gh_cfg.rate_limits = false;
    for (int i = 0; i < 50; i++) {
        take_at(LIMIT_MFA_ACCOUNT, "dave", 9000 * S, &r);
        assert_true(r.allowed);
    }
    gh_cfg.rate_limits = true;
}

/* A flood of distinct subjects never grows a shard past SHARD_MAX, and
 * a subject in the middle of its budget keeps it while whole ones go. */
static void test_table_is_bounded(void **state)
{
    (void)state;
    struct limit_result r;
    int64_t t0 = 20000 * S;
    char subj[32];
    for (int i = 0; i < SHARDS * SHARD_MAX * 2; i++) {
        snprintf(subj, sizeof subj, "flood-%d", i);
        take_at(LIMIT_MFA_ACCOUNT, subj, t0 + (int64_t)i * 100 * S, &r);
        assert_true(r.allowed);
    }
    for (int i = 0; i < SHARDS; i++)
        assert_true(shards[i].n <= SHARD_MAX);
    /* all at one instant: nothing is whole, the closest to whole goes */
    int64_t t1 = t0 + (int64_t)SHARDS * SHARD_MAX * 300 * S;
    for (int i = 0; i < SHARDS * SHARD_MAX + 500; i++) {
        snprintf(subj, sizeof subj, "burst-%d", i);
        take_at(LIMIT_MFA_ACCOUNT, subj, t1, &r);
        assert_true(r.allowed);
    }
    for (int i = 0; i < SHARDS; i++)
        assert_true(shards[i].n <= SHARD_MAX);
}

static void test_lockout_schedule(void **state)
{
    (void)state;
    gh_cfg.lockout_threshold = 3;
    gh_cfg.lockout_max_delay = 5;
    struct lockout_event ev;
    int64_t t = 50000 * S, ra = 0;
    const int64_t want[] = {0, 0, 1, 2, 4, 5, 5};
    for (int i = 0; i < 7; i++) {
        failure_at("erin@example.com", t, &ev);
        assert_int_equal(ev.failures, i + 1);
        assert_int_equal(ev.locked_s, want[i]);
        assert_int_equal(ev.notify, i == 2); /* once, at the first lock */
        if (want[i]) {
            assert_true(locked_at("erin@example.com", t, &ra));
            assert_int_equal(ra, want[i]);
            assert_false(locked_at("erin@example.com", t + want[i] * S, &ra));
        }
        t += 10 * S;
    }
    assert_false(locked_at("frank@example.com", t, &ra)); /* per address */
    /* an hour on, a new lock tells the owner again */
    failure_at("erin@example.com", t + 3600 * S, &ev);
    assert_true(ev.notify);
    limit_lockout_clear("erin@example.com");
    failure_at("erin@example.com", t + 3700 * S, &ev);
    assert_int_equal(ev.failures, 1);
    assert_int_equal(ev.locked_s, 0);
    gh_cfg.lockout_threshold = 0; /* off */
    failure_at("erin@example.com", t, &ev);
    assert_int_equal(ev.failures, 0);
}

/* limit_take_all without Redis: each ask all or nothing, rule by rule,
 * giving back what its earlier rules took when a later one refuses. */
static void test_take_all_is_all_or_nothing(void **state)
{
    (void)state;
    gh_cfg.limits[LIMIT_SIGNIN_IP_ACCOUNT] = (struct gh_limit_rule){5, 900};
    gh_cfg.limits[LIMIT_SIGNIN_IP] = (struct gh_limit_rule){2, 900};
    struct limit_ask a[3];
    const char *pairs[] = {"ip\np1", "ip\np2", "ip\np3"};
    for (int i = 0; i < 3; i++)
        a[i] = (struct limit_ask){.n = 2,
                                  .rules = {LIMIT_SIGNIN_IP_ACCOUNT, LIMIT_SIGNIN_IP},
                                  .subjects = {pairs[i], "ip"}};
    limit_take_all(a, 3);
    assert_int_equal(a[0].refused, -1);
    assert_int_equal(a[0].res[0].remaining, 4);
    assert_int_equal(a[0].res[1].remaining, 1);
    assert_int_equal(a[1].refused, -1);
    assert_int_equal(a[1].res[1].remaining, 0);
    assert_int_equal(a[2].refused, 1); /* the IP rule, second */
    assert_false(a[2].res[1].allowed);
    assert_false(a[2].res[1].unavailable);
    assert_true(a[2].res[1].retry_after_s >= 449);
    /* p3's unit was given back: its budget is whole */
    struct limit_result r;
    limit_take(LIMIT_SIGNIN_IP_ACCOUNT, "ip\np3", &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 4);
    /* an ask without rules is allowed */
    struct limit_ask none = {.n = 0};
    limit_take_all(&none, 1);
    assert_int_equal(none.refused, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_then_steady_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subjects_and_refund_and_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_allows_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_all_is_all_or_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
