/* Unit tests for src/audit/audit.c: the chain verifier, over a temporary
 * SQLite store filled through the store's own audit.append / audit.prune.
 *
 * Tampering goes through a second, raw sqlite3 connection on the same file
 * that first drops the append-only triggers (what an attacker with the
 * database file could do); each case must be reported at the exact row. */
#include "testutil.h"

#include <unistd.h>

#include <openssl/hmac.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "audit/chain.h"
#include "core/util.h"
#include "store/store.h"
#include "vault/vault.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

struct fx {
    struct store_conn *c;
    sqlite3 *raw;
};

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_audit_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static int setup(void **state)
{
    test_rm_db(path);
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    *state = f;
    if (ops->open(path, &f->c) != GH_OK || ops->migrate(f->c) != GH_OK) return -1;
    if (sqlite3_open(path, &f->raw) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(f->raw, 10000);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sqlite3_close(f->raw);
    if (f->c) ops->close(f->c);
    free(f);
    test_rm_db(path);
    return 0;
}

/* ---- helpers ---- */

static int raw_exec_rc(struct fx *f, const char *sql)
{
    char *err = NULL;
    int r = sqlite3_exec(f->raw, sql, NULL, NULL, &err);
    sqlite3_free(err);
    return r;
}

static void raw_exec(struct fx *f, const char *sql)
{
    char *err = NULL;
    int r = sqlite3_exec(f->raw, sql, NULL, NULL, &err);
    if (r != SQLITE_OK) print_error("%s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    assert_int_equal(r, SQLITE_OK);
}

static void drop_triggers(struct fx *f)
{
    raw_exec(f, "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");
}

/* One column of one row, as text (into out). */
static void raw_get(struct fx *f, int64_t id, const char *col, char *out, size_t cap)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM audit_log WHERE id = ?1", col);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->raw, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_int64(s, 1, id);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(s, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(s);
}

static void raw_set(struct fx *f, int64_t id, const char *col, const char *val)
{
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE audit_log SET %s = ?1 WHERE id = ?2", col);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->raw, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, val, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, id);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(f->raw), 1);
    sqlite3_finalize(s);
}

static void raw_hash(struct fx *f, int64_t id, char out[AUDIT_HASH_HEX + 1])
{
    raw_get(f, id, "hash", out, AUDIT_HASH_HEX + 1);
}

/* Rewrites row id's hash so the row is self-consistent again (what a
 * careful attacker does after editing it). */
static void raw_rehash(struct fx *f, int64_t id)
{
    char v[9][600], prev[AUDIT_HASH_HEX + 1], h[AUDIT_HASH_HEX + 1];
    const char *cols[] = {"occurred_at", "actor",      "action",  "target",   "ip",
                          "user_agent",  "request_id", "details", "prev_hash"};
    for (int i = 0; i < 9; i++)
        raw_get(f, id, cols[i], v[i], sizeof v[i]);
    memcpy(prev, v[8], sizeof prev);
    struct audit_row row = {.id = id,
                            .occurred_at = v[0],
                            .actor = v[1],
                            .action = v[2],
                            .target = v[3],
                            .ip = v[4],
                            .user_agent = v[5],
                            .request_id = v[6],
                            .details = v[7]};
    assert_int_equal(audit_chain_hash(prev, &row, h), GH_OK);
    raw_set(f, id, "hash", h);
}

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"

/* n events of assorted shapes: NULL fields, UTF-8, JSON details. */
static void fill(struct fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        char details[64], rid[32];
        snprintf(details, sizeof details, "{\"i\":%d,\"note\":\"caf\xc3\xa9\"}", i);
        snprintf(rid, sizeof rid, "req-%04d", i);
        struct store_audit ev;
        switch (i % 4) {
        case 0:
            ev = (struct store_audit){.actor = "anonymous",
                                      .action = "signin.failure",
                                      .ip = "192.0.2.7",
                                      .user_agent = "curl/8 \xe2\x9c\x93",
                                      .request_id = rid,
                                      .details = details};
            break;
        case 1:
            ev = (struct store_audit){.actor = U1,
                                      .action = "signin.success",
                                      .target = U1,
                                      .ip = "2001:db8::1",
                                      .request_id = rid,
                                      .details = details};
            break;
        case 2:
            ev = (struct store_audit){.actor = "system", .action = "keys.rotate"}; /* NULLs */
            break;
        default:
            ev = (struct store_audit){
                .actor = U2, .action = "session.revoke", .target = U1, .details = details};
            break;
        }
        assert_int_equal(ops->audit.append(f->c, &ev), GH_OK);
    }
}

