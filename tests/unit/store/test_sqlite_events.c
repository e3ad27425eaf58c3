/* Unit tests for src/store/sqlite_events.c (the change feed), through the
 * store_ops table on a temporary database: the events group, and the
 * events the writes that change what an auth cache holds append in their
 * own transaction. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "core/util.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (test_mkdtemp(dir, sizeof dir, "gh_events_")) return -1;
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

static int setup(void **state)
{
    test_rm_db(path);
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    test_rm_db(path);
    return 0;
}

static const char *UID = "00000000-0000-4000-8000-000000000001";
static const char *SID = "00000000-0000-4000-8000-0000000000a1";
static const char *SID2 = "00000000-0000-4000-8000-0000000000a2";

static struct store_event ev(enum store_event_kind k, const char *uid, const char *sid,
                             const char *text, int64_t value)
{
    struct store_event e;
    memset(&e, 0, sizeof e);
    e.kind = k;
    snprintf(e.user_id, sizeof e.user_id, "%s", uid ? uid : "");
    snprintf(e.session_id, sizeof e.session_id, "%s", sid ? sid : "");
    snprintf(e.text, sizeof e.text, "%s", text ? text : "");
    e.value = value;
    return e;
}

/* All events after `after` (at most 64). */
static size_t all_since(struct store_conn *c, int64_t after, struct store_event *out)
{
    size_t n = 99;
    assert_int_equal(ops->events.since(c, after, out, 64, &n), GH_OK);
    return n;
}

static int64_t max_seq(struct store_conn *c)
{
    int64_t s = -1;
    assert_int_equal(ops->events.max_seq(c, &s), GH_OK);
    return s;
}

/* A raw statement on the same file (what another process would write). */
static void raw(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_kind_names(void **state)
{
    (void)state;
    for (int k = 1; k < STORE_EV_KIND_COUNT; k++) {
        const char *name = store_event_kind_name((enum store_event_kind)k);
        assert_string_not_equal(name, "unknown");
        assert_int_equal(store_event_kind_parse(name), k);
    }
    assert_string_equal(store_event_kind_name(STORE_EV_ROLE_CHANGED), "role_changed");
    assert_int_equal(store_event_kind_parse("nope"), STORE_EV_UNKNOWN);
    assert_int_equal(store_event_kind_parse(NULL), STORE_EV_UNKNOWN);
    assert_string_equal(store_event_kind_name(STORE_EV_KIND_COUNT), "unknown");
    /* The origin is one random id for the whole process. */
    assert_int_equal(strlen(store_origin()), STORE_ORIGIN_LEN);
    assert_ptr_equal(store_origin(), store_origin());
}

static void test_append_since_max(void **state)
{
    struct store_conn *c = *state;
    struct store_event out[64];
    assert_int_equal(max_seq(c), 0);
    assert_int_equal(all_since(c, 0, out), 0);
    int64_t t0 = gh_now_s();
    struct store_event a = ev(STORE_EV_ROLE_CHANGED, UID, NULL, "admin", 0);
    struct store_event b = ev(STORE_EV_TOKENS_INVALIDATED, UID, NULL, NULL, 1234);
    struct store_event d = ev(STORE_EV_USER_SESSIONS_REVOKED, UID, SID, NULL, 0);
    assert_int_equal(ops->events.append(c, &a), GH_OK);
    assert_int_equal(ops->events.append(c, &b), GH_OK);
    assert_int_equal(ops->events.append(c, &d), GH_OK);
    assert_int_equal(all_since(c, 0, out), 3);
    assert_true(out[0].seq > 0 && out[1].seq > out[0].seq && out[2].seq > out[1].seq);
    assert_int_equal(out[0].kind, STORE_EV_ROLE_CHANGED);
    assert_string_equal(out[0].user_id, UID);
    assert_string_equal(out[0].session_id, "");
    assert_string_equal(out[0].text, "admin");
    assert_string_equal(out[0].origin, store_origin());
    assert_true(out[0].created_at >= t0 && out[0].created_at <= gh_now_s());
    assert_int_equal(out[1].kind, STORE_EV_TOKENS_INVALIDATED);
    assert_int_equal(out[1].value, 1234);
    assert_string_equal(out[2].session_id, SID);
    assert_int_equal(max_seq(c), out[2].seq);
    /* After a seq; and the limit. */
    assert_int_equal(all_since(c, out[0].seq, out), 2);
    assert_int_equal(out[0].kind, STORE_EV_TOKENS_INVALIDATED);
    size_t n = 0;
    assert_int_equal(ops->events.since(c, 0, out, 1, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].kind, STORE_EV_ROLE_CHANGED);
    assert_int_equal(all_since(c, max_seq(c), out), 0);
    /* A kind that is not one refuses, and writes nothing. */
    struct store_event bad = ev(STORE_EV_UNKNOWN, UID, NULL, NULL, 0);
    assert_int_equal(ops->events.append(c, &bad), GH_ERR_INVALID);
    bad.kind = STORE_EV_KIND_COUNT;
    assert_int_equal(ops->events.append(c, &bad), GH_ERR_INVALID);
    assert_int_equal(all_since(c, 0, out), 3);
}

/* In the caller's transaction: rolled back with it, committed with it. */
static void test_append_in_caller_tx(void **state)
{
    struct store_conn *c = *state;
    struct store_event out[64];
    struct store_event a = ev(STORE_EV_SESSION_REVOKED, UID, SID, NULL, 0);
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->events.append(c, &a), GH_OK);
    ops->tx.rollback(c);
    assert_int_equal(all_since(c, 0, out), 0);
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->events.append(c, &a), GH_OK);
    assert_int_equal(ops->tx.commit(c), GH_OK);
    assert_int_equal(all_since(c, 0, out), 1);
}

