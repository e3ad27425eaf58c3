/* Unit tests for src/store/sqlite.c, through the store_ops table, on a
 * temporary database file (under $TMPDIR, removed afterwards). */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "store/migrations.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

struct fx {
    struct store_conn *c;
    int64_t now;
};

static int group_setup(void **state)
{
    (void)state;
    test_config();
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gh_store_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    test_rm_db(path);
    rmdir(dir);
    return 0;
}

/* Each test gets a fresh, migrated database. */
static int setup(void **state)
{
    test_rm_db(path);
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    if (ops->open(path, &f->c) != GH_OK || ops->migrate(f->c) != GH_OK) {
        free(f);
        return -1;
    }
    f->now = gh_now_s();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ops->close(f->c);
    free(f);
    test_rm_db(path);
    return 0;
}

/* ---- builders ---- */

static int count_rows(void *arg, const struct store_audit_row *row)
{
    (void)row;
    ++*(int64_t *)arg;
    return 0;
}

static struct store_user mk_user(const char *id, const char *email, int64_t now)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.email, sizeof u.email, "%s", email);
    for (size_t i = 0; email[i]; i++)
        u.email_key[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$v=19$m=8192,t=1,p=1$fake");
    u.created_at = u.updated_at = now;
    u.tokens_invalidated_at = 0;
    return u;
}

static void hash_of(uint8_t h[32], const char *label)
{
    assert_int_equal(gh_sha256(h, label, strlen(label)), GH_OK);
}

static struct store_session mk_session(const char *id, const char *uid, int64_t created,
                                       int64_t expires)
{
    struct store_session s;
    memset(&s, 0, sizeof s);
    snprintf(s.id, sizeof s.id, "%s", id);
    snprintf(s.user_id, sizeof s.user_id, "%s", uid);
    s.created_at = s.last_used_at = created;
    s.expires_at = expires;
    snprintf(s.ip, sizeof s.ip, "192.0.2.7");
    snprintf(s.user_agent, sizeof s.user_agent, "unit-test/1.0");
    return s;
}

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define S1 "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define S2 "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define S3 "cccccccc-cccc-4ccc-8ccc-cccccccccccc"

static void add_users(struct fx *f)
{
    struct store_user u1 = mk_user(U1, "Alice@example.com", f->now);
    struct store_user u2 = mk_user(U2, "bob@example.com", f->now);
    assert_int_equal(ops->users.create(f->c, &u1, NULL), GH_OK);
    assert_int_equal(ops->users.create(f->c, &u2, NULL), GH_OK);
}

static void add_session(struct fx *f, const char *sid, const char *uid, int64_t created,
                        const char *tok_label)
{
    struct store_session s = mk_session(sid, uid, created, f->now + 3600);
    uint8_t h[32];
    hash_of(h, tok_label);
    assert_int_equal(ops->sessions.create(f->c, &s, h, -1, NULL), GH_OK);
}

/* ---- migrations ---- */

static void migrations(void **state)
{
    (void)state;
    test_rm_db(path);
    struct store_conn *c = NULL;
    int n = -1;
    assert_int_equal(ops->open(path, &c), GH_OK);
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_true(n >= 1);
    assert_int_equal(ops->migrate(c), GH_OK);
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ops->migrate(c), GH_OK); /* idempotent */
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 0);
    ops->close(c);
    /* and again from a new connection on the same file, keeping the data */
    assert_int_equal(ops->open(path, &c), GH_OK);
    assert_int_equal(ops->pending_migrations(c, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ops->migrate(c), GH_OK);
    struct store_user u = mk_user(U1, "a@example.com", 1);
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
    ops->close(c);
    assert_int_equal(ops->open(path, &c), GH_OK);
    assert_int_equal(ops->migrate(c), GH_OK);
    struct store_user out;
    assert_int_equal(ops->users.by_id(c, U1, &out), GH_OK);
    ops->close(c);
    assert_string_equal(ops->name, "sqlite");
    assert_ptr_equal(store_backend(), &store_sqlite);
}

static void open_fails_cleanly(void **state)
{
    (void)state;
    struct store_conn *c = NULL;
    assert_int_equal(ops->open("/nonexistent-dir/sub/x.db", &c), GH_ERR_INTERNAL);
    ops->close(NULL);
}

/* ---- users ---- */

