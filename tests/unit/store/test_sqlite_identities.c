/* Unit tests for src/store/sqlite_identities.c, through the store_ops
 * table on a temporary database: linking (and its clash), lookups, the
 * list, unlinking (only the owner's), touch, the cascade when an account
 * is deleted, and the native-flow nonces (single use, per provider,
 * expiring, pruned); the fault injector wraps the new groups. */
#include "testutil.h"

#include <sqlite3.h>

#include "core/util.h"
#include "store/fault.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static const char *UID = "00000000-0000-4000-8000-000000000001";
static const char *UID2 = "00000000-0000-4000-8000-000000000002";

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_identities_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static void add_user(struct store_conn *c, const char *id, const char *email)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", id);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.email_key, sizeof u.email_key, "%s", email);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = gh_now_s();
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
}

static int setup(void **state)
{
    test_rm_db(path);
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    add_user(c, UID, "a@example.com");
    add_user(c, UID2, "b@example.com");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    test_rm_db(path);
    return 0;
}

static struct store_identity ident(const char *provider, const char *subject, const char *uid,
                                   int64_t at)
{
    struct store_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.provider, sizeof id.provider, "%s", provider);
    snprintf(id.subject, sizeof id.subject, "%s", subject);
    snprintf(id.user_id, sizeof id.user_id, "%s", uid);
    snprintf(id.email, sizeof id.email, "%s@provider.example", subject);
    id.created_at = id.last_used_at = at;
    return id;
}

static int64_t count(struct store_conn *c, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    (void)c;
    return n;
}

static void test_link_and_lookup(void **state)
{
    struct store_conn *c = *state;
    struct store_identity id = ident("google", "1234567890", UID, 1000), got;
    struct store_audit ev = {.actor = UID, .action = "identity.linked", .target = UID};
    assert_int_equal(ops->identities.link(c, &id, &ev), GH_OK);
    assert_int_equal(ops->identities.by_subject(c, "google", "1234567890", &got), GH_OK);
    assert_string_equal(got.provider, "google");
    assert_string_equal(got.subject, "1234567890");
    assert_string_equal(got.user_id, UID);
    assert_string_equal(got.email, "1234567890@provider.example");
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.last_used_at, 1000);
    /* The audit row went in with it. */
    assert_int_equal(count(c, "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.linked'"),
                     1);
    /* Same subject at another provider, or another subject: not found. */
    assert_int_equal(ops->identities.by_subject(c, "apple", "1234567890", &got), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->identities.by_subject(c, "google", "123456789", &got), GH_ERR_NOT_FOUND);
}

/* (provider, subject) belongs to one account: a second link, to the same
 * or another account, is a conflict, changes nothing and is not audited. */
static void test_link_conflict(void **state)
{
    struct store_conn *c = *state;
    struct store_identity id = ident("google", "sub-1", UID, 1000);
    assert_int_equal(ops->identities.link(c, &id, NULL), GH_OK);
    struct store_identity other = ident("google", "sub-1", UID2, 2000);
    struct store_audit ev = {.actor = UID2, .action = "identity.linked", .target = UID2};
    assert_int_equal(ops->identities.link(c, &other, &ev), GH_ERR_CONFLICT);
    struct store_identity got;
    assert_int_equal(ops->identities.by_subject(c, "google", "sub-1", &got), GH_OK);
    assert_string_equal(got.user_id, UID);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM audit_log"), 0);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM identities"), 1);
}

/* A link inside the caller's transaction is rolled back with it. */
static void test_link_in_caller_tx(void **state)
{
    struct store_conn *c = *state;
    struct store_identity id = ident("google", "sub-tx", UID, 1000), got;
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->identities.link(c, &id, NULL), GH_OK);
    ops->tx.rollback(c);
    assert_int_equal(ops->identities.by_subject(c, "google", "sub-tx", &got), GH_ERR_NOT_FOUND);
}

