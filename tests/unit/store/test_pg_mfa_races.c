/* Races on src/store/pg_mfa.c, pg_links.c and pg_identities.c: THREADS
 * connections of one pool released together, as several replicas would
 * race: one magic link, backup code, nonce, TOTP confirmation or step,
 * idempotency id (new or stale) is spent or claimed exactly once, the
 * losers get the refusal store.h names (and an idempotency loser the
 * winner's row), concurrent links for one account leave one usable, a
 * challenge is never counted past its limit, and mail is handed out once.
 * And a transaction waiting on a row lock holds no global advisory lock:
 * another replica's audited write goes through meanwhile.
 * Skipped (exit 77) unless GATEHOUSE_TEST_PG is set. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "test_pg_mfa.h"

struct race;
typedef enum gh_err (*race_fn)(struct store_conn *c, int i, struct race *r);

struct race {
    race_fn fn;
    int rounds; /* calls per thread */
    pthread_barrier_t bar;
    uint8_t hash[32];
    const char *uid;
    enum gh_err rc[THREADS][4];
    struct store_idem idem[THREADS];
    int handed[64]; /* mail: how often message i was handed out */
    int mail_errors;
};

struct worker {
    struct race *r;
    int i;
};

static void *race_worker(void *arg)
{
    struct worker *w = arg;
    struct store_conn *c = NULL;
    enum gh_err open_rc = ops->open("", &c);
    pthread_barrier_wait(&w->r->bar);
    for (int k = 0; k < w->r->rounds; k++)
        w->r->rc[w->i][k] = open_rc ? open_rc : w->r->fn(c, w->i, w->r);
    if (!open_rc) ops->close(c);
    return NULL;
}

/* Runs fn on THREADS threads released together; counts the answers. */
static void race_run(struct race *r, int rounds, int *ok, int *refused, enum gh_err refusal)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    r->rounds = rounds;
    assert_int_equal(pthread_barrier_init(&r->bar, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){r, i};
        assert_int_equal(pthread_create(&t[i], NULL, race_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&r->bar);
    *ok = *refused = 0;
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < rounds; k++) {
            if (r->rc[i][k] == GH_OK)
                ++*ok;
            else if (r->rc[i][k] == refusal)
                ++*refused;
        }
}

static enum gh_err race_magic(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    struct store_magic o;
    return ops->links.consume(c, r->hash, "signin", 100, &o);
}

static void test_race_magic_consume(void **state)
{
    struct store_conn *c = *state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_magic;
    fill(r.hash, 0x51);
    struct store_magic m = magic("race@example.com", "signin", 900);
    assert_int_equal(ops->links.create(c, r.hash, &m, 90), GH_OK);
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
}

static enum gh_err race_magic_create(struct store_conn *c, int i, struct race *r)
{
    (void)r;
    uint8_t h[32];
    fill(h, (uint8_t)(0x60 + i));
    struct store_magic m = magic("newest@example.com", "reset", 900);
    return ops->links.create(c, h, &m, 100);
}

/* Links created at once for one account: exactly one stays usable. */
static void test_race_magic_create(void **state)
{
    (void)state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_magic_create;
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, THREADS);
    assert_int_equal(q_int("SELECT COUNT(*) FROM magic_links WHERE email_key = $1"
                           " AND used_at IS NULL",
                           "newest@example.com"),
                     1);
}

static enum gh_err race_backup(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    return ops->backup_codes.use(c, r->uid, r->hash, 100);
}

static void test_race_backup_code(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    uint8_t codes[STORE_BACKUP_CODES][32];
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        fill(codes[i], (uint8_t)(0x90 + i));
    assert_int_equal(ops->totp.begin(c, uid, "s", 1), GH_OK);
    assert_int_equal(ops->totp.confirm(c, uid, 1, codes, NULL, 2, NULL), GH_OK);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_backup;
    r.uid = uid;
    memcpy(r.hash, codes[2], 32);
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
}

static enum gh_err race_step(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    return ops->totp.use_step(c, r->uid, 1000);
}

static enum gh_err race_confirm(struct store_conn *c, int i, struct race *r)
{
    uint8_t codes[STORE_BACKUP_CODES][32];
    for (int k = 0; k < STORE_BACKUP_CODES; k++)
        fill(codes[k], (uint8_t)(16 * i + k));
    return ops->totp.confirm(c, r->uid, 5, codes, NULL, 10, NULL);
}

/* One confirmation of an enrolment, then one use of a step. */
static void test_race_totp(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    assert_int_equal(ops->totp.begin(c, uid, "s", 1), GH_OK);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_confirm;
    r.uid = uid;
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = $1", uid), 10);
    r.fn = race_step;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
    assert_int_equal(q_int("SELECT last_step FROM mfa_totp WHERE user_id = $1", uid), 1000);
}

static enum gh_err race_nonce(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    return ops->oauth_nonces.consume(c, r->hash, "apple", 100);
}