static void users(void **state)
{
    struct fx *f = *state;
    struct store_user u = mk_user(U1, "Alice@example.com", f->now), out;
    assert_int_equal(ops->users.create(f->c, &u, NULL), GH_OK);

    /* the same email_key again (other id, other case in email) */
    struct store_user dup = mk_user(U2, "ALICE@example.com", f->now);
    assert_string_equal(dup.email_key, u.email_key);
    assert_int_equal(ops->users.create(f->c, &dup, NULL), GH_ERR_CONFLICT);
    /* the same id again */
    struct store_user dupid = mk_user(U1, "carol@example.com", f->now);
    assert_int_equal(ops->users.create(f->c, &dupid, NULL), GH_ERR_CONFLICT);

    memset(&out, 0, sizeof out);
    assert_int_equal(ops->users.by_email_key(f->c, "alice@example.com", &out), GH_OK);
    assert_string_equal(out.id, U1);
    assert_string_equal(out.email, "Alice@example.com");
    assert_string_equal(out.email_key, "alice@example.com");
    assert_string_equal(out.password_hash, u.password_hash);
    assert_int_equal(out.created_at, f->now);
    assert_int_equal(out.tokens_invalidated_at, 0);
    /* the key is exact: no case folding in the store */
    assert_int_equal(ops->users.by_email_key(f->c, "Alice@example.com", &out), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->users.by_email_key(f->c, "nobody@example.com", &out), GH_ERR_NOT_FOUND);
    /* SQL metacharacters are data */
    assert_int_equal(ops->users.by_email_key(f->c, "' OR '1'='1", &out), GH_ERR_NOT_FOUND);

    memset(&out, 0, sizeof out);
    assert_int_equal(ops->users.by_id(f->c, U1, &out), GH_OK);
    assert_string_equal(out.email_key, "alice@example.com");
    assert_int_equal(ops->users.by_id(f->c, U2, &out), GH_ERR_NOT_FOUND);

    /* the second user was not created by the failed inserts */
    assert_int_equal(ops->users.by_email_key(f->c, "carol@example.com", &out), GH_ERR_NOT_FOUND);

    /* rehash replaces the hash only, with its audit row, and only while the
     * hash is still the one that was checked */
    struct store_audit ev = {.actor = U1,
                             .action = "password.rehashed",
                             .target = U1,
                             .details = "{\"from\":\"bcrypt\",\"to\":\"argon2id\"}"};
    int64_t rows0 = 0, rows1 = 0;
    assert_int_equal(ops->audit.scan(f->c, 0, 0, count_rows, &rows0), GH_OK);
    assert_int_equal(ops->users.rehash(f->c, U1, "$2b$10$stale", "$argon2id$v=19$m=19456,t=2,p=1$x",
                                       f->now + 5, &ev),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->users.rehash(f->c, U1, u.password_hash,
                                       "$argon2id$v=19$m=19456,t=2,p=1$new", f->now + 5, &ev),
                     GH_OK);
    assert_int_equal(ops->audit.scan(f->c, 0, 0, count_rows, &rows1), GH_OK);
    assert_int_equal(rows1, rows0 + 1); /* one row: the conflict wrote none */
    assert_int_equal(ops->users.by_id(f->c, U1, &out), GH_OK);
    assert_string_equal(out.password_hash, "$argon2id$v=19$m=19456,t=2,p=1$new");
    assert_int_equal(out.updated_at, f->now + 5);
    assert_int_equal(out.tokens_invalidated_at, 0);

    /* other_hashes: every hash but "!" and the kept prefix, by id, paged */
    struct store_user b = mk_user(U2, "bob@example.com", f->now);
    snprintf(b.password_hash, sizeof b.password_hash, "$2b$10$%053d", 0);
    assert_int_equal(ops->users.create(f->c, &b, NULL), GH_OK);
    struct store_user n = mk_user("00000000-0000-4000-8000-000000000009", "n@example.com", f->now);
    snprintf(n.password_hash, sizeof n.password_hash, "!");
    assert_int_equal(ops->users.create(f->c, &n, NULL), GH_OK);
    struct store_hash_row rows[4];
    size_t nr = 9;
    assert_int_equal(
        ops->users.other_hashes(f->c, "$argon2id$v=19$m=19456,t=2,p=1$", "", rows, 4, &nr), GH_OK);
    assert_int_equal(nr, 1);
    assert_string_equal(rows[0].id, U2);
    assert_string_equal(rows[0].hash, b.password_hash);
    assert_int_equal(ops->users.other_hashes(f->c, "$argon2id$v=19$m=1,", "", rows, 1, &nr), GH_OK);
    assert_int_equal(nr, 1);
    assert_string_equal(rows[0].id, U1); /* ids in order, one at a time */
    assert_int_equal(ops->users.other_hashes(f->c, "$argon2id$v=19$m=1,", U1, rows, 4, &nr), GH_OK);
    assert_int_equal(nr, 1);
    assert_string_equal(rows[0].id, U2);
    assert_int_equal(ops->users.other_hashes(f->c, "$argon2id$v=19$m=1,", U2, rows, 4, &nr), GH_OK);
    assert_int_equal(nr, 0);
}