static void test_list_oldest_first(void **state)
{
    struct store_conn *c = *state;
    struct store_identity a = ident("google", "g1", UID, 3000);
    struct store_identity b = ident("apple", "a1", UID, 1000);
    struct store_identity d = ident("google", "g2", UID, 2000);
    struct store_identity other = ident("google", "g3", UID2, 500);
    assert_int_equal(ops->identities.link(c, &a, NULL), GH_OK);
    assert_int_equal(ops->identities.link(c, &b, NULL), GH_OK);
    assert_int_equal(ops->identities.link(c, &d, NULL), GH_OK);
    assert_int_equal(ops->identities.link(c, &other, NULL), GH_OK);
    struct store_identity out[8];
    size_t n = 99;
    assert_int_equal(ops->identities.list(c, UID, out, 8, &n), GH_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].subject, "a1");
    assert_string_equal(out[1].subject, "g2");
    assert_string_equal(out[2].subject, "g1");
    /* At most max. */
    assert_int_equal(ops->identities.list(c, UID, out, 2, &n), GH_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[1].subject, "g2");
    /* Nobody's: none. */
    assert_int_equal(ops->identities.list(c, "no-such-user", out, 8, &n), GH_OK);
    assert_int_equal(n, 0);
}

/* Only the owner's identity is removed; another account's is NOT_FOUND
 * and stays, with no audit row. */
static void test_unlink(void **state)
{
    struct store_conn *c = *state;
    struct store_identity a = ident("google", "g1", UID, 1000);
    assert_int_equal(ops->identities.link(c, &a, NULL), GH_OK);
    struct store_audit ev = {.actor = UID2, .action = "identity.unlinked", .target = UID2};
    assert_int_equal(ops->identities.unlink(c, UID2, "google", "g1", &ev), GH_ERR_NOT_FOUND);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM identities"), 1);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM audit_log"), 0);
    ev.actor = ev.target = UID;
    assert_int_equal(ops->identities.unlink(c, UID, "google", "g1", &ev), GH_OK);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM identities"), 0);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.unlinked'"),
                     1);
    assert_int_equal(ops->identities.unlink(c, UID, "google", "g1", &ev), GH_ERR_NOT_FOUND);
}

static void test_touch(void **state)
{
    struct store_conn *c = *state;
    struct store_identity a = ident("google", "g1", UID, 1000), got;
    assert_int_equal(ops->identities.link(c, &a, NULL), GH_OK);
    assert_int_equal(ops->identities.touch(c, "google", "g1", 5000), GH_OK);
    assert_int_equal(ops->identities.by_subject(c, "google", "g1", &got), GH_OK);
    assert_int_equal(got.last_used_at, 5000);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(ops->identities.touch(c, "google", "nobody", 5000), GH_ERR_NOT_FOUND);
}