/* A kind written by a newer version reads as unknown, not as an error. */
static void test_unknown_kind(void **state)
{
    struct store_conn *c = *state;
    struct store_event out[64];
    raw("INSERT INTO change_events (kind, origin, created_at) VALUES ('from_the_future', 'x', 1)");
    assert_int_equal(all_since(c, 0, out), 1);
    assert_int_equal(out[0].kind, STORE_EV_UNKNOWN);
    assert_string_equal(out[0].origin, "x");
}

/* Pruned by age; a seq is never given out twice, even when the newest
 * rows were pruned (a reader's position stays valid). */
static void test_prune(void **state)
{
    struct store_conn *c = *state;
    struct store_event out[64];
    raw("INSERT INTO change_events (kind, origin, created_at) VALUES ('role_changed', 'x', 100)");
    struct store_event a = ev(STORE_EV_SESSION_REVOKED, UID, SID, NULL, 0);
    assert_int_equal(ops->events.append(c, &a), GH_OK);
    assert_int_equal(ops->events.prune(c, 1000), GH_OK);
    assert_int_equal(all_since(c, 0, out), 1);
    assert_int_equal(out[0].kind, STORE_EV_SESSION_REVOKED);
    int64_t last = out[0].seq;
    assert_int_equal(ops->events.prune(c, gh_now_s() + 10), GH_OK);
    assert_int_equal(all_since(c, 0, out), 0);
    assert_int_equal(ops->events.append(c, &a), GH_OK);
    assert_int_equal(all_since(c, last, out), 1);
    assert_true(out[0].seq > last);
}

static void mk_user(struct store_conn *c, const char *id, const char *email)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.email_key, sizeof u.email_key, "%s", email);
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
    u.created_at = u.updated_at = gh_now_s();
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
}

static void mk_session(struct store_conn *c, const char *id, const char *uid)
{
    struct store_session s;
    memset(&s, 0, sizeof s);
    snprintf(s.id, sizeof s.id, "%s", id);
    snprintf(s.user_id, sizeof s.user_id, "%s", uid);
    s.created_at = s.last_used_at = gh_now_s();
    s.expires_at = s.created_at + 3600;
    s.restricted = true;
    uint8_t h[32];
    gh_random(h, sizeof h);
    assert_int_equal(ops->sessions.create(c, &s, h, -1, NULL), GH_OK);
}

/* The newest event: its kind, and its subjects. */
static struct store_event newest(struct store_conn *c, int64_t after, size_t expect_n)
{
    struct store_event out[64];
    assert_int_equal(all_since(c, after, out), expect_n);
    assert_true(expect_n > 0);
    return out[expect_n - 1];
}

/* Each write that changes what an auth cache holds appends its event in
 * its own transaction; one that changes nothing appends nothing. */