static struct audit_verify_result verify(struct fx *f, int64_t anchor_id, const char *anchor_hash)
{
    struct audit_verify_result res;
    memset(&res, 0x5a, sizeof res);
    assert_int_equal(audit_verify(ops, f->c, anchor_id, anchor_hash, &res), GH_OK);
    return res;
}

static void assert_ok(struct fx *f, int64_t rows, int64_t head)
{
    struct audit_verify_result r = verify(f, 0, NULL);
    if (!r.ok) print_error("broken at %lld: %s\n", (long long)r.bad_id, r.reason);
    assert_true(r.ok);
    assert_int_equal(r.rows, rows);
    assert_int_equal(r.head_id, head);
    if (head > 0) {
        char h[AUDIT_HASH_HEX + 1];
        raw_hash(f, head, h);
        assert_string_equal(r.head_hash, h);
    }
}

static void assert_broken_at(struct fx *f, int64_t anchor_id, const char *anchor_hash, int64_t bad)
{
    struct audit_verify_result r = verify(f, anchor_id, anchor_hash);
    if (r.ok || r.bad_id != bad)
        print_error("want row %lld; got ok=%d bad_id=%lld: %s\n", (long long)bad, r.ok,
                    (long long)r.bad_id, r.ok ? "" : r.reason);
    assert_false(r.ok);
    assert_int_equal(r.bad_id, bad);
    assert_true(strlen(r.reason) > 0);
}

/* ---- tests ---- */

static void empty_log(void **state)
{
    struct fx *f = *state;
    assert_ok(f, 0, 0);
}

static void intact_log(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    assert_ok(f, 8, 8);
    /* the first row continues from the genesis value, each from the last */
    char prev[AUDIT_HASH_HEX + 1], h[AUDIT_HASH_HEX + 1];
    raw_get(f, 1, "prev_hash", prev, sizeof prev);
    assert_string_equal(prev, audit_genesis_hex());
    for (int64_t id = 2; id <= 8; id++) {
        raw_get(f, id, "prev_hash", prev, sizeof prev);
        raw_hash(f, id - 1, h);
        assert_string_equal(prev, h);
    }
    /* anchors that match */
    raw_hash(f, 8, h);
    struct audit_verify_result r = verify(f, 8, h);
    assert_true(r.ok);
    raw_hash(f, 4, h);
    r = verify(f, 4, h);
    assert_true(r.ok);
    /* an anchor with another hash: that row was rewritten */
    h[0] = h[0] == '0' ? '1' : '0';
    assert_broken_at(f, 4, h, 4);
    /* more rows later: still fine */
    fill(f, 3);
    assert_ok(f, 11, 11);
}

/* Without tampering tools, the database itself refuses edits. */
static void append_only(void **state)
{
    struct fx *f = *state;
    fill(f, 3);
    assert_int_not_equal(raw_exec_rc(f, "UPDATE audit_log SET details = '{}' WHERE id = 2"),
                         SQLITE_OK);
    assert_int_not_equal(raw_exec_rc(f, "DELETE FROM audit_log WHERE id = 3"), SQLITE_OK);
    assert_int_not_equal(raw_exec_rc(f, "DELETE FROM audit_log"), SQLITE_OK);
    assert_ok(f, 3, 3);
}

/* Any column of a row edited: reported at that row. */
static void edited_row(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    drop_triggers(f);
    const struct {
        const char *col, *val;
    } edits[] = {
        {"occurred_at", "2020-01-01T00:00:00.000000Z"},
        {"actor", "33333333-3333-4333-8333-333333333333"},
        {"action", "signin.success"},
        {"target", "x"},
        {"ip", "198.51.100.1"},
        {"user_agent", "Mozilla/5.0"},
        {"request_id", "req-9999"},
        {"details", "{\"x\":1}"},
        {"prev_hash", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"prev_hash", "not hex"},
        {"hash", "0000000000000000000000000000000000000000000000000000000000000000"},
    };
    for (int64_t id = 1; id <= 8; id += 3) { /* first, middle, last */
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            char orig[600];
            raw_get(f, id, edits[i].col, orig, sizeof orig);
            assert_string_not_equal(orig, edits[i].val); /* a real change */
            raw_set(f, id, edits[i].col, edits[i].val);
            assert_broken_at(f, 0, NULL, id);
            raw_set(f, id, edits[i].col, orig);
        }
        assert_ok(f, 8, 8);
    }
}

