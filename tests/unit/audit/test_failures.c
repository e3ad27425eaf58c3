/* Unit tests for src/audit/failures.c: failure rows per kind and client
 * are bounded per window, the rest counted into one summary, which comes
 * out when the window ends (by the next failure or the periodic take) or
 * at shutdown; the table's memory is bounded. */
#include "testutil.h"

#include "audit/failures.h"

static int setup(void **state)
{
    (void)state;
    gh_cfg.audit_failure_rows = 10;
    gh_cfg.audit_failure_window = 60;
    audit_failures_reset();
    return 0;
}

static int note_n(const char *action, const char *client, int n, int64_t now)
{
    int written = 0;
    struct audit_failure_summary due;
    for (int i = 0; i < n; i++) {
        written += audit_failures_note(action, client, now, 1000000 + now, &due);
        assert_int_equal(due.suppressed, 0); /* callers here never cross a window */
    }
    return written;
}

static void test_threshold_and_periodic_summary(void **state)
{
    (void)state;
    struct audit_failure_summary s[4];
    bool more;
    assert_int_equal(note_n("signin.failure", "203.0.113.5", 25, 100), 10);
    /* the window is still open: nothing to write yet */
    assert_int_equal(audit_failures_take(159, false, s, 4, &more), 0);
    /* ended: one summary, even though no further failure came */
    assert_int_equal(audit_failures_take(160, false, s, 4, &more), 1);
    assert_false(more);
    assert_string_equal(s[0].action, "signin.failure");
    assert_string_equal(s[0].client, "203.0.113.5");
    assert_int_equal(s[0].suppressed, 15);
    assert_int_equal(s[0].started_at, 1000100);
    assert_int_equal(audit_failures_take(500, false, s, 4, &more), 0); /* once */
    /* a new window writes rows again */
    assert_int_equal(note_n("signin.failure", "203.0.113.5", 3, 600), 3);
}

static void test_kinds_and_clients_apart(void **state)
{
    (void)state;
    assert_int_equal(note_n("signin.failure", "203.0.113.5", 12, 0), 10);
    assert_int_equal(note_n("email.verify_failure", "203.0.113.5", 12, 0), 10);
    assert_int_equal(note_n("signin.failure", "203.0.113.6", 12, 0), 10);
    assert_int_equal(note_n("signin.failure", "2001:db8:1:2::/64", 12, 0), 10);
    struct audit_failure_summary s[8];
    bool more;
    assert_int_equal(audit_failures_take(60, false, s, 8, &more), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i].suppressed, 2);
}

static void test_next_failure_brings_the_summary(void **state)
{
    (void)state;
    struct audit_failure_summary due;
    assert_int_equal(note_n("authz.denied", "198.51.100.1", 14, 0), 10);
    assert_false(audit_failures_note("authz.denied", "198.51.100.1", 30, 30, &due));
    assert_int_equal(due.suppressed, 0); /* still the first window: counted, not due */
    assert_false(audit_failures_note("authz.denied", "198.51.100.1", 59, 59, &due));
    assert_int_equal(due.suppressed, 0);
    assert_true(audit_failures_note("authz.denied", "198.51.100.1", 61, 61, &due));
    assert_int_equal(due.suppressed, 6);
    assert_string_equal(due.action, "authz.denied");
    /* the periodic take does not write it a second time */
    struct audit_failure_summary s[2];
    bool more;
    assert_int_equal(audit_failures_take(200, false, s, 2, &more), 0);
}

static void test_shutdown_takes_open_windows(void **state)
{
    (void)state;
    struct audit_failure_summary s[2];
    bool more;
    assert_int_equal(note_n("password.reset_failure", "203.0.113.7", 11, 0), 10);
    assert_int_equal(audit_failures_take(1, false, s, 2, &more), 0);
    assert_int_equal(audit_failures_take(1, true, s, 2, &more), 1);
    assert_int_equal(s[0].suppressed, 1);
    assert_int_equal(audit_failures_take(1, true, s, 2, &more), 0);
}

/* Many clients: the table stays its size, everything is still counted,
 * and the rows written stay bounded (per client, plus one overflow
 * window's). take hands summaries out in batches. */
static void test_many_clients(void **state)
{
    (void)state;
    int written = 0;
    char ip[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        written += note_n("signin.failure", ip, 1, 0);
    }
    assert_true(written <= 4096 + 10);
    uint64_t total = 0;
    bool more = true, overflow = false;
    struct audit_failure_summary s[16];
    while (more) {
        int n = audit_failures_take(0, true, s, 16, &more);
        for (int i = 0; i < n; i++) {
            total += s[i].suppressed;
            if (strcmp(s[i].client, "*") == 0) overflow = true;
        }
    }
    assert_true(overflow);
    assert_int_equal(total + (uint64_t)written, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_threshold_and_periodic_summary, setup),
        cmocka_unit_test_setup(test_kinds_and_clients_apart, setup),
        cmocka_unit_test_setup(test_next_failure_brings_the_summary, setup),
        cmocka_unit_test_setup(test_shutdown_takes_open_windows, setup),
        cmocka_unit_test_setup(test_many_clients, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