static void test_race_nonce(void **state)
{
    struct store_conn *c = *state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_nonce;
    fill(r.hash, 0x52);
    assert_int_equal(ops->oauth_nonces.create(c, r.hash, "apple", 1000), GH_OK);
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
}

static enum gh_err race_idem(struct store_conn *c, int i, struct race *r)
{
    uint8_t mac[32];
    fill(mac, (uint8_t)(0xa0 + i));
    return ops->idem.claim(c, (const char *)r->hash, mac, 5000, &r->idem[i]);
}

/* One claimant; the others get the winner's row. */
static void check_idem_race(struct race *r, int ok, int refused)
{
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
    int winner = -1;
    for (int i = 0; i < THREADS; i++)
        if (r->rc[i][0] == GH_OK) winner = i;
    uint8_t mac[32];
    fill(mac, (uint8_t)(0xa0 + winner));
    for (int i = 0; i < THREADS; i++) {
        if (i == winner) continue;
        assert_memory_equal(r->idem[i].body_mac, mac, 32);
        assert_int_equal(r->idem[i].status, 0);
        assert_null(r->idem[i].response_sealed);
    }
}

static void test_race_idem_claim(void **state)
{
    struct store_conn *c = *state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_idem;
    snprintf((char *)r.hash, sizeof r.hash, "race-idem");
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    check_idem_race(&r, ok, refused);
    /* A stale claim (the first request's process died): one taker-over. */
    uint8_t mac[32];
    fill(mac, 0x01);
    snprintf((char *)r.hash, sizeof r.hash, "race-stale");
    struct store_idem o;
    assert_int_equal(ops->idem.claim(c, "race-stale", mac, 5000 - STORE_IDEM_STALE_S - 1, &o),
                     GH_OK);
    memset(r.idem, 0, sizeof r.idem);
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    check_idem_race(&r, ok, refused);
}

static enum gh_err race_attempt(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    struct store_challenge o;
    return ops->challenges.attempt(c, r->hash, 3, 100, &o);
}

static void test_race_challenge_attempts(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_attempt;
    fill(r.hash, 0x53);
    struct store_challenge ch;
    memset(&ch, 0, sizeof ch);
    memcpy(ch.user_id, uid, sizeof ch.user_id);
    ch.expires_at = 1000;
    assert_int_equal(ops->challenges.create(c, r.hash, &ch), GH_OK);
    int ok, refused;
    race_run(&r, 4, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 3);
    assert_int_equal(refused, 4 * THREADS - 3);
    assert_int_equal(q_int("SELECT attempts FROM mfa_challenges WHERE user_id = $1", uid), 3);
}

static enum gh_err race_mail(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    struct store_mail due[4];
    size_t n = 0;
    enum gh_err rc = ops->mail.due(c, 1000, due, 4, &n);
    for (size_t k = 0; k < n; k++) {
        int id = atoi(due[k].id + 5);
        if (id >= 0 && id < 64)
            __atomic_add_fetch(&r->handed[id], 1, __ATOMIC_SEQ_CST);
        else
            __atomic_add_fetch(&r->mail_errors, 1, __ATOMIC_SEQ_CST);
        free(due[k].message_sealed);
    }
    return rc;
}

/* Senders of several replicas polling at once: each message once. */
static void test_race_mail_due(void **state)
{
    struct store_conn *c = *state;
    q_run("DELETE FROM mail_queue", NULL, NULL);
    char id[32];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "race-%d", i);
        assert_int_equal(ops->mail.insert(c, id, "r@example.com", "sealed", 900 + i), GH_OK);
    }
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_mail;
    int ok, refused;
    race_run(&r, 4, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, 4 * THREADS);
    assert_int_equal(r.mail_errors, 0);
    /* What no round got (every one may have skipped rows another held). */
    struct store_mail due[40];
    size_t n = 0;
    assert_int_equal(ops->mail.due(c, 1000, due, 40, &n), GH_OK);
    for (size_t k = 0; k < n; k++) {
        r.handed[atoi(due[k].id + 5)]++;
        free(due[k].message_sealed);
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(r.handed[i], 1);
}

/* ---- the global locks are the last a transaction takes ---- */

struct lock_order {
    const char *uid, *sid;
    uint8_t (*codes)[32];
    enum gh_err rc;
    _Atomic int done;
};

/* A TOTP confirm from a restricted session, as mfa_http.c groups it: the
 * factor (audited), then the session's release, in one transaction. */
static void *confirm_and_release(void *arg)
{
    struct lock_order *o = arg;
    struct store_conn *c = NULL;
    enum gh_err rc = ops->open("", &c);
    if (rc == GH_OK) rc = ops->tx.begin_write(c);
    if (rc == GH_OK) {
        struct store_audit ev = {.actor = o->uid, .action = "mfa.enrolled", .target = o->uid};
        rc = ops->totp.confirm(c, o->uid, 7, (const uint8_t(*)[32])o->codes, o->sid, 20, &ev);
        if (rc == GH_OK) rc = ops->sessions.unrestrict(c, o->sid);
        if (rc == GH_OK) rc = ops->tx.commit(c);
        if (rc) ops->tx.rollback(c);
    }
    if (c) ops->close(c);
    o->rc = rc;
    atomic_store(&o->done, 1);
    return NULL;
}