/* ---- sessions and refresh tokens ---- */

static void session_create_and_get(void **state)
{
    struct fx *f = *state;
    add_users(f);
    struct store_session s = mk_session(S1, U1, f->now, f->now + 3600), out;
    uint8_t h[32], other[32];
    hash_of(h, "token-1");
    hash_of(other, "token-unknown");
    assert_int_equal(ops->sessions.create(f->c, &s, h, -1, NULL), GH_OK);

    memset(&out, 0, sizeof out);
    assert_int_equal(ops->sessions.get(f->c, S1, &out), GH_OK);
    assert_string_equal(out.id, S1);
    assert_string_equal(out.user_id, U1);
    assert_int_equal(out.created_at, f->now);
    assert_int_equal(out.expires_at, f->now + 3600);
    assert_int_equal(out.revoked_at, 0);
    assert_string_equal(out.ip, "192.0.2.7");
    assert_string_equal(out.user_agent, "unit-test/1.0");
    assert_int_equal(ops->sessions.get(f->c, S2, &out), GH_ERR_NOT_FOUND);

    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    assert_int_equal(ops->refresh.get(f->c, h, rt), GH_OK);
    assert_string_equal(rt->session_id, S1);
    assert_string_equal(rt->user_id, U1);
    assert_int_equal(rt->expires_at, f->now + 3600);
    assert_int_equal(rt->rotated_at_us, 0);
    assert_true(rt->session_live);
    assert_int_equal(rt->box_len, 0);
    assert_int_equal(rt->created_at, f->now);
    assert_false(rt->session_cookie);
    assert_false(out.cookie);
    assert_int_equal(ops->refresh.get(f->c, other, rt), GH_ERR_NOT_FOUND);

    /* a cookie session keeps its mode (migration 13), seen by both reads */
    const char *sc_id = "dddddddd-dddd-4ddd-8ddd-dddddddddddd";
    struct store_session sc = mk_session(sc_id, U1, f->now, f->now + 3600);
    sc.cookie = true;
    uint8_t hc[32];
    hash_of(hc, "token-cookie");
    assert_int_equal(ops->sessions.create(f->c, &sc, hc, -1, NULL), GH_OK);
    assert_int_equal(ops->sessions.get(f->c, sc_id, &out), GH_OK);
    assert_true(out.cookie);
    assert_int_equal(ops->refresh.get(f->c, hc, rt), GH_OK);
    assert_true(rt->session_cookie);
    assert_int_equal(ops->sessions.revoke(f->c, sc_id, U1, f->now, NULL), GH_OK);

    /* a duplicate session id, or a token hash already in use, is refused
     * and leaves nothing behind (atomic) */
    struct store_session s2 = mk_session(S2, U1, f->now, f->now + 3600);
    assert_int_equal(ops->sessions.create(f->c, &s2, h, -1, NULL), GH_ERR_CONFLICT);
    assert_int_equal(ops->sessions.get(f->c, S2, &out), GH_ERR_NOT_FOUND);
    /* a session for an unknown user is refused (foreign key) */
    struct store_session s3 = mk_session(S3, "no-such-user", f->now, f->now + 3600);
    hash_of(h, "token-3");
    assert_int_not_equal(ops->sessions.create(f->c, &s3, h, -1, NULL), GH_OK);
    assert_int_equal(ops->sessions.get(f->c, S3, &out), GH_ERR_NOT_FOUND);
    free(rt);
}