/* An edited row whose own hash was recomputed breaks the link to the next
 * one; a whole rewritten tail is only caught by the anchor. */
static void edited_and_rehashed(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    char head[AUDIT_HASH_HEX + 1];
    raw_hash(f, 8, head);
    drop_triggers(f);
    raw_set(f, 5, "details", "{\"i\":5,\"note\":\"edited\"}");
    raw_rehash(f, 5);
    assert_broken_at(f, 0, NULL, 6);
    /* rewrite the rest of the chain too */
    for (int64_t id = 6; id <= 8; id++) {
        char h[AUDIT_HASH_HEX + 1];
        raw_hash(f, id - 1, h);
        raw_set(f, id, "prev_hash", h);
        raw_rehash(f, id);
    }
    struct audit_verify_result r = verify(f, 0, NULL);
    assert_true(r.ok); /* self-consistent: only an anchor tells */
    assert_broken_at(f, 8, head, 8);
}

static void deleted_middle_row(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log WHERE id = 4");
    assert_broken_at(f, 0, NULL, 5);
}

static void deleted_second_to_last_rows(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log WHERE id IN (6, 7)");
    assert_broken_at(f, 0, NULL, 8);
}

static void swapped_rows(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    drop_triggers(f);
    raw_exec(f, "UPDATE audit_log SET id = -3 WHERE id = 3;"
                "UPDATE audit_log SET id = 3 WHERE id = 4;"
                "UPDATE audit_log SET id = 4 WHERE id = -3;");
    assert_broken_at(f, 0, NULL, 3);
}

/* Two rows swapped and renumbered with hashes recomputed: the timestamps
 * give it away. */
static void reordered_and_rehashed(void **state)
{
    struct fx *f = *state;
    fill(f, 6);
    drop_triggers(f);
    char a[64], b[64];
    raw_get(f, 3, "occurred_at", a, sizeof a);
    raw_get(f, 4, "occurred_at", b, sizeof b);
    assert_true(strcmp(a, b) < 0);
    /* row 3 and row 4 trade timestamps; then the chain is rebuilt */
    raw_set(f, 3, "occurred_at", b);
    raw_set(f, 4, "occurred_at", a);
    for (int64_t id = 3; id <= 6; id++) {
        char h[AUDIT_HASH_HEX + 1];
        raw_hash(f, id - 1, h);
        raw_set(f, id, "prev_hash", h);
        raw_rehash(f, id);
    }
    assert_broken_at(f, 0, NULL, 4);
}

static void deleted_first_row(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log WHERE id = 1");
    assert_broken_at(f, 0, NULL, 2);
}

/* The first row rewritten to start from something other than genesis. */
static void first_row_not_genesis(void **state)
{
    struct fx *f = *state;
    fill(f, 4);
    drop_triggers(f);
    raw_set(f, 1, "prev_hash", "1111111111111111111111111111111111111111111111111111111111111111");
    raw_rehash(f, 1);
    for (int64_t id = 2; id <= 4; id++) {
        char h[AUDIT_HASH_HEX + 1];
        raw_hash(f, id - 1, h);
        raw_set(f, id, "prev_hash", h);
        raw_rehash(f, id);
    }
    assert_broken_at(f, 0, NULL, 1);
}

static void truncated_tail(void **state)
{
    struct fx *f = *state;
    fill(f, 8);
    char head[AUDIT_HASH_HEX + 1];
    raw_hash(f, 8, head);
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log WHERE id >= 7");
    /* on its own the shorter log is consistent ... */
    assert_ok(f, 6, 6);
    /* ... but not with the head recorded earlier */
    assert_broken_at(f, 8, head, 7);
}