/* Another replica's audited write (a sign-out's audit row). */
static void *audited_write(void *arg)
{
    struct lock_order *o = arg;
    struct store_conn *c = NULL;
    enum gh_err rc = ops->open("", &c);
    struct store_audit ev = {.actor = "system", .action = "test.elsewhere", .target = "x"};
    if (rc == GH_OK) rc = ops->audit.append(c, &ev);
    if (c) ops->close(c);
    o->rc = rc;
    atomic_store(&o->done, 1);
    return NULL;
}

/* Polls *flag for up to ms. */
static bool done_within(_Atomic int *flag, int ms)
{
    for (int i = 0; i < ms / 10 && !atomic_load(flag); i++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    return atomic_load(flag);
}

/* Backends of the test database waiting on a lock. */
static int64_t lock_waiters(void)
{
    return q_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                 " AND wait_event_type = 'Lock'",
                 NULL);
}

/* One connection holds the session row (FOR UPDATE, transaction open);
 * a confirm that must release that session waits for it. Meanwhile an
 * audited write of another replica must go through: the waiting confirm
 * must not hold PG_LOCK_EVENTS / PG_LOCK_CHAIN (they would serialize every
 * replica's audit writes behind one row lock, and deadlock with a writer
 * holding the row and waiting for them). Bounded: it fails, never hangs. */
static void test_global_locks_last(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    const char *sid = "11111111-2222-4333-8444-555555555555";
    add_session(uid, sid);
    q_run("UPDATE sessions SET restricted = 1 WHERE id = $1", sid, NULL);
    assert_int_equal(ops->totp.begin(c, uid, "s", 1), GH_OK);
    static uint8_t codes[STORE_BACKUP_CODES][32];
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        fill(codes[i], (uint8_t)(0xa0 + i));

    PGconn *holder = PQconnectdb(tdb.url);
    assert_int_equal(PQstatus(holder), CONNECTION_OK);
    const char *params[1] = {sid};
    PGresult *r = PQexec(holder, "BEGIN");
    PQclear(r);
    r = PQexecParams(holder, "SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", 1, NULL, params,
                     NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);

    static struct lock_order confirm, other;
    memset(&confirm, 0, sizeof confirm);
    memset(&other, 0, sizeof other);
    confirm.uid = uid, confirm.sid = sid, confirm.codes = codes;
    pthread_t tc, tw;
    assert_int_equal(pthread_create(&tc, NULL, confirm_and_release, &confirm), 0);
    bool waiting = false;
    for (int i = 0; i < 500 && !waiting && !atomic_load(&confirm.done); i++) {
        waiting = lock_waiters() >= 1;
        if (!waiting) nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    bool other_done = false;
    if (waiting) {
        assert_int_equal(pthread_create(&tw, NULL, audited_write, &other), 0);
        other_done = done_within(&other.done, 5000);
    }
    /* Let go of the row whatever happened, so nothing is left waiting. */
    r = PQexec(holder, "ROLLBACK");
    PQclear(r);
    PQfinish(holder);
    pthread_join(tc, NULL);
    if (waiting) pthread_join(tw, NULL);
    if (!waiting) fail_msg("the confirm never waited on the session row");
    if (!other_done) fail_msg("an audited write waited for a transaction blocked on a row lock");
    assert_int_equal(other.rc, GH_OK);
    assert_int_equal(confirm.rc, GH_OK);
    assert_int_equal(q_int("SELECT restricted FROM sessions WHERE id = $1", sid), 0);
    assert_int_equal(q_int("SELECT count(*) FROM audit_log WHERE action = 'mfa.enrolled'"
                           " AND actor = $1",
                           uid),
                     1);
}

#define RACE_TESTS                                                                                 \
    cmocka_unit_test_setup_teardown(test_race_magic_consume, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_race_magic_create, setup, teardown),                  \
        cmocka_unit_test_setup_teardown(test_race_backup_code, setup, teardown),                   \
        cmocka_unit_test_setup_teardown(test_race_totp, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_race_nonce, setup, teardown),                         \
        cmocka_unit_test_setup_teardown(test_race_idem_claim, setup, teardown),                    \
        cmocka_unit_test_setup_teardown(test_race_challenge_attempts, setup, teardown),            \
        cmocka_unit_test_setup_teardown(test_race_mail_due, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_global_locks_last, setup, teardown)
int main(void)
{
    pg_testdb_require("test_pg_mfa_races");
    const struct CMUnitTest tests[] = {
        RACE_TESTS,
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