static void rotation_exactly_once(void **state)
{
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now, "rt-0");
    uint8_t h0[32], h1[32], h2[32], h3[32];
    hash_of(h0, "rt-0");
    hash_of(h1, "rt-1");
    hash_of(h2, "rt-2");
    hash_of(h3, "rt-3");
    const uint8_t box[] = "sealed successor pair";
    int64_t now_us = gh_now_us();

    assert_int_equal(ops->refresh.rotate(f->c, h0, h1, box, sizeof box, now_us, f->now + 7200),
                     GH_OK);
    /* a second rotation of the same old token loses, even to another successor */
    assert_int_equal(ops->refresh.rotate(f->c, h0, h2, box, sizeof box, now_us + 1, f->now + 7200),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->refresh.rotate(f->c, h0, h1, box, sizeof box, now_us + 2, f->now + 7200),
                     GH_ERR_CONFLICT);

    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    /* the spent token keeps its box and rotation time */
    assert_int_equal(ops->refresh.get(f->c, h0, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, now_us);
    assert_int_equal(rt->box_len, sizeof box);
    assert_memory_equal(rt->box, box, sizeof box);
    /* the successor is current; the loser's successor never got stored */
    assert_int_equal(ops->refresh.get(f->c, h1, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, 0);
    assert_string_equal(rt->session_id, S1);
    assert_int_equal(rt->expires_at, f->now + 7200);
    assert_true(rt->session_live);
    assert_int_equal(ops->refresh.get(f->c, h2, rt), GH_ERR_NOT_FOUND);
    /* the session's expiry follows its newest token */
    struct store_session s;
    assert_int_equal(ops->sessions.get(f->c, S1, &s), GH_OK);
    assert_int_equal(s.expires_at, f->now + 7200);

    /* the chain goes on from the successor; an empty box is fine */
    assert_int_equal(ops->refresh.rotate(f->c, h1, h2, NULL, 0, now_us + 10, f->now + 7300), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, h1, rt), GH_OK);
    assert_int_equal(rt->box_len, 0);
    /* an unknown token cannot be rotated */
    assert_int_equal(ops->refresh.rotate(f->c, h3, h3, NULL, 0, now_us + 20, f->now + 7300),
                     GH_ERR_CONFLICT);
    free(rt);
}

static void rotation_collision_is_atomic(void **state)
{
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now, "rt-a");
    add_session(f, S2, U1, f->now, "rt-b");
    uint8_t ha[32], hb[32];
    hash_of(ha, "rt-a");
    hash_of(hb, "rt-b");
    /* successor hash collides with an existing token: refused, old not spent */
    enum gh_err rc = ops->refresh.rotate(f->c, ha, hb, NULL, 0, gh_now_us(), f->now + 100);
    assert_int_not_equal(rc, GH_OK);
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    assert_int_equal(ops->refresh.get(f->c, ha, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, 0);
    free(rt);
}

static void rotation_refused_when_revoked_or_expired(void **state)
{
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now, "rt-1");
    uint8_t h1[32], h1n[32], h2[32], h2n[32];
    hash_of(h1, "rt-1");
    hash_of(h1n, "rt-1-next");
    assert_int_equal(ops->sessions.revoke(f->c, S1, U1, f->now, NULL), GH_OK);
    assert_int_equal(ops->refresh.rotate(f->c, h1, h1n, NULL, 0, gh_now_us(), f->now + 100),
                     GH_ERR_CONFLICT);
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    assert_int_equal(ops->refresh.get(f->c, h1, rt), GH_OK);
    assert_false(rt->session_live);
    assert_int_equal(rt->rotated_at_us, 0);
    assert_int_equal(ops->refresh.get(f->c, h1n, rt), GH_ERR_NOT_FOUND);

    /* an expired token cannot be rotated either */
    struct store_session s = mk_session(S2, U1, f->now - 100, f->now - 1);
    hash_of(h2, "rt-2");
    hash_of(h2n, "rt-2-next");
    assert_int_equal(ops->sessions.create(f->c, &s, h2, -1, NULL), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, h2, rt), GH_OK);
    assert_false(rt->session_live);
    assert_int_equal(ops->refresh.rotate(f->c, h2, h2n, NULL, 0, gh_now_us(), f->now + 100),
                     GH_ERR_CONFLICT);
    free(rt);
}

