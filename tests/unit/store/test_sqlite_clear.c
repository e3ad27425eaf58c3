/* Unit test of upkeep.clear_single_use on SQLite (gatehouse restore):
 * every link, sign-in challenge, native-flow nonce, idempotency record and
 * unsent mail is deleted, spent or not, and counted, in the caller's
 * transaction or its own; backup codes and sent mail stay. The PostgreSQL
 * twin is in test_pg_mfa.c. */
#include "testutil.h"

#include <sqlite3.h>

#include "core/util.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static const char *UID = "00000000-0000-4000-8000-0000000000c1";

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_clear_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static int setup(void **state)
{
    test_rm_db(path);
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", UID);
    snprintf(u.email, sizeof u.email, "c@example.com");
    snprintf(u.email_key, sizeof u.email_key, "c@example.com");
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = gh_now_s();
    if (ops->users.create(c, &u, NULL) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    test_rm_db(path);
    return 0;
}

/* The test's own look at the rows (a second connection). */
static void run_sql(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t count(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static void fill(uint8_t h[32], uint8_t tag)
{
    memset(h, tag, 32);
}

static void test_clear(void **state)
{
    struct store_conn *c = *state;
    uint8_t a[32], b[32], mac[32];
    fill(a, 0xa1);
    fill(b, 0xa2);
    fill(mac, 0xa3);
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.email_key, sizeof m.email_key, "c@example.com");
    snprintf(m.email, sizeof m.email, "c@example.com");
    snprintf(m.purpose, sizeof m.purpose, "signin");
    m.expires_at = gh_now_s() + 900;
    assert_int_equal(ops->links.create(c, a, &m, gh_now_s()), GH_OK);
    snprintf(m.purpose, sizeof m.purpose, "reset");
    assert_int_equal(ops->links.create(c, b, &m, gh_now_s()), GH_OK);
    struct store_magic lo;
    assert_int_equal(ops->links.consume(c, a, "signin", gh_now_s(), &lo), GH_OK); /* spent */
    struct store_challenge ch;
    memset(&ch, 0, sizeof ch);
    snprintf(ch.user_id, sizeof ch.user_id, "%s", UID);
    ch.expires_at = gh_now_s() + 300;
    assert_int_equal(ops->challenges.create(c, a, &ch), GH_OK);
    assert_int_equal(ops->oauth_nonces.create(c, a, "prov", gh_now_s() + 300), GH_OK);
    struct store_idem io;
    assert_int_equal(ops->idem.claim(c, "idem-c", mac, gh_now_s(), &io), GH_OK);
    assert_int_equal(ops->mail.insert(c, "mail-u", "u@example.com", "sealed-u", 10), GH_OK);
    assert_int_equal(ops->mail.insert(c, "mail-s", "s@example.com", "sealed-s", 10), GH_OK);
    assert_int_equal(ops->mail.result(c, "mail-s", true, NULL, 0), GH_OK);
    run_sql("INSERT INTO mfa_backup_codes (user_id, code_hash) VALUES "
            "('00000000-0000-4000-8000-0000000000c1', x'01')");

    struct store_single_use_cleared o;
    memset(&o, 0xff, sizeof o);
    assert_int_equal(ops->tx.begin_write(c), GH_OK); /* as restore does: the caller's */
    assert_int_equal(ops->upkeep.clear_single_use(c, &o), GH_OK);
    assert_int_equal(ops->tx.commit(c), GH_OK);
    assert_int_equal(o.links, 2);
    assert_int_equal(o.challenges, 1);
    assert_int_equal(o.nonces, 1);
    assert_int_equal(o.idem, 1);
    assert_int_equal(o.mail, 1);
    assert_int_equal(count("SELECT COUNT(*) FROM magic_links"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM mfa_challenges"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM oauth_nonces"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM idempotency"), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM mail_queue WHERE id = 'mail-s'"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM mail_queue"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM mfa_backup_codes"), 1); /* kept */
    assert_int_equal(ops->links.consume(c, b, "reset", gh_now_s(), &lo), GH_ERR_DENIED);
    /* Its own transaction when none is open; nothing left: zeros. */
    assert_int_equal(ops->upkeep.clear_single_use(c, &o), GH_OK);
    assert_int_equal(o.links + o.challenges + o.nonces + o.idem + o.mail, 0);
}

/* A failed clear inside the caller's transaction: rolled back with it. */
static void test_rollback(void **state)
{
    struct store_conn *c = *state;
    uint8_t a[32];
    fill(a, 0xb1);
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.email_key, sizeof m.email_key, "c@example.com");
    snprintf(m.email, sizeof m.email, "c@example.com");
    snprintf(m.purpose, sizeof m.purpose, "signin");
    m.expires_at = gh_now_s() + 900;
    assert_int_equal(ops->links.create(c, a, &m, gh_now_s()), GH_OK);
    struct store_single_use_cleared o;
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->upkeep.clear_single_use(c, &o), GH_OK);
    assert_int_equal(o.links, 1);
    ops->tx.rollback(c);
    assert_int_equal(count("SELECT COUNT(*) FROM magic_links"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
