/* Unit tests for src/store/pg_users.c and pg_sessions.c: the races
 * several replicas run into, each connection on its own thread (as each
 * replica's workers): concurrent rotations of one refresh token, concurrent
 * sign-ups of one address, and a session created for a checked password
 * against a password change. Runs on the database test_pg_users.h makes
 * from GATEHOUSE_TEST_PG; skipped without it. */
#include "test_pg_users.h"

#define RACERS 8

struct racer {
    pthread_barrier_t *go;
    const uint8_t *old_hash;
    uint8_t new_hash[32];
    struct store_user u; /* sign-up: the account each racer makes */
    int64_t now_us;
    enum gh_err rc;
};

static void *rotate_racer(void *arg)
{
    struct racer *r = arg;
    struct store_conn *tc = NULL;
    r->rc = ops->open("", &tc);
    pthread_barrier_wait(r->go);
    if (r->rc == GH_OK) {
        const uint8_t box[] = "pair";
        r->rc = ops->refresh.rotate(tc, r->old_hash, r->new_hash, box, sizeof box, r->now_us,
                                    now + 7200);
    }
    ops->close(tc);
    return NULL;
}

static void race_rotate_one_winner(void **state)
{
    NEED_PG();
    struct store_user u = add_user("race-rot");
    for (int round = 0; round < 5; round++) {
        char label[64];
        snprintf(label, sizeof label, "race-rot-%d", round);
        struct store_session s = add_session(u.id, label);
        uint8_t old[32];
        hash_of(old, label);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        struct racer r[RACERS];
        pthread_t t[RACERS];
        for (int i = 0; i < RACERS; i++) {
            memset(&r[i], 0, sizeof r[i]);
            r[i].go = &go;
            r[i].old_hash = old;
            r[i].now_us = gh_now_us() + i;
            snprintf(label, sizeof label, "race-rot-%d-new-%d", round, i);
            hash_of(r[i].new_hash, label);
            assert_int_equal(pthread_create(&t[i], NULL, rotate_racer, &r[i]), 0);
        }
        int won = -1, wins = 0;
        for (int i = 0; i < RACERS; i++) /* all, before any assertion leaves */
            pthread_join(t[i], NULL);
        for (int i = 0; i < RACERS; i++) {
            if (r[i].rc == GH_OK) {
                wins++;
                won = i;
            } else {
                assert_int_equal(r[i].rc, GH_ERR_CONFLICT);
            }
        }
        pthread_barrier_destroy(&go);
        assert_int_equal(wins, 1);
        /* the winner's token is the session's one current token; the
         * losers' were never stored */
        assert_int_equal(db_count("SELECT count(*) FROM refresh_tokens WHERE session_id = $1"
                                  " AND rotated_at_us IS NULL",
                                  s.id),
                         1);
        assert_int_equal(
            db_count("SELECT count(*) FROM refresh_tokens WHERE session_id = $1", s.id), 2);
        struct store_refresh *rt = calloc(1, sizeof *rt);
        assert_non_null(rt);
        assert_int_equal(ops->refresh.get(c, r[won].new_hash, rt), GH_OK);
        assert_int_equal(rt->rotated_at_us, 0);
        assert_int_equal(ops->refresh.get(c, old, rt), GH_OK);
        assert_int_equal(rt->rotated_at_us, r[won].now_us);
        free(rt);
    }
}

/* A sign-up as accounts/signup.c makes it: the account and its first
 * session in one transaction, each with its audit row. */
static void *signup_racer(void *arg)
{
    struct racer *r = arg;
    struct store_conn *tc = NULL;
    r->rc = ops->open("", &tc);
    pthread_barrier_wait(r->go);
    if (r->rc == GH_OK) r->rc = ops->tx.begin_write(tc);
    if (r->rc == GH_OK) {
        struct store_audit ev = {.actor = r->u.id, .action = "signup", .target = r->u.id};
        r->rc = ops->users.create(tc, &r->u, &ev);
        struct store_session s = mk_session(r->u.id);
        if (r->rc == GH_OK) r->rc = ops->sessions.create(tc, &s, r->new_hash, 0, &ev);
        if (r->rc == GH_OK) r->rc = ops->tx.commit(tc);
        if (r->rc) ops->tx.rollback(tc);
    }
    ops->close(tc);
    return NULL;
}