static void session_list_and_revoke(void **state)
{
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now - 30, "t1");
    add_session(f, S2, U1, f->now - 20, "t2");
    add_session(f, S3, U2, f->now - 10, "t3");
    struct store_session list[8];
    size_t n = 99;

    assert_int_equal(ops->sessions.list(f->c, U1, f->now, list, 8, &n), GH_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, S2); /* newest first */
    assert_string_equal(list[1].id, S1);
    /* max is honoured */
    assert_int_equal(ops->sessions.list(f->c, U1, f->now, list, 1, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, S2);
    /* expired sessions are not listed */
    assert_int_equal(ops->sessions.list(f->c, U1, f->now + 3600, list, 8, &n), GH_OK);
    assert_int_equal(n, 0);

    /* revoking another user's session: not found, and it stays live */
    assert_int_equal(ops->sessions.revoke(f->c, S3, U1, f->now, NULL), GH_ERR_NOT_FOUND);
    struct store_session s;
    assert_int_equal(ops->sessions.get(f->c, S3, &s), GH_OK);
    assert_int_equal(s.revoked_at, 0);
    assert_int_equal(ops->sessions.revoke(f->c, "no-such-session", U1, f->now, NULL),
                     GH_ERR_NOT_FOUND);

    /* revoke own session: excluded from the list, revoked_at recorded */
    assert_int_equal(ops->sessions.revoke(f->c, S2, U1, f->now + 1, NULL), GH_OK);
    assert_int_equal(ops->sessions.list(f->c, U1, f->now, list, 8, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, S1);
    assert_int_equal(ops->sessions.get(f->c, S2, &s), GH_OK);
    assert_int_equal(s.revoked_at, f->now + 1);
    /* revoking twice: the second finds no live session */
    assert_int_equal(ops->sessions.revoke(f->c, S2, U1, f->now + 2, NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->sessions.get(f->c, S2, &s), GH_OK);
    assert_int_equal(s.revoked_at, f->now + 1);

    /* revoke all of U1: U2 untouched */
    assert_int_equal(ops->sessions.revoke_user(f->c, U1, f->now + 3, NULL), GH_OK);
    assert_int_equal(ops->sessions.list(f->c, U1, f->now, list, 8, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ops->sessions.list(f->c, U2, f->now, list, 8, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, S3);
}

static void set_password_revokes_others(void **state)
{
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now - 30, "t1");
    add_session(f, S2, U1, f->now - 20, "t2");
    add_session(f, S3, U2, f->now - 10, "t3");
    const char *nh = "$argon2id$v=19$m=8192,t=1,p=1$changed";
    assert_int_equal(ops->users.set_password(f->c, U1, nh, f->now + 7, S2, f->now + 8, NULL),
                     GH_OK);

    struct store_user u;
    assert_int_equal(ops->users.by_id(f->c, U1, &u), GH_OK);
    assert_string_equal(u.password_hash, nh);
    assert_int_equal(u.tokens_invalidated_at, f->now + 7);
    assert_int_equal(u.updated_at, f->now + 8);

    struct store_session s;
    assert_int_equal(ops->sessions.get(f->c, S1, &s), GH_OK);
    assert_int_equal(s.revoked_at, f->now + 8);
    assert_int_equal(ops->sessions.get(f->c, S2, &s), GH_OK);
    assert_int_equal(s.revoked_at, 0); /* kept */
    assert_int_equal(ops->sessions.get(f->c, S3, &s), GH_OK);
    assert_int_equal(s.revoked_at, 0); /* other user */

    /* refresh.get reports the new invalidation time and liveness */
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    uint8_t h[32];
    hash_of(h, "t2");
    assert_int_equal(ops->refresh.get(f->c, h, rt), GH_OK);
    assert_int_equal(rt->tokens_invalidated_at, f->now + 7);
    assert_true(rt->session_live);
    hash_of(h, "t1");
    assert_int_equal(ops->refresh.get(f->c, h, rt), GH_OK);
    assert_false(rt->session_live);
    free(rt);

    /* keep_sid NULL keeps none */
    assert_int_equal(ops->users.set_password(f->c, U1, nh, f->now + 9, NULL, f->now + 9, NULL),
                     GH_OK);
    assert_int_equal(ops->sessions.get(f->c, S2, &s), GH_OK);
    assert_int_equal(s.revoked_at, f->now + 9);
    assert_int_equal(ops->sessions.get(f->c, S3, &s), GH_OK);
    assert_int_equal(s.revoked_at, 0);

    /* unknown user: not found, nothing changes */
    assert_int_equal(ops->users.set_password(f->c, "nobody", nh, 1, NULL, 1, NULL),
                     GH_ERR_NOT_FOUND);
}

static void prune(void **state)
{
    struct fx *f = *state;
    add_users(f);
    struct store_session old = mk_session(S1, U1, f->now - 1000, f->now - 500);
    uint8_t h_old[32], h_new[32];
    hash_of(h_old, "old");
    assert_int_equal(ops->sessions.create(f->c, &old, h_old, -1, NULL), GH_OK);
    add_session(f, S2, U1, f->now, "new");
    hash_of(h_new, "new");
    assert_int_equal(ops->upkeep.prune(f->c, f->now), GH_OK);
    struct store_session s;
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    assert_int_equal(ops->sessions.get(f->c, S1, &s), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->refresh.get(f->c, h_old, rt), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->sessions.get(f->c, S2, &s), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, h_new, rt), GH_OK);
    free(rt);
}

static void forget_successors(void **state)
{
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now, "a0");
    add_session(f, S2, U1, f->now, "b0");
    uint8_t a0[32], a1[32], b0[32], b1[32];
    hash_of(a0, "a0");
    hash_of(a1, "a1");
    hash_of(b0, "b0");
    hash_of(b1, "b1");
    const uint8_t box[] = "sealed successor pair";
    int64_t t = gh_now_us();
    assert_int_equal(ops->refresh.rotate(f->c, a0, a1, box, sizeof box, t, f->now + 100), GH_OK);
    assert_int_equal(ops->refresh.rotate(f->c, b0, b1, box, sizeof box, t + 10, f->now + 100),
                     GH_OK);
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);

    /* still inside the window: kept */
    assert_int_equal(ops->refresh.forget_successors(f->c, a0, t), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, a0, rt), GH_OK);
    assert_int_equal(rt->box_len, sizeof box);
    /* one token: only its pair goes; the rotation time stays (reuse is still detected) */
    assert_int_equal(ops->refresh.forget_successors(f->c, a0, t + 1), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, a0, rt), GH_OK);
    assert_int_equal(rt->box_len, 0);
    assert_int_equal(rt->rotated_at_us, t);
    assert_int_equal(ops->refresh.get(f->c, b0, rt), GH_OK);
    assert_int_equal(rt->box_len, sizeof box);
    /* all: by rotation time */
    assert_int_equal(ops->refresh.forget_successors(f->c, NULL, t + 10), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, b0, rt), GH_OK);
    assert_int_equal(rt->box_len, sizeof box);
    assert_int_equal(ops->refresh.forget_successors(f->c, NULL, t + 11), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, b0, rt), GH_OK);
    assert_int_equal(rt->box_len, 0);
    assert_int_equal(rt->rotated_at_us, t + 10);
    free(rt);
}