static void truncated_tail_last_row(void **state)
{
    struct fx *f = *state;
    fill(f, 5);
    char head[AUDIT_HASH_HEX + 1];
    raw_hash(f, 5, head);
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log WHERE id = 5");
    assert_broken_at(f, 5, head, 5);
}

/* Every row deleted: an anchor still knows there was a log. */
static void truncated_to_empty(void **state)
{
    struct fx *f = *state;
    fill(f, 5);
    char head[AUDIT_HASH_HEX + 1];
    raw_hash(f, 5, head);
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log");
    assert_broken_at(f, 5, head, 1);
}

/* A row appended by hand without the chain. */
static void forged_append(void **state)
{
    struct fx *f = *state;
    fill(f, 4);
    raw_exec(f, "INSERT INTO audit_log (id, occurred_at, actor, action, target, ip, user_agent,"
                " request_id, details, prev_hash, hash) VALUES (5, '2099-01-01T00:00:00.000000Z',"
                " 'system', 'user.delete', '', '', '', '', '{}',"
                " '0000000000000000000000000000000000000000000000000000000000000000',"
                " '0000000000000000000000000000000000000000000000000000000000000000')");
    assert_broken_at(f, 0, NULL, 5);
}

/* Rows forged with extreme ids are reported like any other, without
 * arithmetic overflow in the verifier (UBSan aborts on it). */
static void forged_row_id(struct fx *f, int64_t id)
{
    fill(f, 4);
    char sql[600];
    snprintf(sql, sizeof sql,
             "INSERT INTO audit_log (id, occurred_at, actor, action, target, ip, user_agent,"
             " request_id, details, prev_hash, hash) VALUES (%lld, '2099-01-01T00:00:00.000000Z',"
             " 'system', 'x', '', '', '', '', '{}', '%s',"
             " '0000000000000000000000000000000000000000000000000000000000000000')",
             (long long)id, audit_genesis_hex());
    raw_exec(f, sql);
    assert_broken_at(f, 0, NULL, id);
}

static void forged_row_min_id(void **state)
{
    forged_row_id(*state, INT64_MIN);
}

static void forged_row_near_max_id(void **state)
{
    forged_row_id(*state, INT64_MAX - 8);
}

static void forged_row_max_id(void **state)
{
    forged_row_id(*state, INT64_MAX);
}

static void prune(void **state)
{
    struct fx *f = *state;
    fill(f, 6);
    char h5[AUDIT_HASH_HEX + 1], h6[AUDIT_HASH_HEX + 1];
    raw_hash(f, 5, h5);
    raw_hash(f, 6, h6);
    struct store_audit ev = {.actor = "system", .action = "audit.checkpoint"};
    int64_t deleted = -1;

    /* nothing older than 2000: nothing deleted, nothing appended */
    assert_int_equal(ops->audit.prune(f->c, "2000-01-01T00:00:00.000000Z", &ev, &deleted), GH_OK);
    assert_int_equal(deleted, 0);
    assert_ok(f, 6, 6);

    /* everything is older than 9999, but the newest row stays */
    assert_int_equal(ops->audit.prune(f->c, "9999-12-31T23:59:59.999999Z", &ev, &deleted), GH_OK);
    assert_int_equal(deleted, 5);
    assert_ok(f, 2, 7);
    char v[600];
    raw_get(f, 6, "hash", v, sizeof v);
    assert_string_equal(v, h6); /* kept as it was */
    raw_get(f, 7, "action", v, sizeof v);
    assert_string_equal(v, "audit.checkpoint");
    raw_get(f, 7, "details", v, sizeof v);
    assert_non_null(strstr(v, "\"first_kept_id\":6"));
    assert_non_null(strstr(v, h5)); /* continues_from: the last deleted row's hash */
    /* the gate is closed again */
    assert_int_not_equal(raw_exec_rc(f, "DELETE FROM audit_log WHERE id = 6"), SQLITE_OK);

    /* the anchor recorded before the prune is still there */
    struct audit_verify_result r = verify(f, 6, h6);
    assert_true(r.ok);

    /* the log goes on, and can be pruned again */
    fill(f, 3);
    assert_ok(f, 5, 10);
    assert_int_equal(ops->audit.prune(f->c, "9999-12-31T23:59:59.999999Z", &ev, &deleted), GH_OK);
    assert_int_equal(deleted, 4);
    assert_ok(f, 2, 11);

    /* deleting the first kept row is not covered by the checkpoint */
    drop_triggers(f);
    raw_exec(f, "DELETE FROM audit_log WHERE id = 10");
    assert_broken_at(f, 0, NULL, 11);
}