static void test_writes_append(void **state)
{
    struct store_conn *c = *state;
    mk_user(c, UID, "ada@example.com");
    mk_session(c, SID, UID);
    mk_session(c, SID2, UID);
    assert_int_equal(max_seq(c), 0); /* creating changes nothing cached */

    int64_t at = max_seq(c);
    assert_int_equal(ops->users.set_role(c, UID, "admin", NULL), GH_OK);
    struct store_event e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_ROLE_CHANGED);
    assert_string_equal(e.user_id, UID);
    assert_string_equal(e.text, "admin");
    at = e.seq;
    assert_int_equal(ops->users.set_role(c, "nobody", "admin", NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(max_seq(c), at);

    assert_int_equal(ops->sessions.unrestrict(c, SID), GH_OK);
    e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_SESSION_UNRESTRICTED);
    assert_string_equal(e.session_id, SID);
    at = e.seq;

    /* A step-up. */
    assert_int_equal(ops->sessions.set_mfa_at(c, SID, 4242, NULL), GH_OK);
    e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_SESSION_MFA);
    assert_string_equal(e.session_id, SID);
    assert_int_equal(e.value, 4242);
    at = e.seq;
    assert_int_equal(ops->sessions.set_mfa_at(c, "nosuchsession000000000000", 1, NULL),
                     GH_ERR_NOT_FOUND);
    assert_int_equal(max_seq(c), at);

    assert_int_equal(ops->users.set_password(c, UID, "$argon2id$new", 777, SID, gh_now_s(), NULL),
                     GH_OK);
    struct store_event out[64];
    assert_int_equal(all_since(c, at, out), 2);
    assert_int_equal(out[0].kind, STORE_EV_TOKENS_INVALIDATED);
    assert_int_equal(out[0].value, 777);
    assert_int_equal(out[1].kind, STORE_EV_USER_SESSIONS_REVOKED);
    assert_string_equal(out[1].user_id, UID);
    assert_string_equal(out[1].session_id, SID); /* the one kept */
    at = out[1].seq;

    assert_int_equal(ops->sessions.revoke(c, SID, UID, gh_now_s(), NULL), GH_OK);
    e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_SESSION_REVOKED);
    assert_string_equal(e.session_id, SID);
    assert_string_equal(e.user_id, UID);
    at = e.seq;
    assert_int_equal(ops->sessions.revoke(c, SID, UID, gh_now_s(), NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(max_seq(c), at);

    assert_int_equal(ops->sessions.revoke_user(c, UID, gh_now_s(), NULL), GH_OK);
    e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_USER_SESSIONS_REVOKED);
    assert_string_equal(e.session_id, ""); /* none kept */
    at = e.seq;

    assert_int_equal(ops->users.reclaim(c, UID, 888, gh_now_s(), NULL), GH_OK);
    assert_int_equal(all_since(c, at, out), 2);
    assert_int_equal(out[0].kind, STORE_EV_TOKENS_INVALIDATED);
    assert_int_equal(out[0].value, 888);
    assert_int_equal(out[1].kind, STORE_EV_USER_SESSIONS_REVOKED);
    at = out[1].seq;

    /* A second factor removed ends the sessions (users mfa-reset). */
    assert_int_equal(ops->totp.delete(c, UID, NULL, gh_now_s(), NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(max_seq(c), at);
    assert_int_equal(ops->totp.begin(c, UID, "sealed", gh_now_s()), GH_OK);
    uint8_t codes[STORE_BACKUP_CODES][32];
    gh_random(codes, sizeof codes);
    assert_int_equal(ops->totp.confirm(c, UID, 1, codes, SID2, gh_now_s(), NULL), GH_OK);
    e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_USER_SESSIONS_REVOKED);
    assert_string_equal(e.session_id, SID2);
    at = e.seq;
    assert_int_equal(ops->totp.delete(c, UID, NULL, gh_now_s(), NULL), GH_OK);
    e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_USER_SESSIONS_REVOKED);
    assert_string_equal(e.session_id, "");
}

/* users.set_email: the address, its key and the verification change
 * together with a user_changed event; a key another account has is a
 * conflict that changes nothing and appends nothing. */
static void test_set_email(void **state)
{
    struct store_conn *c = *state;
    static const char *OTHER = "00000000-0000-4000-8000-000000000002";
    mk_user(c, UID, "ada@example.com");
    mk_user(c, OTHER, "bob@example.com");
    int64_t at = max_seq(c);
    assert_int_equal(ops->users.set_email(c, UID, "Ada@new.example", "ada@new.example", 777, NULL),
                     GH_OK);
    struct store_event e = newest(c, at, 1);
    assert_int_equal(e.kind, STORE_EV_USER_CHANGED);
    assert_string_equal(e.user_id, UID);
    at = e.seq;
    struct store_user u;
    assert_int_equal(ops->users.by_email_key(c, "ada@new.example", &u), GH_OK);
    assert_string_equal(u.id, UID);
    assert_string_equal(u.email, "Ada@new.example");
    assert_int_equal(u.email_verified_at, 777);
    assert_int_equal(ops->users.by_email_key(c, "ada@example.com", &u), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->users.set_email(c, UID, "bob@example.com", "bob@example.com", 778, NULL),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->users.by_id(c, UID, &u), GH_OK);
    assert_string_equal(u.email_key, "ada@new.example");
    assert_int_equal(ops->users.set_email(c, "nobody", "x@new.example", "x@new.example", 779, NULL),
                     GH_ERR_NOT_FOUND);
    assert_int_equal(max_seq(c), at);
}