static void two_connections(void **state)
{
    /* A second connection (another worker) sees committed rotations. */
    struct fx *f = *state;
    add_users(f);
    add_session(f, S1, U1, f->now, "r0");
    struct store_conn *c2 = NULL;
    assert_int_equal(ops->open(path, &c2), GH_OK);
    uint8_t h0[32], h1[32], h2[32];
    hash_of(h0, "r0");
    hash_of(h1, "r1");
    hash_of(h2, "r2");
    assert_int_equal(ops->refresh.rotate(f->c, h0, h1, NULL, 0, gh_now_us(), f->now + 100), GH_OK);
    assert_int_equal(ops->refresh.rotate(c2, h0, h2, NULL, 0, gh_now_us(), f->now + 100),
                     GH_ERR_CONFLICT);
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    assert_int_equal(ops->refresh.get(c2, h1, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, 0);
    free(rt);
    ops->close(c2);
}

/* ---- connection settings ---- */

/* journal_mode is a property of the file: another connection reads it back. */
static char *pragma_text(const char *q)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    char *out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_non_null(out);
    return out;
}

static void wal_mode(void **state)
{
    struct fx *f = *state;
    char *mode = pragma_text("PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    /* a write through the store goes to the write-ahead log */
    add_users(f);
    char wal[700];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    assert_true(st.st_size > 0);
}

/* foreign_keys is per connection: the store's own connection must refuse
 * rows pointing at nothing, and cascade deletes. */
static void foreign_keys_on(void **state)
{
    struct fx *f = *state;
    struct store_session s = mk_session(S1, U1, f->now, f->now + 3600);
    uint8_t h[32];
    hash_of(h, "orphan");
    assert_int_not_equal(ops->sessions.create(f->c, &s, h, -1, NULL), GH_OK);
    /* nothing was written by the refused insert */
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    add_users(f);
    assert_int_equal(ops->refresh.get(f->c, h, rt), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->sessions.create(f->c, &s, h, -1, NULL), GH_OK);
    assert_int_equal(ops->refresh.get(f->c, h, rt), GH_OK);
    free(rt);
}

/* Issue 9: a confirmed factor ends the other sessions in its transaction
 * (item 11), and a session remembers when its sign-in passed a factor
 * (item 12, migration 14). */
static void totp_confirm_revokes_others_and_mfa_at(void **state)
{
    struct fx *f = *state;
    add_users(f);
    struct store_session s = mk_session(S1, U1, f->now - 30, f->now + 3600);
    s.mfa_at = f->now - 30;
    uint8_t h[32];
    hash_of(h, "t1");
    assert_int_equal(ops->sessions.create(f->c, &s, h, -1, NULL), GH_OK);
    add_session(f, S2, U1, f->now - 20, "t2");
    add_session(f, S3, U2, f->now - 10, "t3");
    struct store_session out;
    assert_int_equal(ops->sessions.get(f->c, S1, &out), GH_OK);
    assert_int_equal(out.mfa_at, f->now - 30);
    assert_int_equal(ops->sessions.get(f->c, S2, &out), GH_OK);
    assert_int_equal(out.mfa_at, 0);

    uint8_t hashes[STORE_BACKUP_CODES][32];
    memset(hashes, 0, sizeof hashes);
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        hashes[i][0] = (uint8_t)(i + 1);
    assert_int_equal(ops->totp.confirm(f->c, U1, 1, (const uint8_t(*)[32])hashes, S2, f->now, NULL),
                     GH_ERR_CONFLICT); /* nothing to confirm: nothing revoked */
    assert_int_equal(ops->sessions.get(f->c, S1, &out), GH_OK);
    assert_int_equal(out.revoked_at, 0);
    assert_int_equal(ops->totp.begin(f->c, U1, "v1.sealed", f->now), GH_OK);
    assert_int_equal(
        ops->totp.confirm(f->c, U1, 1, (const uint8_t(*)[32])hashes, S2, f->now + 5, NULL), GH_OK);
    assert_int_equal(ops->sessions.get(f->c, S1, &out), GH_OK);
    assert_int_equal(out.revoked_at, f->now + 5);
    assert_int_equal(ops->sessions.get(f->c, S2, &out), GH_OK);
    assert_int_equal(out.revoked_at, 0); /* the enrolling session */
    assert_int_equal(ops->sessions.get(f->c, S3, &out), GH_OK);
    assert_int_equal(out.revoked_at, 0); /* another user */
}

/* The common part of a migration runs on every backend: no binary type
 * or trigger of one backend in it. Each backend's part keeps to its own
 * types, and a table SQLite creates in its part (BLOB) has a PostgreSQL
 * counterpart (BYTEA). */
static void migrations_per_backend(void **state)
{
    (void)state;
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        assert_int_equal(m->version, (int)i + 1);
        if (m->sql) {
            assert_null(strstr(m->sql, "BLOB"));
            assert_null(strstr(m->sql, "BYTEA"));
            assert_null(strstr(m->sql, "TRIGGER"));
        }
        if (m->sqlite_sql) assert_null(strstr(m->sqlite_sql, "BYTEA"));
        if (m->pg_sql) assert_null(strstr(m->pg_sql, "BLOB"));
        if (m->sqlite_sql && strstr(m->sqlite_sql, "BLOB")) assert_non_null(m->pg_sql);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations),
        cmocka_unit_test(migrations_per_backend),
        cmocka_unit_test(open_fails_cleanly),
        T(wal_mode),
        T(foreign_keys_on),
        T(users),
        T(session_create_and_get),
        T(rotation_exactly_once),
        T(rotation_collision_is_atomic),
        T(rotation_refused_when_revoked_or_expired),
        T(session_list_and_revoke),
        T(set_password_revokes_others),
        T(totp_confirm_revokes_others_and_mfa_at),
        T(prune),
        T(forget_successors),
        T(two_connections),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