/* ---- the email hash ---- */

static void email_hmac(void **state)
{
    (void)state;
    uint8_t master[VAULT_KEYBYTES], key[32];
    gh_random(master, sizeof master);
    assert_int_equal(vault_init(master), GH_OK);
    assert_int_equal(audit_init(true), GH_OK);
    assert_true(audit_enabled());
    char a[AUDIT_HASH_HEX + 1], b[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
    audit_email_hmac("alice@example.com", a);
    audit_email_hmac("alice@example.com", b);
    assert_int_equal(strlen(a), AUDIT_HASH_HEX);
    assert_string_equal(a, b);
    audit_email_hmac("alice@example.org", b);
    assert_string_not_equal(a, b);
    /* HMAC-SHA256 under the vault's derived key, independently */
    assert_int_equal(vault_derive("gatehouse audit email hmac v1", key), GH_OK);
    uint8_t mac[32];
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha256(), key, sizeof key, (const uint8_t *)"alice@example.com",
                         strlen("alice@example.com"), mac, &n));
    assert_int_equal(n, 32);
    gh_hex(want, mac, 32);
    assert_string_equal(a, want);
    /* another master key, another hash */
    audit_shutdown();
    vault_shutdown();
    master[0] ^= 1;
    assert_int_equal(vault_init(master), GH_OK);
    assert_int_equal(audit_init(false), GH_OK);
    assert_false(audit_enabled());
    audit_email_hmac("alice@example.com", b);
    assert_string_not_equal(a, b);
    audit_shutdown();
    vault_shutdown();
}

static void chain_status(void **state)
{
    (void)state;
    assert_int_equal(audit_chain_status(), -1);
    audit_set_chain_status(0);
    assert_int_equal(audit_chain_status(), 0);
    audit_set_chain_status(1);
    assert_int_equal(audit_chain_status(), 1);
}

/* ---- the parallel verifier: same verdicts, checked at the seams ---- */

#define BIG 100010 /* above the threshold where it splits */

struct bigfx {
    struct fx f;
    struct store_conn *extra[3];
};

static void assert_parallel(struct bigfx *b, int64_t anchor_id, const char *anchor_hash, bool ok,
                            int64_t bad)
{
    struct audit_verify_result r1, r4;
    assert_int_equal(audit_verify(ops, b->f.c, anchor_id, anchor_hash, &r1), GH_OK);
    assert_int_equal(audit_verify_parallel(ops, b->f.c, b->extra, 3, anchor_id, anchor_hash, &r4),
                     GH_OK);
    if (r1.ok != ok || r4.ok != ok || (!ok && (r1.bad_id != bad || r4.bad_id != bad)))
        print_error("want ok=%d bad=%lld; 1 thread: ok=%d bad=%lld (%s); 4: ok=%d bad=%lld (%s)\n",
                    ok, (long long)bad, r1.ok, (long long)r1.bad_id, r1.reason, r4.ok,
                    (long long)r4.bad_id, r4.reason);
    assert_int_equal(r1.ok, ok);
    assert_int_equal(r4.ok, ok);
    if (ok) {
        assert_int_equal(r4.rows, r1.rows);
        assert_int_equal(r4.head_id, r1.head_id);
        assert_string_equal(r4.head_hash, r1.head_hash);
    } else {
        assert_int_equal(r1.bad_id, bad);
        assert_int_equal(r4.bad_id, bad);
    }
}

