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
#include "sessions/jwt.h"
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

/* ---- fan-out: when the cache may answer (decision 0045) ----
 * The tests play the listener through changes_link. */

/* Down: no hit answers, whatever the cache holds; the 1-s poll alone
 * applies what it reads but does not give the trust back. Up: the feed
 * reads everything after its position, then the cache answers again, and
 * a revocation committed while down is honoured from memory. */
static void test_link_down_bypasses_then_catches_up(void **state)
{
    (void)state;
    struct authcache_identity id;
    assert_true(authcache_trusted());
    assert_false(changes_fanout());
    changes_link(true, ops, c);
    assert_true(changes_fanout());
    assert_true(authcache_trusted());
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    changes_link(false, ops, c);
    assert_false(authcache_trusted());
    assert_int_equal(check(h1, &id), AUTHCACHE_MISS);
    assert_int_equal(check(h2, &id), AUTHCACHE_MISS);
    foreign("session_revoked", UID, SID, NULL, 0);
    changes_job_poll(ops, c);
    assert_int_equal(changes_position(), newest_seq());
    assert_false(authcache_trusted());
    assert_int_equal(check(h1, &id), AUTHCACHE_MISS);
    foreign("user_sessions_revoked", UID, NULL, NULL, 0); /* missed: no poll before up */
    changes_link(true, ops, c);
    assert_int_equal(changes_position(), newest_seq());
    assert_true(authcache_trusted());
    assert_int_equal(check(h1, &id), AUTHCACHE_DENY);
    assert_int_equal(check(h2, &id), AUTHCACHE_DENY);
}

/* Up, but the feed cannot be read: not trusted until a read succeeds;
 * a failed read while trusted withdraws the trust at once. */
static void test_failed_read_withdraws_trust(void **state)
{
    (void)state;
    struct authcache_identity id;
    const struct store_ops *f = store_fault_wrap(&store_sqlite);
    store_fault_fail_name("events.since");
    changes_link(true, f, c);
    assert_false(authcache_trusted());
    assert_int_equal(check(h1, &id), AUTHCACHE_MISS);
    store_fault_reset();
    changes_job_poll(f, c);
    assert_true(authcache_trusted());
    assert_int_equal(check(h1, &id), AUTHCACHE_OK);
    store_fault_fail_name("events.since");
    changes_job_poll(f, c);
    assert_false(authcache_trusted());
    store_fault_reset();
    changes_wake(f, c); /* a notification: the same read */
    assert_true(authcache_trusted());
}

/* A read that began before the link went down cannot give the trust back
 * when it ends: what it read says nothing of what the lost LISTEN missed. */
static struct store_ops racing;
static enum gh_err since_then_down(struct store_conn *conn, int64_t after, struct store_event *out,
                                   size_t max, size_t *n)
{
    enum gh_err rc = store_sqlite.events.since(conn, after, out, max, n);
    changes_link(false, &racing, conn); /* the listener's thread, meanwhile */
    return rc;
}

static void test_read_begun_before_down_keeps_distrust(void **state)
{
    (void)state;
    changes_link(true, ops, c);
    assert_true(authcache_trusted());
    racing = store_sqlite;
    racing.events.since = since_then_down;
    foreign("role_changed", UID, NULL, "admin", 0);
    changes_job_poll(&racing, c);
    assert_int_equal(changes_position(), newest_seq());
    assert_false(authcache_trusted());
    changes_link(true, ops, c);
    assert_true(authcache_trusted());
}

/* While untrusted the feed reads to the end at once (the cache is
 * bypassed until then); trusted, a run reads CHANGES_MAX_PAGES pages. */
static void test_untrusted_reads_past_page_cap(void **state)
{
    (void)state;
    const int many = CHANGES_PAGE * CHANGES_MAX_PAGES + 40;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
                                        " FROM n WHERE i < ?1) INSERT INTO change_events (kind,"
                                        " user_id, session_id, text_value, int_value, origin,"
                                        " created_at) SELECT 'role_changed', ?2, '', 'admin', 0,"
                                        " 'other', ?3 FROM n",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(s, 1, many);
    sqlite3_bind_text(s, 2, UID, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    int64_t start = changes_position();
    changes_job_poll(ops, c); /* trusted, no fan-out: capped */
    assert_int_equal(changes_position(), start + CHANGES_PAGE * CHANGES_MAX_PAGES);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO change_events (kind, user_id, session_id,"
                                  " text_value, int_value, origin, created_at) SELECT kind,"
                                  " user_id, session_id, text_value, int_value, origin,"
                                  " created_at FROM change_events WHERE origin = 'other'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    changes_link(false, ops, c);
    changes_link(true, ops, c);
    assert_int_equal(changes_position(), newest_seq());
    assert_true(authcache_trusted());
}

/* Bearer tokens: untrusted, a cached token is a MISS on the loop, and the
 * worker's check verifies its signature against the keys now instead of
 * reading its cached claims (a key retired while the feed was down). */
static void test_untrusted_bearer_verified_again(void **state)
{
    (void)state;
    char *pem = test_p256_pem(), *other = test_p256_pem();
    assert_int_equal(jwt_init(pem), GH_OK);
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", UID);
    snprintf(u.email, sizeof u.email, "ada@example.com");
    snprintf(u.email_key, sizeof u.email_key, "ada@example.com");
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
    struct store_session ss;
    memset(&ss, 0, sizeof ss);
    snprintf(ss.id, sizeof ss.id, "%s", SID);
    snprintf(ss.user_id, sizeof ss.user_id, "%s", UID);
    ss.created_at = ss.last_used_at = now;
    ss.expires_at = now + 3600;
    uint8_t th[32];
    gh_random(th, sizeof th);
    assert_int_equal(ops->sessions.create(c, &ss, th, -1, NULL), GH_OK);
    struct jwt_claims cl;
    memset(&cl, 0, sizeof cl);
    cl.rev = -1;
    snprintf(cl.sub, sizeof cl.sub, "%s", UID);
    snprintf(cl.sid, sizeof cl.sid, "%s", SID);
    assert_int_equal(gh_random_token(cl.jti, JWT_JTI_LEN + 1, 16), GH_OK);
    cl.iat = now;
    cl.exp = now + 600;
    char *tok = NULL;
    assert_int_equal(jwt_sign(&cl, &tok), GH_OK);
    struct authcache_identity id;
    size_t n = strlen(tok);
    assert_int_equal(authcache_check_store(ops, c, tok, n, now, &id), GH_OK);
    assert_int_equal(authcache_check(tok, n, now, &id), AUTHCACHE_OK);
    changes_link(false, ops, c);
    assert_int_equal(authcache_check(tok, n, now, &id), AUTHCACHE_MISS);
    assert_int_equal(authcache_check_store(ops, c, tok, n, now, &id),
                     GH_OK); /* the store says live */
    /* The key that signed it is gone: trusted, the cached claims would
     * still pass; untrusted, the signature is checked again and fails. */
    jwt_shutdown();
    assert_int_equal(jwt_init(other), GH_OK);
    assert_int_equal(authcache_check_store(ops, c, tok, n, now, &id), GH_ERR_DENIED);
    changes_link(true, ops, c);
    assert_int_equal(authcache_check_store(ops, c, tok, n, now, &id), GH_OK);
    jwt_shutdown();
    free(tok);
    free(pem);
    free(other);
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
        cmocka_unit_test_setup_teardown(test_link_down_bypasses_then_catches_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_read_withdraws_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_begun_before_down_keeps_distrust, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_reads_past_page_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_bearer_verified_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