/* Deleting an account deletes its identities (ON DELETE CASCADE). */
static void test_cascade(void **state)
{
    struct store_conn *c = *state;
    struct store_identity a = ident("google", "g1", UID, 1000), got;
    assert_int_equal(ops->identities.link(c, &a, NULL), GH_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA foreign_keys=ON; DELETE FROM users WHERE id ="
                                  " '00000000-0000-4000-8000-000000000001'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ops->identities.by_subject(c, "google", "g1", &got), GH_ERR_NOT_FOUND);
}

/* The owner of a never-proved address reclaims the account: whatever
 * provider identity its previous holder linked goes with the password
 * (a squatter's Google link must not outlive the reclaim). */
static void test_reclaim_unlinks(void **state)
{
    struct store_conn *c = *state;
    struct store_identity a = ident("google", "squatter", UID, 1000), got;
    assert_int_equal(ops->identities.link(c, &a, NULL), GH_OK);
    assert_int_equal(ops->users.reclaim(c, UID, 5000, 5000, NULL), GH_OK);
    assert_int_equal(ops->identities.by_subject(c, "google", "squatter", &got), GH_ERR_NOT_FOUND);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM identities"), 0);
}

/* A link to an account that does not exist is refused by the foreign key. */
static void test_link_unknown_user(void **state)
{
    struct store_conn *c = *state;
    struct store_identity a = ident("google", "g1", "no-such-user", 1000);
    assert_int_not_equal(ops->identities.link(c, &a, NULL), GH_OK);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM identities"), 0);
}

static void test_nonces(void **state)
{
    struct store_conn *c = *state;
    uint8_t h[32], h2[32], h3[32];
    memset(h, 1, sizeof h);
    memset(h2, 2, sizeof h2);
    memset(h3, 3, sizeof h3);
    assert_int_equal(ops->oauth_nonces.create(c, h, "apple", 1600), GH_OK);
    assert_int_equal(ops->oauth_nonces.create(c, h, "apple", 1600), GH_ERR_CONFLICT);
    assert_int_equal(ops->oauth_nonces.create(c, h2, "apple", 1600), GH_OK);
    assert_int_equal(ops->oauth_nonces.create(c, h3, "apple", 1100), GH_OK);
    /* Unknown, or of another provider: denied, and not spent. */
    uint8_t unknown[32];
    memset(unknown, 9, sizeof unknown);
    assert_int_equal(ops->oauth_nonces.consume(c, unknown, "apple", 1000), GH_ERR_DENIED);
    assert_int_equal(ops->oauth_nonces.consume(c, h, "google", 1000), GH_ERR_DENIED);
    /* Once. */
    assert_int_equal(ops->oauth_nonces.consume(c, h, "apple", 1000), GH_OK);
    assert_int_equal(ops->oauth_nonces.consume(c, h, "apple", 1000), GH_ERR_DENIED);
    /* Expired (at expires_at exactly too). */
    assert_int_equal(ops->oauth_nonces.consume(c, h2, "apple", 1600), GH_ERR_DENIED);
    assert_int_equal(ops->oauth_nonces.consume(c, h2, "apple", 1599), GH_OK);
    /* Pruning drops the expired ones only. */
    assert_int_equal(count(c, "SELECT COUNT(*) FROM oauth_nonces"), 3);
    assert_int_equal(ops->upkeep.prune(c, 1200), GH_OK);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM oauth_nonces"), 2);
    assert_int_equal(ops->upkeep.prune(c, 2000), GH_OK);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM oauth_nonces"), 0);
}

/* The fault injector wraps the new groups: named calls, injected failures
 * that never reach the backend. */
static void test_fault_wrap(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(ops);
    struct store_identity a = ident("google", "g1", UID, 1000), got;
    uint8_t h[32];
    memset(h, 7, sizeof h);
    assert_int_equal(f->identities.link(c, &a, NULL), GH_OK);
    assert_int_equal(f->identities.by_subject(c, "google", "g1", &got), GH_OK);
    assert_int_equal(f->identities.touch(c, "google", "g1", 2000), GH_OK);
    size_t n = 0;
    assert_int_equal(f->identities.list(c, UID, &got, 1, &n), GH_OK);
    assert_int_equal(f->oauth_nonces.create(c, h, "apple", gh_now_s() + 600), GH_OK);
    assert_int_equal(f->oauth_nonces.consume(c, h, "apple", gh_now_s()), GH_OK);
    assert_int_equal(f->identities.unlink(c, UID, "google", "g1", NULL), GH_OK);
    assert_string_equal(store_fault_call_name(1), "identities.link");
    assert_string_equal(store_fault_call_name(2), "identities.by_subject");
    assert_string_equal(store_fault_call_name(3), "identities.touch");
    assert_string_equal(store_fault_call_name(4), "identities.list");
    assert_string_equal(store_fault_call_name(5), "oauth_nonces.create");
    assert_string_equal(store_fault_call_name(6), "oauth_nonces.consume");
    assert_string_equal(store_fault_call_name(7), "identities.unlink");
    store_fault_fail_name("identities.link");
    assert_int_equal(f->identities.link(c, &a, NULL), GH_ERR_INTERNAL);
    assert_int_equal(ops->identities.by_subject(c, "google", "g1", &got), GH_ERR_NOT_FOUND);
    store_fault_fail_name("oauth_nonces.create");
    memset(h, 8, sizeof h);
    assert_int_equal(f->oauth_nonces.create(c, h, "apple", gh_now_s() + 600), GH_ERR_INTERNAL);
    assert_int_equal(ops->oauth_nonces.consume(c, h, "apple", gh_now_s()), GH_ERR_DENIED);
    store_fault_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_link_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_in_caller_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_oldest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_unlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_wrap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