static void parallel_seams(void **state)
{
    struct fx *f = *state;
    struct bigfx b = {.f = *f};
    for (int i = 0; i < 3; i++)
        assert_int_equal(ops->open(path, &b.extra[i]), GH_OK);
    /* one transaction for the whole fill */
    assert_int_equal(ops->tx.begin_write(f->c), GH_OK);
    for (int i = 0; i < BIG; i++) {
        struct store_audit ev = {.actor = "system", .action = "test.event", .request_id = "r"};
        assert_int_equal(ops->audit.append(f->c, &ev), GH_OK);
    }
    assert_int_equal(ops->tx.commit(f->c), GH_OK);
    char head[AUDIT_HASH_HEX + 1];
    raw_hash(f, BIG, head);
    assert_parallel(&b, BIG, head, true, 0);

    /* four ranges of ids: 1.., span+1.., 2*span+1.., 3*span+1..BIG */
    const int64_t span = (BIG + 3) / 4;
    drop_triggers(f);
    raw_exec(f, "CREATE TEMP TABLE keep AS SELECT * FROM audit_log WHERE 0");
    char orig[600];
    /* the last row of the first range deleted: a gap at the seam */
    raw_exec(f, "DELETE FROM keep; INSERT INTO keep SELECT * FROM audit_log WHERE id = 25003;"
                " DELETE FROM audit_log WHERE id = 25003");
    assert_int_equal(span, 25003);
    assert_parallel(&b, 0, NULL, false, span + 1);
    raw_exec(f, "INSERT INTO audit_log SELECT * FROM keep");
    /* the first row of the second range edited */
    raw_get(f, span + 1, "request_id", orig, sizeof orig);
    raw_set(f, span + 1, "request_id", "edited");
    assert_parallel(&b, 0, NULL, false, span + 1);
    raw_set(f, span + 1, "request_id", orig);
    /* the last row of the second range edited and rehashed: the link across
     * the seam breaks */
    raw_get(f, 2 * span, "request_id", orig, sizeof orig);
    raw_set(f, 2 * span, "request_id", "edited");
    raw_rehash(f, 2 * span);
    assert_parallel(&b, 0, NULL, false, 2 * span + 1);
    raw_set(f, 2 * span, "request_id", orig);
    raw_rehash(f, 2 * span);
    /* two rows swapped across the last seam */
    raw_exec(f, "UPDATE audit_log SET id = -1 WHERE id = 75009;"
                "UPDATE audit_log SET id = 75009 WHERE id = 75010;"
                "UPDATE audit_log SET id = 75010 WHERE id = -1;");
    assert_parallel(&b, 0, NULL, false, 3 * span);
    raw_exec(f, "UPDATE audit_log SET id = -1 WHERE id = 75009;"
                "UPDATE audit_log SET id = 75009 WHERE id = 75010;"
                "UPDATE audit_log SET id = 75010 WHERE id = -1;");
    /* the first row of the log deleted */
    raw_exec(f, "DELETE FROM keep; INSERT INTO keep SELECT * FROM audit_log WHERE id = 1;"
                " DELETE FROM audit_log WHERE id = 1");
    assert_parallel(&b, 0, NULL, false, 2);
    raw_exec(f, "INSERT INTO audit_log SELECT * FROM keep");
    /* the tail cut, with the anchor */
    raw_exec(f, "DELETE FROM keep; INSERT INTO keep SELECT * FROM audit_log WHERE id > 90000;"
                " DELETE FROM audit_log WHERE id > 90000");
    assert_parallel(&b, BIG, head, false, 90001);
    raw_exec(f, "INSERT INTO audit_log SELECT * FROM keep");
    assert_parallel(&b, BIG, head, true, 0);
    for (int i = 0; i < 3; i++)
        ops->close(b.extra[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_status),
        cmocka_unit_test(email_hmac),
        cmocka_unit_test_setup_teardown(empty_log, setup, teardown),
        cmocka_unit_test_setup_teardown(intact_log, setup, teardown),
        cmocka_unit_test_setup_teardown(append_only, setup, teardown),
        cmocka_unit_test_setup_teardown(edited_row, setup, teardown),
        cmocka_unit_test_setup_teardown(edited_and_rehashed, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_middle_row, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_second_to_last_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(swapped_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(reordered_and_rehashed, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_first_row, setup, teardown),
        cmocka_unit_test_setup_teardown(first_row_not_genesis, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_tail_last_row, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_to_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(forged_append, setup, teardown),
        cmocka_unit_test_setup_teardown(prune, setup, teardown),
        cmocka_unit_test_setup_teardown(parallel_seams, setup, teardown),
        /* last: on failure UBSan aborts the process */
        cmocka_unit_test_setup_teardown(forged_row_max_id, setup, teardown),
        cmocka_unit_test_setup_teardown(forged_row_near_max_id, setup, teardown),
        cmocka_unit_test_setup_teardown(forged_row_min_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