static void test_signing_keys_append(void **state)
{
    struct store_conn *c = *state;
    struct store_signing_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.kid, sizeof k.kid, "kid-1");
    snprintf(k.private_sealed, sizeof k.private_sealed, "sealed");
    k.created_at = k.activates_at = gh_now_s();
    assert_int_equal(ops->signing_keys.insert(c, &k), GH_OK);
    struct store_event e = newest(c, 0, 1);
    assert_int_equal(e.kind, STORE_EV_SIGNING_KEYS_CHANGED);
    assert_string_equal(e.text, "kid-1");
    /* A clash rolls its event back with it. */
    assert_int_equal(ops->signing_keys.insert(c, &k), GH_ERR_CONFLICT);
    assert_int_equal(max_seq(c), e.seq);
    assert_int_equal(ops->signing_keys.delete(c, "no-such-kid"), GH_OK);
    assert_int_equal(max_seq(c), e.seq);
    assert_int_equal(ops->signing_keys.delete(c, "kid-1"), GH_OK);
    struct store_event d = newest(c, e.seq, 1);
    assert_int_equal(d.kind, STORE_EV_SIGNING_KEYS_CHANGED);
    assert_string_equal(d.text, "kid-1");
}

/* A write in the caller's transaction: its event goes with it. */
static void test_write_event_rolls_back(void **state)
{
    struct store_conn *c = *state;
    mk_user(c, UID, "ada@example.com");
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->users.set_role(c, UID, "admin", NULL), GH_OK);
    ops->tx.rollback(c);
    assert_int_equal(max_seq(c), 0);
    struct store_user u;
    assert_int_equal(ops->users.by_id(c, UID, &u), GH_OK);
    assert_string_equal(u.role, "user");
}

/* sessions.revoke_all (gatehouse restore): every live session revoked,
 * every account's tokens_invalidated_at raised (never lowered), one
 * sessions-revoked and one tokens-invalidated event per account, and the
 * audit row, in one transaction. */
static void test_revoke_all(void **state)
{
    struct store_conn *c = *state;
    const char *UID2 = "00000000-0000-4000-8000-000000000002";
    const char *SID3 = "00000000-0000-4000-8000-0000000000a3";
    mk_user(c, UID, "ada@example.com");
    mk_user(c, UID2, "bob@example.com");
    mk_session(c, SID, UID);
    mk_session(c, SID2, UID);
    mk_session(c, SID3, UID2);
    assert_int_equal(ops->sessions.revoke(c, SID2, UID, gh_now_s(), NULL), GH_OK);
    int64_t after = max_seq(c), tia = gh_now_s() + 5, n = -1;
    struct store_audit ev = {.actor = "system", .action = "backup.restored", .details = "{}"};
    int64_t rows0 = 0, rows1 = 0, lo, hi;
    assert_int_equal(ops->audit.bounds(c, &lo, &hi, &rows0), GH_OK);
    assert_int_equal(ops->sessions.revoke_all(c, tia, gh_now_s(), &ev, &n), GH_OK);
    assert_int_equal(n, 2); /* SID2 was already revoked */
    assert_int_equal(ops->audit.bounds(c, &lo, &hi, &rows1), GH_OK);
    assert_int_equal(rows1, rows0 + 1);
    struct store_session s;
    assert_int_equal(ops->sessions.get(c, SID, &s), GH_OK);
    assert_true(s.revoked_at > 0);
    assert_int_equal(ops->sessions.get(c, SID3, &s), GH_OK);
    assert_true(s.revoked_at > 0);
    struct store_user u;
    assert_int_equal(ops->users.by_id(c, UID2, &u), GH_OK);
    assert_int_equal(u.tokens_invalidated_at, tia);
    struct store_event out[64];
    assert_int_equal(all_since(c, after, out), 4);
    int revoked = 0, invalidated = 0;
    for (int i = 0; i < 4; i++) {
        if (out[i].kind == STORE_EV_USER_SESSIONS_REVOKED) revoked++;
        if (out[i].kind == STORE_EV_TOKENS_INVALIDATED && out[i].value == tia) invalidated++;
    }
    assert_int_equal(revoked, 2);
    assert_int_equal(invalidated, 2);
    /* An older tia lowers nothing. */
    assert_int_equal(ops->sessions.revoke_all(c, tia - 100, gh_now_s(), NULL, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ops->users.by_id(c, UID, &u), GH_OK);
    assert_int_equal(u.tokens_invalidated_at, tia);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test_setup_teardown(test_append_since_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_in_caller_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_email, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signing_keys_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_event_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_all, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
