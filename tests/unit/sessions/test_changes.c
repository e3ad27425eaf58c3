/* Unit tests for src/sessions/changes.c: events another process wrote
 * (inserted here with raw SQL under a foreign origin) reach the auth
 * cache through changes_job_poll; this process's own are skipped; a failed
 * read keeps the position. The cache is read back through a cookie entry,
 * whose identity carries the user's role and the session's state. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "core/util.h"
#include "sessions/authcache.h"
#include "sessions/changes.h"
#include "store/fault.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];
static struct store_conn *c;
static int64_t now;

static const char *UID = "00000000-0000-4000-8000-000000000001";
static const char *SID = "00000000-0000-4000-8000-0000000000a1";
static const char *SID2 = "00000000-0000-4000-8000-0000000000a2";
static uint8_t h1[32], h2[32]; /* the two sessions' cookie tokens */

static void cache_entries(void)
{
    uint64_t g = authcache_generation();
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", UID);
    snprintf(u.email, sizeof u.email, "ada@example.com");
    snprintf(u.role, sizeof u.role, "user");
    authcache_put_user(&u, g);
    const char *sids[2] = {SID, SID2};
    uint8_t *hs[2] = {h1, h2};
    for (int i = 0; i < 2; i++) {
        struct store_session s;
        memset(&s, 0, sizeof s);
        snprintf(s.id, sizeof s.id, "%s", sids[i]);
        snprintf(s.user_id, sizeof s.user_id, "%s", UID);
        s.created_at = now;
        s.expires_at = now + 3600;
        s.restricted = true;
        authcache_put_session(&s, g);
        gh_random(hs[i], 32);
        authcache_put_cookie(hs[i], UID, sids[i], now, now + 600, g);
    }
}

static int setup(void **state)
{
    (void)state;
    test_config();
    now = gh_now_s();
    if (test_mkdtemp(dir, sizeof dir, "gh_changes_")) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    if (authcache_init(AUTHCACHE_MIN_BYTES) != GH_OK) return -1;
    cache_entries();
    return changes_init(ops, c) == GH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    authcache_shutdown();
    ops->close(c);
    test_rm_db(path);
    rmdir(dir);
    return 0;
}

/* An event as another process (origin "other") writes it. */
static void foreign(const char *kind, const char *uid, const char *sid, const char *text,
                    int64_t value)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO change_events (kind, user_id, session_id,"
                                        " text_value, int_value, origin, created_at)"
                                        " VALUES (?1, ?2, ?3, ?4, ?5, 'other', ?6)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, uid ? uid : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sid ? sid : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, text ? text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, value);
    sqlite3_bind_int64(s, 6, now);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static enum authcache_result check(const uint8_t *h, struct authcache_identity *id)
{
    memset(id, 0, sizeof *id);
    return authcache_check_cookie(h, now, now - 60, id);
}

static int64_t newest_seq(void)
{
    int64_t s = -1;
    assert_int_equal(ops->events.max_seq(c, &s), GH_OK);
    return s;
}

static void test_role_change_reaches_cache(void **state)
{
    (void)state;
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user");
    foreign("role_changed", UID, NULL, "admin", 0);
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user"); /* not before the poll */
    changes_job_poll(ops, c);
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "admin");
    assert_int_equal(changes_position(), newest_seq());
    foreign("role_changed", UID, NULL, "user", 0);
    changes_job_poll(ops, c);
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user");
}

static void test_session_events(void **state)
{
    (void)state;
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_true(id.restricted);
    foreign("session_unrestricted", NULL, SID, NULL, 0);
    foreign("session_mfa", NULL, SID, NULL, now - 5);
    changes_job_poll(ops, c);
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_false(id.restricted);
    assert_int_equal(id.mfa_at, now - 5);
    /* Every session of the user but the one kept; then that one. */
    foreign("user_sessions_revoked", UID, SID, NULL, 0);
    changes_job_poll(ops, c);
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_int_not_equal(check(h2, &id), AUTHCACHE_OK);
    foreign("session_revoked", UID, SID, NULL, 0);
    changes_job_poll(ops, c);
    assert_int_not_equal(check(h1, &id), AUTHCACHE_OK);
}

/* Another process changed the user's email: the cached user is dropped,
 * so the next check reads it again (MISS), and the session stays live. */
static void test_user_changed_drops_user(void **state)
{
    (void)state;
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    foreign("user_changed", UID, NULL, NULL, 0);
    changes_job_poll(ops, c);
    assert_int_equal(check(h1, &id), AUTHCACHE_MISS);
}

/* This process's own writes were applied after their commit: skipped. */
static void test_own_events_skipped(void **state)
{
    (void)state;
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", UID);
    snprintf(u.email, sizeof u.email, "ada@example.com");
    snprintf(u.email_key, sizeof u.email_key, "ada@example.com");
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
    assert_int_equal(ops->users.set_role(c, UID, "admin", NULL), GH_OK);
    changes_job_poll(ops, c);
    assert_int_equal(changes_position(), newest_seq());
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user"); /* the writer would have set it itself */
}

/* Unknown kinds are skipped; many events are read page after page. */
static void test_unknown_and_pages(void **state)
{
    (void)state;
    foreign("from_the_future", UID, NULL, NULL, 0);
    for (int i = 0; i < CHANGES_PAGE + 7; i++)
        foreign("role_changed", UID, NULL, i % 2 ? "admin" : "user", 0);
    changes_job_poll(ops, c);
    assert_int_equal(changes_position(), newest_seq());
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, (CHANGES_PAGE + 6) % 2 ? "admin" : "user");
}

/* A failed read keeps the position; the next run applies the event. */
static void test_failed_read_retries(void **state)
{
    (void)state;
    const struct store_ops *f = store_fault_wrap(&store_sqlite);
    int64_t before = changes_position();
    foreign("role_changed", UID, NULL, "admin", 0);
    store_fault_fail_name("events.since");
    changes_job_poll(f, c);
    assert_int_equal(changes_position(), before);
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user");
    store_fault_reset();
    changes_job_poll(f, c);
    assert_int_equal(changes_position(), newest_seq());
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "admin");
}

/* The start position is the newest event: older ones are not replayed. */
static void test_init_at_newest(void **state)
{
    (void)state;
    foreign("role_changed", UID, NULL, "admin", 0);
    assert_int_equal(changes_init(ops, c), GH_OK);
    assert_int_equal(changes_position(), newest_seq());
    changes_job_poll(ops, c);
    struct authcache_identity id;
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user");
    const struct store_ops *f = store_fault_wrap(&store_sqlite);
    store_fault_fail_name("events.max_seq");
    assert_int_equal(changes_init(f, c), GH_ERR_INTERNAL);
    store_fault_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_role_change_reaches_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_changed_drops_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_events_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_read_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_at_newest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