static void race_signup_one_account(void **state)
{
    NEED_PG();
    char email[96], tag[STORE_ID_LEN + 1];
    new_id(tag);
    snprintf(email, sizeof email, "Race-%.8s@Example.com", tag);
    long long rows0 = audit_rows();
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].go = &go;
        r[i].u = mk_user(email);
        char label[128];
        snprintf(label, sizeof label, "%s-%d", email, i);
        hash_of(r[i].new_hash, label);
        assert_int_equal(pthread_create(&t[i], NULL, signup_racer, &r[i]), 0);
    }
    int wins = 0, won = -1;
    for (int i = 0; i < RACERS; i++) /* all, before any assertion leaves */
        pthread_join(t[i], NULL);
    for (int i = 0; i < RACERS; i++) {
        if (r[i].rc == GH_OK) {
            wins++;
            won = i;
        } else {
            assert_int_equal(r[i].rc, GH_ERR_CONFLICT);
        }
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(wins, 1);
    struct store_user out;
    assert_int_equal(ops->users.by_email_key(c, r[0].u.email_key, &out), GH_OK);
    assert_string_equal(out.id, r[won].u.id);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE user_id = $1", out.id), 1);
    /* the losers' audit rows went with their rollback */
    assert_int_equal(audit_rows(), rows0 + 2);
}

struct pw_change {
    const char *uid;
    int64_t tia;
    struct store_session *s; /* the session to create */
    const uint8_t *hash;
    enum gh_err rc;
};

static void *set_password_thread(void *arg)
{
    struct pw_change *p = arg;
    struct store_conn *tc = NULL;
    p->rc = ops->open("", &tc);
    if (p->rc == GH_OK)
        p->rc = ops->users.set_password(tc, p->uid, "$argon2id$raced", p->tia, NULL, now, NULL);
    ops->close(tc);
    return NULL;
}

static void *session_create_thread(void *arg)
{
    struct pw_change *p = arg;
    struct store_conn *tc = NULL;
    p->rc = ops->open("", &tc);
    if (p->rc == GH_OK) p->rc = ops->sessions.create(tc, p->s, p->hash, 0, NULL);
    ops->close(tc);
    return NULL;
}

/* A session created for the old password and a password change, each
 * held open while the other runs: in either order no session of the old
 * password survives the change. */
static void race_session_vs_password(void **state)
{
    NEED_PG();
    struct store_session out;
    enum gh_err committed;
    /* 1. the session's transaction is open: the change waits, then revokes it */
    struct store_user u = add_user("race-pw-1");
    struct store_session s = mk_session(u.id);
    uint8_t h[32];
    hash_of(h, "race-pw-1");
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->sessions.create(c, &s, h, 0, NULL), GH_OK);
    struct pw_change p = {u.id, now + 100, NULL, NULL, GH_ERR_INTERNAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, set_password_thread, &p), 0);
    usleep(300 * 1000);
    committed = ops->tx.commit(c);
    pthread_join(t, NULL);
    assert_int_equal(committed, GH_OK);
    assert_int_equal(p.rc, GH_OK);
    assert_int_equal(ops->sessions.get(c, s.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, now);

    /* 2. the change's transaction is open: the session waits, then is refused */
    struct store_user v = add_user("race-pw-2");
    struct store_session s2 = mk_session(v.id);
    hash_of(h, "race-pw-2");
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->users.set_password(c, v.id, "$argon2id$new", now + 100, NULL, now, NULL),
                     GH_OK);
    struct pw_change q = {v.id, 0, &s2, h, GH_ERR_INTERNAL};
    assert_int_equal(pthread_create(&t, NULL, session_create_thread, &q), 0);
    usleep(300 * 1000);
    committed = ops->tx.commit(c);
    pthread_join(t, NULL);
    assert_int_equal(committed, GH_OK);
    assert_int_equal(q.rc, GH_ERR_CONFLICT);
    assert_int_equal(ops->sessions.get(c, s2.id, &out), GH_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(race_rotate_one_winner),
        cmocka_unit_test(race_signup_one_account),
        cmocka_unit_test(race_session_vs_password),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
