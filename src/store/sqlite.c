/* SQLite backend of the store (store.h). One connection per thread, WAL
 * mode, synchronous=FULL (a rotated refresh token must survive a power cut,
 * or a client would hold a token the database forgot), foreign keys on.
 * Every statement is prepared once with bound parameters and reused. */
#include "store/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/util.h"
#include "store/health.h"
#include "store/migrations.h"
#include "audit/chain.h"

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_USER_INSERT,
    S_USER_BY_EMAIL,
    S_USER_BY_ID,
    S_USER_REHASH,
    S_USER_VERIFY,
    S_USER_SET_ROLE,
    S_USER_SET_PASSWORD,
    S_SESS_REVOKE_OTHERS,
    S_SESS_INSERT,
    S_RT_INSERT,
    S_SESS_GET,
    S_SESS_LIST,
    S_SESS_REVOKE,
    S_SESS_REVOKE_USER,
    S_SESS_UNRESTRICT,
    S_RT_GET,
    S_RT_SPEND,
    S_RT_FORGET_ONE,
    S_RT_FORGET_ALL,
    S_SESS_TOUCH,
    S_VK_LIST,
    S_VK_INSERT,
    S_VK_DELETE,
    S_VK_REWRAP,
    S_SK_LIST,
    S_SK_INSERT,
    S_SK_DELETE,
    S_SEALED_SK_LIST,
    S_SEALED_SK_REPLACE,
    S_AUDIT_LAST,
    S_AUDIT_INSERT,
    S_AUDIT_LIST,
    S_AUDIT_SCAN,
    S_AUDIT_GATE,
    S_AUDIT_PRUNE_LAST,
    S_AUDIT_PRUNE,
    S_AUDIT_HASH_OF,
    S_AUDIT_BOUNDS,
    S_TOTP_GET,
    S_TOTP_BEGIN,
    S_TOTP_CONFIRM,
    S_BACKUP_CLEAR,
    S_BACKUP_INSERT,
    S_TOTP_USE,
    S_TOTP_CONFIRMED,
    S_TOTP_DELETE,
    S_BACKUP_USE,
    S_CH_INSERT,
    S_CH_ATTEMPT,
    S_CH_GET,
    S_CH_CONSUME,
    S_SEALED_TOTP_LIST,
    S_SEALED_TOTP_REPLACE,
    S_SEALED_MAIL_LIST,
    S_SEALED_MAIL_REPLACE,
    S_PRUNE_MAIL,
    S_PRUNE_MAGIC,
    S_PRUNE_CHALLENGES,
    S_PRUNE_IDEM,
    S_IDEM_INSERT,
    S_IDEM_GET,
    S_IDEM_COMPLETE,
    S_IDEM_DELETE,
    S_SEALED_IDEM_LIST,
    S_SEALED_IDEM_REPLACE,
    S_MAGIC_SUPERSEDE,
    S_MAGIC_REVOKE_ALL,
    S_MAIL_INSERT,
    S_MAIL_DUE,
    S_MAIL_SENT,
    S_MAIL_FAILED,
    S_MAGIC_INSERT,
    S_MAGIC_CONSUME,
    S_MAGIC_GET,
    S_PRUNE_RT,
    S_PRUNE_SESS,
    S_HEALTH_PROBE,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_USER_INSERT] = "INSERT INTO users (id, email, email_key, password_hash, created_at,"
                      " updated_at, tokens_invalidated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_USER_BY_EMAIL] = "SELECT id, email, email_key, password_hash, created_at, updated_at,"
                        " tokens_invalidated_at, COALESCE(email_verified_at, 0), role FROM users"
                        " WHERE email_key = ?1",
    [S_USER_BY_ID] = "SELECT id, email, email_key, password_hash, created_at, updated_at,"
                     " tokens_invalidated_at, COALESCE(email_verified_at, 0), role FROM users"
                     " WHERE id = ?1",
    [S_USER_SET_ROLE] = "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1",
    [S_USER_VERIFY] = "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?2)"
                      " WHERE id = ?1",
    [S_USER_REHASH] = "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
    [S_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?2, tokens_invalidated_at = ?3,"
                            " updated_at = ?4 WHERE id = ?1",
    [S_SESS_REVOKE_OTHERS] = "UPDATE sessions SET revoked_at = ?3 WHERE user_id = ?1"
                             " AND revoked_at IS NULL AND id <> ?2",
    [S_SESS_INSERT] =
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at,"
        " ip, user_agent, restricted, mode, mfa_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " ?10)",
    [S_RT_INSERT] = "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [S_SESS_GET] =
        "SELECT id, user_id, created_at, last_used_at, expires_at,"
        " COALESCE(revoked_at, 0), ip, user_agent, restricted, mode, mfa_at FROM sessions"
        " WHERE id = ?1",
    [S_SESS_LIST] =
        "SELECT id, user_id, created_at, last_used_at, expires_at,"
        " COALESCE(revoked_at, 0), ip, user_agent, restricted, mode, mfa_at FROM sessions"
        " WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2"
        " ORDER BY created_at DESC, id LIMIT ?3",
    [S_SESS_REVOKE] = "UPDATE sessions SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2"
                      " AND revoked_at IS NULL",
    [S_SESS_UNRESTRICT] = "UPDATE sessions SET restricted = 0 WHERE id = ?1",
    [S_SESS_REVOKE_USER] = "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1"
                           " AND revoked_at IS NULL",
    [S_RT_GET] = "SELECT r.session_id, s.user_id, r.expires_at, COALESCE(r.rotated_at_us, 0),"
                 " (s.revoked_at IS NULL AND s.expires_at > ?2), u.tokens_invalidated_at,"
                 " r.successor_box, s.restricted, r.created_at, s.mode, s.created_at"
                 " FROM refresh_tokens r"
                 " JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id"
                 " WHERE r.token_hash = ?1",
    [S_RT_SPEND] = "UPDATE refresh_tokens SET rotated_at_us = ?2, successor_box = ?3"
                   " WHERE token_hash = ?1 AND rotated_at_us IS NULL AND expires_at > ?4"
                   " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = session_id"
                   " AND s.revoked_at IS NULL)",
    [S_RT_FORGET_ONE] = "UPDATE refresh_tokens SET successor_box = NULL WHERE token_hash = ?1"
                        " AND rotated_at_us < ?2 AND successor_box IS NOT NULL",
    [S_RT_FORGET_ALL] = "UPDATE refresh_tokens SET successor_box = NULL"
                        " WHERE successor_box IS NOT NULL AND rotated_at_us < ?1",
    [S_SESS_TOUCH] = "UPDATE sessions SET last_used_at = ?2, expires_at = ?3 WHERE id = ?1",
    [S_VK_LIST] = "SELECT kid, wrapped, created_at FROM vault_keys ORDER BY created_at, kid"
                  " LIMIT ?1",
    [S_VK_INSERT] = "INSERT INTO vault_keys (kid, wrapped, created_at) VALUES (?1, ?2, ?3)",
    [S_VK_DELETE] = "DELETE FROM vault_keys WHERE kid = ?1",
    [S_VK_REWRAP] = "UPDATE vault_keys SET wrapped = ?2 WHERE kid = ?1",
    /* The newest ?1 keys, returned oldest first: a long history must never
     * hide the key that signs now. */
    [S_SK_LIST] = "SELECT kid, private_sealed, created_at, activates_at FROM (SELECT * FROM"
                  " signing_keys ORDER BY activates_at DESC, created_at DESC, kid DESC LIMIT ?1)"
                  " ORDER BY activates_at, created_at, kid",
    [S_SK_INSERT] = "INSERT INTO signing_keys (kid, private_sealed, created_at, activates_at)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [S_SK_DELETE] = "DELETE FROM signing_keys WHERE kid = ?1",
    [S_SEALED_SK_LIST] = "SELECT kid, private_sealed FROM signing_keys WHERE kid > ?1"
                         " ORDER BY kid LIMIT ?2",
    [S_SEALED_SK_REPLACE] = "UPDATE signing_keys SET private_sealed = ?3 WHERE kid = ?1"
                            " AND private_sealed = ?2",
    [S_AUDIT_LAST] = "SELECT id, hash, occurred_at FROM audit_log ORDER BY id DESC LIMIT 1",
    [S_AUDIT_INSERT] = "INSERT INTO audit_log (id, occurred_at, actor, action, target, ip,"
                       " user_agent, request_id, details, prev_hash, hash)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_AUDIT_LIST] = "SELECT id, occurred_at, actor, action, target, ip, user_agent, request_id,"
                     " details, prev_hash, hash FROM audit_log"
                     " WHERE (actor = ?1 OR target = ?1) AND id < ?2 ORDER BY id DESC LIMIT ?3",
    [S_AUDIT_SCAN] =
        "SELECT id, occurred_at, actor, action, target, ip, user_agent, request_id,"
        " details, prev_hash, hash FROM audit_log WHERE id > ?1 AND id <= ?2 ORDER BY id",
    [S_AUDIT_GATE] = "UPDATE audit_gate SET open = ?1 WHERE id = 1",
    /* Never the newest row: the chain must go on from somewhere. */
    [S_AUDIT_PRUNE_LAST] = "SELECT MAX(id), COUNT(*) FROM audit_log WHERE id < (SELECT COALESCE("
                           "MIN(id), 9223372036854775807) FROM audit_log WHERE occurred_at >= ?1)"
                           " AND id < (SELECT MAX(id) FROM audit_log)",
    [S_AUDIT_PRUNE] = "DELETE FROM audit_log WHERE id <= ?1",
    [S_AUDIT_HASH_OF] = "SELECT hash FROM audit_log WHERE id = ?1",
    [S_AUDIT_BOUNDS] = "SELECT MIN(id), MAX(id), COUNT(*) FROM audit_log",
    [S_TOTP_GET] = "SELECT secret_sealed, created_at, COALESCE(confirmed_at, 0), last_step"
                   " FROM mfa_totp WHERE user_id = ?1",
    /* Replaces only an unconfirmed enrolment. */
    [S_TOTP_BEGIN] = "INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed,"
                     " created_at = excluded.created_at, last_step = -1"
                     " WHERE mfa_totp.confirmed_at IS NULL",
    [S_TOTP_CONFIRM] = "UPDATE mfa_totp SET confirmed_at = ?3, last_step = ?2"
                       " WHERE user_id = ?1 AND confirmed_at IS NULL",
    [S_BACKUP_CLEAR] = "DELETE FROM mfa_backup_codes WHERE user_id = ?1",
    [S_BACKUP_INSERT] = "INSERT INTO mfa_backup_codes (user_id, code_hash) VALUES (?1, ?2)",
    [S_TOTP_USE] = "UPDATE mfa_totp SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2"
                   " AND confirmed_at IS NOT NULL",
    [S_TOTP_DELETE] = "DELETE FROM mfa_totp WHERE user_id = ?1",
    [S_TOTP_CONFIRMED] = "SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND confirmed_at IS NOT NULL",
    [S_BACKUP_USE] = "UPDATE mfa_backup_codes SET used_at = ?3 WHERE user_id = ?1"
                     " AND code_hash = ?2 AND used_at IS NULL",
    [S_CH_INSERT] = "INSERT INTO mfa_challenges (token_hash, user_id, tokens_invalidated_at,"
                    " expires_at, first_factor) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CH_ATTEMPT] = "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ?1"
                     " AND used_at IS NULL AND expires_at > ?3 AND attempts < ?2",
    [S_CH_GET] = "SELECT user_id, tokens_invalidated_at, expires_at, attempts,"
                 " COALESCE(used_at, 0), first_factor FROM mfa_challenges WHERE token_hash = ?1",
    [S_CH_CONSUME] = "UPDATE mfa_challenges SET used_at = ?2 WHERE token_hash = ?1"
                     " AND used_at IS NULL",
    [S_SEALED_TOTP_LIST] = "SELECT user_id, secret_sealed FROM mfa_totp WHERE user_id > ?1"
                           " ORDER BY user_id LIMIT ?2",
    [S_SEALED_TOTP_REPLACE] = "UPDATE mfa_totp SET secret_sealed = ?3 WHERE user_id = ?1"
                              " AND secret_sealed = ?2",
    [S_MAIL_INSERT] = "INSERT INTO mail_queue (id, to_addr, message_sealed, created_at,"
                      " next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_MAIL_DUE] = "SELECT id, to_addr, message_sealed, attempts FROM mail_queue"
                   " WHERE sent_at IS NULL AND next_attempt_at <= ?1"
                   " ORDER BY next_attempt_at, created_at LIMIT ?2",
    [S_MAIL_SENT] = "UPDATE mail_queue SET sent_at = ?2, attempts = attempts + 1,"
                    " last_error = '' WHERE id = ?1",
    [S_MAIL_FAILED] = "UPDATE mail_queue SET attempts = attempts + 1, last_error = ?2,"
                      " next_attempt_at = ?3 WHERE id = ?1",
    [S_MAGIC_INSERT] = "INSERT INTO magic_links (token_hash, email_key, email, created_at,"
                       " expires_at, purpose) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_MAGIC_CONSUME] = "UPDATE magic_links SET used_at = ?2 WHERE token_hash = ?1"
                        " AND used_at IS NULL AND purpose = ?3",
    [S_MAGIC_GET] = "SELECT email_key, email, expires_at, COALESCE(used_at, 0), purpose"
                    " FROM magic_links WHERE token_hash = ?1",
    [S_SEALED_MAIL_LIST] = "SELECT id, message_sealed FROM mail_queue WHERE id > ?1"
                           " ORDER BY id LIMIT ?2",
    [S_SEALED_MAIL_REPLACE] = "UPDATE mail_queue SET message_sealed = ?3 WHERE id = ?1"
                              " AND message_sealed = ?2",
    [S_PRUNE_MAIL] = "DELETE FROM mail_queue WHERE sent_at < ?1"
                     " OR (sent_at IS NULL AND created_at < ?1 - 604800)",
    [S_PRUNE_MAGIC] = "DELETE FROM magic_links WHERE expires_at < ?1",
    [S_PRUNE_CHALLENGES] = "DELETE FROM mfa_challenges WHERE expires_at < ?1",
    [S_PRUNE_IDEM] = "DELETE FROM idempotency WHERE created_at < ?1",
    /* A claim left running by a crash is taken over after IDEM_STALE_S. */
    [S_IDEM_INSERT] = "INSERT INTO idempotency (id, body_mac, created_at) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (id) DO UPDATE SET body_mac = excluded.body_mac,"
                      " created_at = excluded.created_at"
                      " WHERE idempotency.status = 0 AND idempotency.created_at < ?4",
    [S_IDEM_GET] = "SELECT body_mac, status, response_sealed FROM idempotency WHERE id = ?1",
    [S_IDEM_COMPLETE] = "UPDATE idempotency SET status = ?2, response_sealed = ?3 WHERE id = ?1",
    [S_IDEM_DELETE] = "DELETE FROM idempotency WHERE id = ?1",
    [S_SEALED_IDEM_LIST] = "SELECT id, response_sealed FROM idempotency WHERE id > ?1"
                           " AND response_sealed IS NOT NULL ORDER BY id LIMIT ?2",
    [S_SEALED_IDEM_REPLACE] = "UPDATE idempotency SET response_sealed = ?3 WHERE id = ?1"
                              " AND response_sealed = ?2",
    [S_MAGIC_SUPERSEDE] = "UPDATE magic_links SET used_at = ?3 WHERE email_key = ?1"
                          " AND purpose = ?2 AND used_at IS NULL",
    [S_MAGIC_REVOKE_ALL] = "UPDATE magic_links SET used_at = ?2 WHERE email_key = ?1"
                           " AND used_at IS NULL",
    [S_PRUNE_RT] = "DELETE FROM refresh_tokens WHERE expires_at < ?1",
    [S_PRUNE_SESS] = "DELETE FROM sessions WHERE expires_at < ?1",
    /* A page of fresh bytes: the WAL must grow and be synced to the disk. */
    [S_HEALTH_PROBE] = "INSERT OR REPLACE INTO health_probe (id, written_at, pad)"
                       " VALUES (1, ?1, randomblob(4096))",
};

struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
};

/* Disk-class errors also turn /readyz 503 (store/health.h); during such
 * an episode they are logged once there, not per failed statement. */
static enum gh_err fail(struct store_conn *c, const char *what)
{
    char why[600];
    bool disk = store_sqlite_describe(c->db, NULL, why, sizeof why);
    if (!disk || !store_health_failed(why)) gh_log(GH_LOG_ERROR, "sqlite: %s: %s", what, why);
    return GH_ERR_INTERNAL;
}

/* The statement, reset and ready to bind; NULL on failure. */
static sqlite3_stmt *stmt(struct store_conn *c, enum stmt_id id)
{
    if (!c->st[id]) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                               NULL) != SQLITE_OK) {
            char what[32];
            snprintf(what, sizeof what, "prepare %d", (int)id);
            (void)fail(c, what);
            return NULL;
        }
    }
    sqlite3_reset(c->st[id]);
    sqlite3_clear_bindings(c->st[id]);
    return c->st[id];
}

static void done(sqlite3_stmt *s)
{
    if (s) sqlite3_reset(s);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(s, i) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(out, t, n);
    out[n] = '\0';
}

/* Runs a statement that returns no rows. */
static enum gh_err exec_stmt(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
    int r = sqlite3_step(s);
    done(s);
    if (r != SQLITE_DONE) return fail(c, what);
    return GH_OK;
}

static enum gh_err tx(struct store_conn *c, enum stmt_id id)
{
    sqlite3_stmt *s = stmt(c, id);
    if (!s) return GH_ERR_INTERNAL;
    return exec_stmt(c, s, stmt_sql[id]);
}

static void rollback(struct store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db)) (void)tx(c, S_ROLLBACK);
}

static enum gh_err sq_open(const char *path, struct store_conn **out)
{
    struct store_conn *c = calloc(1, sizeof *c);
    if (!c) return GH_ERR_NOMEM;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        char why[700];
        (void)store_sqlite_describe(c->db, path, why, sizeof why);
        gh_log(GH_LOG_ERROR, "sqlite: cannot open the database: %s", why);
        sqlite3_close(c->db);
        free(c);
        return GH_ERR_INTERNAL;
    }
    sqlite3_busy_timeout(c->db, 10000);
    sqlite3_extended_result_codes(c->db, 1);
    /* Pragmas are fixed strings with no parameters. */
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=ON; PRAGMA cache_size=-2048;";
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        (void)fail(c, "pragmas");
        sqlite3_close(c->db);
        free(c);
        return GH_ERR_INTERNAL;
    }
    *out = c;
    return GH_OK;
}

static void sq_close(struct store_conn *c)
{
    if (!c) return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

static enum gh_err sq_migrate(struct store_conn *c)
{
    /* Migration SQL is static text from migrations.h, never built from input. */
    if (sqlite3_exec(c->db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                     " name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return fail(c, "create schema_migrations");
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        enum gh_err rc = tx(c, S_BEGIN);
        if (rc) return rc;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &q,
                               NULL) != SQLITE_OK) {
            rollback(c);
            return fail(c, "prepare migration check");
        }
        sqlite3_bind_int(q, 1, m->version);
        int r = sqlite3_step(q);
        sqlite3_finalize(q);
        if (r == SQLITE_ROW) {
            rollback(c);
            continue;
        }
        if (r != SQLITE_DONE) {
            rollback(c);
            return fail(c, "migration check");
        }
        if (sqlite3_exec(c->db, m->sql, NULL, NULL, NULL) != SQLITE_OK ||
            (m->sqlite_sql && sqlite3_exec(c->db, m->sqlite_sql, NULL, NULL, NULL) != SQLITE_OK)) {
            enum gh_err e = fail(c, m->name);
            rollback(c);
            return e;
        }
        if (sqlite3_prepare_v2(c->db,
                               "INSERT INTO schema_migrations (version, name, applied_at)"
                               " VALUES (?1, ?2, ?3)",
                               -1, &q, NULL) != SQLITE_OK) {
            rollback(c);
            return fail(c, "prepare migration record");
        }
        sqlite3_bind_int(q, 1, m->version);
        bind_text(q, 2, m->name);
        sqlite3_bind_int64(q, 3, gh_now_s());
        r = sqlite3_step(q);
        sqlite3_finalize(q);
        if (r != SQLITE_DONE) {
            rollback(c);
            return fail(c, "migration record");
        }
        if ((rc = tx(c, S_COMMIT))) {
            rollback(c);
            return rc;
        }
        gh_log(GH_LOG_INFO, "migration %d applied: %s", m->version, m->name);
    }
    return GH_OK;
}

static enum gh_err sq_pending_migrations(struct store_conn *c, int *n)
{
    sqlite3_stmt *q = NULL;
    int maxv = 0;
    /* A fresh file has no schema_migrations table: everything is pending. */
    if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        maxv = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    *n = 0;
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++)
        if (store_migrations[i].version > maxv) (*n)++;
    return GH_OK;
}

static bool sq_tx_open(struct store_conn *c)
{
    return sqlite3_get_autocommit(c->db) == 0;
}

static enum gh_err sq_tx_begin(struct store_conn *c)
{
    return tx(c, S_BEGIN);
}

static enum gh_err sq_tx_commit(struct store_conn *c)
{
    return tx(c, S_COMMIT);
}

/* The write transaction holds SQLite's single write lock (BEGIN
 * IMMEDIATE), so the last row is the head until the transaction ends. */
static enum gh_err sq_chain_head(struct store_conn *c, struct store_chain_head *out)
{
    sqlite3_stmt *s = stmt(c, S_AUDIT_LAST);
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        col_text(s, 1, out->hash, sizeof out->hash);
        col_text(s, 2, out->occurred_at, sizeof out->occurred_at);
    }
    done(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return fail(c, "audit last");
    return GH_OK;
}

static enum gh_err sq_chain_insert(struct store_conn *c, const struct audit_row *row,
                                   const char *prev, const char *hash)
{
    sqlite3_stmt *s = stmt(c, S_AUDIT_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, row->id);
    bind_text(s, 2, row->occurred_at);
    bind_text(s, 3, row->actor);
    bind_text(s, 4, row->action);
    bind_text(s, 5, row->target);
    bind_text(s, 6, row->ip);
    bind_text(s, 7, row->user_agent);
    bind_text(s, 8, row->request_id);
    bind_text(s, 9, row->details);
    bind_text(s, 10, prev);
    bind_text(s, 11, hash);
    return exec_stmt(c, s, "audit insert");
}

static const struct store_prims sq_prims = {
    .tx_open = sq_tx_open,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = rollback,
    .chain_head = sq_chain_head,
    .chain_insert = sq_chain_insert,
};

static enum gh_err append_audit(struct store_conn *c, const struct store_audit *ev)
{
    return store_chain_append(&sq_prims, c, ev);
}

static enum gh_err in_tx(struct store_conn *c, const struct store_audit *ev, store_write_fn fn,
                         const void *arg)
{
    return store_write(&sq_prims, c, ev, fn, arg);
}

static enum gh_err sq_audit_append(struct store_conn *c, const struct store_audit *ev)
{
    return in_tx(c, ev, NULL, NULL);
}

static const char *ctext(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static void read_audit_view(sqlite3_stmt *s, struct store_audit_row *r)
{
    r->id = sqlite3_column_int64(s, 0);
    r->occurred_at = (char *)ctext(s, 1);
    r->actor = (char *)ctext(s, 2);
    r->action = (char *)ctext(s, 3);
    r->target = (char *)ctext(s, 4);
    r->ip = (char *)ctext(s, 5);
    r->user_agent = (char *)ctext(s, 6);
    r->request_id = (char *)ctext(s, 7);
    r->details = (char *)ctext(s, 8);
    col_text(s, 9, r->prev_hash, sizeof r->prev_hash);
    col_text(s, 10, r->hash, sizeof r->hash);
}

static enum gh_err sq_audit_list(struct store_conn *c, const char *subject, int64_t before,
                                 struct store_audit_row *out, size_t max, size_t *n)
{
    sqlite3_stmt *s = stmt(c, S_AUDIT_LIST);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, subject);
    sqlite3_bind_int64(s, 2, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    size_t i = 0;
    int r = SQLITE_DONE;
    enum gh_err rc = GH_OK;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_audit_row v;
        read_audit_view(s, &v);
        struct store_audit_row *o = &out[i];
        memset(o, 0, sizeof *o);
        o->id = v.id;
        memcpy(o->prev_hash, v.prev_hash, sizeof o->prev_hash);
        memcpy(o->hash, v.hash, sizeof o->hash);
        o->occurred_at = strdup(v.occurred_at);
        o->actor = strdup(v.actor);
        o->action = strdup(v.action);
        o->target = strdup(v.target);
        o->ip = strdup(v.ip);
        o->user_agent = strdup(v.user_agent);
        o->request_id = strdup(v.request_id);
        o->details = strdup(v.details);
        i++;
        if (!o->occurred_at || !o->actor || !o->action || !o->target || !o->ip || !o->user_agent ||
            !o->request_id || !o->details) {
            rc = GH_ERR_NOMEM;
            break;
        }
    }
    done(s);
    if (rc == GH_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = fail(c, "audit list");
    if (rc) {
        for (size_t j = 0; j < i; j++)
            store_audit_row_clear(&out[j]);
        return rc;
    }
    *n = i;
    return GH_OK;
}

static enum gh_err sq_audit_scan(struct store_conn *c, int64_t after, int64_t upto,
                                 store_audit_scan_fn fn, void *arg)
{
    sqlite3_stmt *s = stmt(c, S_AUDIT_SCAN);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, upto > 0 ? upto : INT64_MAX);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_audit_row v;
        read_audit_view(s, &v);
        if (fn(arg, &v)) {
            r = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return r == SQLITE_DONE ? GH_OK : fail(c, "audit scan");
}

static void sq_tune_for_scan(struct store_conn *c)
{
    /* Fixed pragmas, no input. */
    (void)sqlite3_exec(c->db, "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536;", NULL, NULL,
                       NULL);
}

static enum gh_err sq_audit_bounds(struct store_conn *c, int64_t *min, int64_t *max, int64_t *count)
{
    sqlite3_stmt *s = stmt(c, S_AUDIT_BOUNDS);
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *min = sqlite3_column_int64(s, 0);
        *max = sqlite3_column_int64(s, 1);
        *count = sqlite3_column_int64(s, 2);
    }
    done(s);
    return r == SQLITE_ROW ? GH_OK : fail(c, "audit bounds");
}

static enum gh_err gate(struct store_conn *c, int open)
{
    sqlite3_stmt *s = stmt(c, S_AUDIT_GATE);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int(s, 1, open);
    return exec_stmt(c, s, "audit gate");
}

static enum gh_err sq_audit_prune(struct store_conn *c, const char *before,
                                  const struct store_audit *ev, int64_t *deleted)
{
    *deleted = 0;
    enum gh_err rc = tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = stmt(c, S_AUDIT_PRUNE_LAST);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, before);
    int64_t upto = 0, count = 0;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        upto = sqlite3_column_int64(s, 0);
        count = sqlite3_column_int64(s, 1);
    }
    done(s);
    if (r != SQLITE_ROW) {
        rc = fail(c, "audit prune range");
        goto out;
    }
    if (count > 0) {
        char cont[AUDIT_HASH_HEX + 1] = "", details[256];
        if (!(s = stmt(c, S_AUDIT_HASH_OF))) {
            rc = GH_ERR_INTERNAL;
            goto out;
        }
        sqlite3_bind_int64(s, 1, upto);
        if (sqlite3_step(s) == SQLITE_ROW) col_text(s, 0, cont, sizeof cont);
        done(s);
        /* The checkpoint says where the remaining log starts and which hash
         * its first row continues from (docs/audit.md). */
        snprintf(details, sizeof details,
                 "{\"continues_from\":\"%s\",\"first_kept_id\":%lld,\"deleted\":%lld}", cont,
                 (long long)upto + 1, (long long)count);
        struct store_audit cp = *ev;
        cp.details = details;
        if ((rc = gate(c, 1))) goto out;
        if (!(s = stmt(c, S_AUDIT_PRUNE))) {
            rc = GH_ERR_INTERNAL;
            goto out;
        }
        sqlite3_bind_int64(s, 1, upto);
        if ((rc = exec_stmt(c, s, "audit prune"))) goto out;
        if ((rc = gate(c, 0))) goto out;
        if ((rc = append_audit(c, &cp))) goto out;
    }
    rc = tx(c, S_COMMIT);
    if (rc == GH_OK) *deleted = count;
out:
    if (rc) rollback(c);
    return rc;
}

static enum gh_err user_insert(struct store_conn *c, const void *arg)
{
    const struct store_user *u = arg;
    sqlite3_stmt *s = stmt(c, S_USER_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, u->id);
    bind_text(s, 2, u->email);
    bind_text(s, 3, u->email_key);
    bind_text(s, 4, u->password_hash);
    sqlite3_bind_int64(s, 5, u->created_at);
    sqlite3_bind_int64(s, 6, u->updated_at);
    sqlite3_bind_int64(s, 7, u->tokens_invalidated_at);
    int r = sqlite3_step(s);
    done(s);
    if (r == SQLITE_CONSTRAINT_UNIQUE || r == SQLITE_CONSTRAINT_PRIMARYKEY) return GH_ERR_CONFLICT;
    if (r != SQLITE_DONE) return fail(c, "user insert");
    return GH_OK;
}

static enum gh_err sq_user_create(struct store_conn *c, const struct store_user *u,
                                  const struct store_audit *ev)
{
    return in_tx(c, ev, user_insert, u);
}

static enum gh_err read_user(struct store_conn *c, sqlite3_stmt *s, struct store_user *out)
{
    int r = sqlite3_step(s);
    if (r == SQLITE_DONE) {
        done(s);
        return GH_ERR_NOT_FOUND;
    }
    if (r != SQLITE_ROW) {
        done(s);
        return fail(c, "user select");
    }
    col_text(s, 0, out->id, sizeof out->id);
    col_text(s, 1, out->email, sizeof out->email);
    col_text(s, 2, out->email_key, sizeof out->email_key);
    col_text(s, 3, out->password_hash, sizeof out->password_hash);
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
    out->tokens_invalidated_at = sqlite3_column_int64(s, 6);
    out->email_verified_at = sqlite3_column_int64(s, 7);
    col_text(s, 8, out->role, sizeof out->role);
    done(s);
    return GH_OK;
}

struct role_args {
    const char *id, *role;
};

static enum gh_err user_set_role_fn(struct store_conn *c, const void *arg)
{
    const struct role_args *a = arg;
    sqlite3_stmt *s = stmt(c, S_USER_SET_ROLE);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->id);
    bind_text(s, 2, a->role);
    sqlite3_bind_int64(s, 3, gh_now_s());
    enum gh_err rc = exec_stmt(c, s, "user set role");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

static enum gh_err sq_user_set_role(struct store_conn *c, const char *id, const char *role,
                                    const struct store_audit *ev)
{
    struct role_args a = {id, role};
    return in_tx(c, ev, user_set_role_fn, &a);
}

static enum gh_err sq_user_by_email_key(struct store_conn *c, const char *key,
                                        struct store_user *out)
{
    sqlite3_stmt *s = stmt(c, S_USER_BY_EMAIL);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, key);
    return read_user(c, s, out);
}

static enum gh_err sq_user_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    sqlite3_stmt *s = stmt(c, S_USER_BY_ID);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    return read_user(c, s, out);
}

struct verify_args {
    const char *id;
    int64_t now;
};

static enum gh_err user_verify_fn(struct store_conn *c, const void *arg)
{
    const struct verify_args *a = arg;
    sqlite3_stmt *s = stmt(c, S_USER_VERIFY);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->id);
    sqlite3_bind_int64(s, 2, a->now);
    enum gh_err rc = exec_stmt(c, s, "user verify");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

static enum gh_err sq_user_verify_email(struct store_conn *c, const char *id, int64_t now,
                                        const struct store_audit *ev)
{
    struct verify_args a = {id, now};
    return in_tx(c, ev, user_verify_fn, &a);
}

static enum gh_err sq_user_rehash(struct store_conn *c, const char *id, const char *hash,
                                  int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_USER_REHASH);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    bind_text(s, 2, hash);
    sqlite3_bind_int64(s, 3, now);
    return exec_stmt(c, s, "user rehash");
}

struct set_password_args {
    const char *id, *hash, *keep_sid;
    int64_t tia, now;
};

static enum gh_err set_password_fn(struct store_conn *c, const void *arg)
{
    const struct set_password_args *a = arg;
    sqlite3_stmt *s = stmt(c, S_USER_SET_PASSWORD);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->id);
    bind_text(s, 2, a->hash);
    sqlite3_bind_int64(s, 3, a->tia);
    sqlite3_bind_int64(s, 4, a->now);
    enum gh_err rc = exec_stmt(c, s, "set password");
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    if (!(s = stmt(c, S_SESS_REVOKE_OTHERS))) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->id);
    bind_text(s, 2, a->keep_sid ? a->keep_sid : "");
    sqlite3_bind_int64(s, 3, a->now);
    return exec_stmt(c, s, "revoke other sessions");
}

/* Its own transaction, or the caller's (a reset spends its link in it). */
static enum gh_err sq_user_set_password(struct store_conn *c, const char *id, const char *hash,
                                        int64_t tia, const char *keep_sid, int64_t now,
                                        const struct store_audit *ev)
{
    struct set_password_args a = {id, hash, keep_sid, tia, now};
    return in_tx(c, ev, set_password_fn, &a);
}

static enum gh_err insert_rt(struct store_conn *c, const uint8_t hash[32], const char *sid,
                             int64_t now, int64_t expires)
{
    sqlite3_stmt *s = stmt(c, S_RT_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    bind_text(s, 2, sid);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, expires);
    int r = sqlite3_step(s);
    done(s);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE) return GH_ERR_CONFLICT;
    if (r != SQLITE_DONE) return fail(c, "refresh insert");
    return GH_OK;
}

static enum gh_err sq_user_by_id(struct store_conn *c, const char *id, struct store_user *out);
#define read_user_by_id sq_user_by_id

static enum gh_err sq_session_create(struct store_conn *c, const struct store_session *ss,
                                     const uint8_t token_hash[32], int64_t expect_tia,
                                     const struct store_audit *ev)
{
    enum gh_err rc = tx(c, S_BEGIN);
    if (rc) return rc;
    if (expect_tia >= 0) {
        struct store_user u;
        rc = read_user_by_id(c, ss->user_id, &u);
        int64_t tia = u.tokens_invalidated_at;
        gh_wipe(u.password_hash, sizeof u.password_hash);
        if (rc == GH_ERR_NOT_FOUND || (rc == GH_OK && tia != expect_tia)) rc = GH_ERR_CONFLICT;
        if (rc) goto out;
    }
    sqlite3_stmt *s = stmt(c, S_SESS_INSERT);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, ss->id);
    bind_text(s, 2, ss->user_id);
    sqlite3_bind_int64(s, 3, ss->created_at);
    sqlite3_bind_int64(s, 4, ss->last_used_at);
    sqlite3_bind_int64(s, 5, ss->expires_at);
    bind_text(s, 6, ss->ip);
    bind_text(s, 7, ss->user_agent);
    sqlite3_bind_int(s, 8, ss->restricted ? 1 : 0);
    bind_text(s, 9, ss->cookie ? "cookie" : "bearer");
    sqlite3_bind_int64(s, 10, ss->mfa_at);
    if ((rc = exec_stmt(c, s, "session insert"))) goto out;
    if ((rc = insert_rt(c, token_hash, ss->id, ss->created_at, ss->expires_at))) goto out;
    if (ev && (rc = append_audit(c, ev))) goto out;
    rc = tx(c, S_COMMIT);
out:
    if (rc) rollback(c);
    return rc;
}

static void read_session(sqlite3_stmt *s, struct store_session *o)
{
    col_text(s, 0, o->id, sizeof o->id);
    col_text(s, 1, o->user_id, sizeof o->user_id);
    o->created_at = sqlite3_column_int64(s, 2);
    o->last_used_at = sqlite3_column_int64(s, 3);
    o->expires_at = sqlite3_column_int64(s, 4);
    o->revoked_at = sqlite3_column_int64(s, 5);
    col_text(s, 6, o->ip, sizeof o->ip);
    col_text(s, 7, o->user_agent, sizeof o->user_agent);
    o->restricted = sqlite3_column_int(s, 8) != 0;
    const unsigned char *mode = sqlite3_column_text(s, 9);
    o->cookie = mode && strcmp((const char *)mode, "cookie") == 0;
    o->mfa_at = sqlite3_column_int64(s, 10);
}

static enum gh_err sq_session_get(struct store_conn *c, const char *id, struct store_session *out)
{
    sqlite3_stmt *s = stmt(c, S_SESS_GET);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) read_session(s, out);
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    if (r != SQLITE_ROW) return fail(c, "session get");
    return GH_OK;
}

static enum gh_err sq_session_list(struct store_conn *c, const char *uid, int64_t now,
                                   struct store_session *out, size_t max, size_t *n)
{
    sqlite3_stmt *s = stmt(c, S_SESS_LIST);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, uid);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    size_t i = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && i < max)
        read_session(s, &out[i++]);
    done(s);
    if (r != SQLITE_DONE && r != SQLITE_ROW) return fail(c, "session list");
    *n = i;
    return GH_OK;
}

struct revoke_args {
    const char *id, *uid;
    int64_t now;
};

static enum gh_err session_revoke_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_args *a = arg;
    sqlite3_stmt *s = stmt(c, S_SESS_REVOKE);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->id);
    bind_text(s, 2, a->uid);
    sqlite3_bind_int64(s, 3, a->now);
    enum gh_err rc = exec_stmt(c, s, "session revoke");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

static enum gh_err sq_session_revoke(struct store_conn *c, const char *id, const char *uid,
                                     int64_t now, const struct store_audit *ev)
{
    struct revoke_args a = {id, uid, now};
    return in_tx(c, ev, session_revoke_fn, &a);
}

static enum gh_err revoke_user_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_args *a = arg;
    sqlite3_stmt *s = stmt(c, S_SESS_REVOKE_USER);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->uid);
    sqlite3_bind_int64(s, 2, a->now);
    return exec_stmt(c, s, "revoke user sessions");
}

static enum gh_err sq_session_unrestrict(struct store_conn *c, const char *id)
{
    sqlite3_stmt *s = stmt(c, S_SESS_UNRESTRICT);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    return exec_stmt(c, s, "session unrestrict");
}

static enum gh_err sq_sessions_revoke_user(struct store_conn *c, const char *uid, int64_t now,
                                           const struct store_audit *ev)
{
    struct revoke_args a = {NULL, uid, now};
    return in_tx(c, ev, revoke_user_fn, &a);
}

static enum gh_err sq_refresh_get(struct store_conn *c, const uint8_t hash[32],
                                  struct store_refresh *o)
{
    sqlite3_stmt *s = stmt(c, S_RT_GET);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, gh_now_s());
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, o->session_id, sizeof o->session_id);
        col_text(s, 1, o->user_id, sizeof o->user_id);
        o->expires_at = sqlite3_column_int64(s, 2);
        o->rotated_at_us = sqlite3_column_int64(s, 3);
        o->session_live = sqlite3_column_int(s, 4) != 0;
        o->tokens_invalidated_at = sqlite3_column_int64(s, 5);
        int bl = sqlite3_column_bytes(s, 6);
        const void *b = sqlite3_column_blob(s, 6);
        o->box_len = 0;
        if (b && bl > 0 && (size_t)bl <= sizeof o->box) {
            memcpy(o->box, b, (size_t)bl);
            o->box_len = (size_t)bl;
        }
        o->session_restricted = sqlite3_column_int(s, 7) != 0;
        o->created_at = sqlite3_column_int64(s, 8);
        const unsigned char *mode = sqlite3_column_text(s, 9);
        o->session_cookie = mode && strcmp((const char *)mode, "cookie") == 0;
        o->session_created_at = sqlite3_column_int64(s, 10);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    if (r != SQLITE_ROW) return fail(c, "refresh get");
    return GH_OK;
}

static enum gh_err sq_refresh_forget_successors(struct store_conn *c, const uint8_t *token_hash,
                                                int64_t rotated_before_us)
{
    sqlite3_stmt *s = stmt(c, token_hash ? S_RT_FORGET_ONE : S_RT_FORGET_ALL);
    if (!s) return GH_ERR_INTERNAL;
    if (token_hash) {
        sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, rotated_before_us);
    } else {
        sqlite3_bind_int64(s, 1, rotated_before_us);
    }
    return exec_stmt(c, s, "refresh forget successors");
}

static enum gh_err sq_refresh_rotate(struct store_conn *c, const uint8_t old_hash[32],
                                     const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                                     int64_t now_us, int64_t new_expires)
{
    int64_t now = now_us / 1000000;
    char sid[STORE_ID_LEN + 1] = "";
    enum gh_err rc = tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = stmt(c, S_RT_SPEND);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    sqlite3_bind_blob(s, 1, old_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_us);
    sqlite3_bind_blob(s, 3, box, (int)box_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    if ((rc = exec_stmt(c, s, "refresh spend"))) goto out;
    if (sqlite3_changes(c->db) != 1) {
        rc = GH_ERR_CONFLICT; /* already spent, expired or revoked: caller re-reads */
        goto out;
    }
    struct store_refresh cur;
    if ((rc = sq_refresh_get(c, old_hash, &cur))) goto out;
    snprintf(sid, sizeof sid, "%s", cur.session_id);
    if ((rc = insert_rt(c, new_hash, sid, now, new_expires))) goto out;
    if (!(s = stmt(c, S_SESS_TOUCH))) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, sid);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, new_expires);
    if ((rc = exec_stmt(c, s, "session touch"))) goto out;
    rc = tx(c, S_COMMIT);
out:
    if (rc) rollback(c);
    return rc;
}

static enum gh_err sq_vault_keys_list(struct store_conn *c, struct store_vault_key *out, size_t max,
                                      size_t *n)
{
    sqlite3_stmt *s = stmt(c, S_VK_LIST);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
    size_t i = 0;
    int r;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].kid, sizeof out[i].kid);
        col_text(s, 1, out[i].wrapped, sizeof out[i].wrapped);
        out[i].created_at = sqlite3_column_int64(s, 2);
        i++;
    }
    if (i < max && r != SQLITE_DONE) {
        done(s);
        return fail(c, "vault keys list");
    }
    done(s);
    *n = i;
    return GH_OK;
}

static enum gh_err sq_vault_key_insert(struct store_conn *c, const struct store_vault_key *k)
{
    sqlite3_stmt *s = stmt(c, S_VK_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, k->kid);
    bind_text(s, 2, k->wrapped);
    sqlite3_bind_int64(s, 3, k->created_at);
    return exec_stmt(c, s, "vault key insert");
}

static enum gh_err delete_by_id(struct store_conn *c, enum stmt_id id, const char *key)
{
    sqlite3_stmt *s = stmt(c, id);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, key);
    return exec_stmt(c, s, stmt_sql[id]);
}

struct reclaim_args {
    const char *id;
    int64_t now, tia;
};

static enum gh_err user_reclaim_fn(struct store_conn *c, const void *arg)
{
    const struct reclaim_args *a = arg;
    struct verify_args v = {a->id, a->now};
    enum gh_err rc = user_verify_fn(c, &v);
    if (rc) return rc;
    sqlite3_stmt *s = stmt(c, S_USER_SET_PASSWORD);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->id);
    bind_text(s, 2, "!"); /* matches no password */
    sqlite3_bind_int64(s, 3, a->tia);
    sqlite3_bind_int64(s, 4, a->now);
    if ((rc = exec_stmt(c, s, "reclaim: password"))) return rc;
    struct revoke_args r = {NULL, a->id, a->now};
    return revoke_user_fn(c, &r);
}

static enum gh_err sq_user_reclaim(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                                   const struct store_audit *ev)
{
    struct reclaim_args a = {id, now, tia};
    return in_tx(c, ev, user_reclaim_fn, &a);
}

static enum gh_err sq_vault_key_rewrap(struct store_conn *c, const char *kid, const char *wrapped)
{
    sqlite3_stmt *s = stmt(c, S_VK_REWRAP);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, kid);
    bind_text(s, 2, wrapped);
    enum gh_err rc = exec_stmt(c, s, "vault key rewrap");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

static enum gh_err sq_vault_key_delete(struct store_conn *c, const char *kid)
{
    return delete_by_id(c, S_VK_DELETE, kid);
}

static enum gh_err sq_signing_keys_list(struct store_conn *c, struct store_signing_key *out,
                                        size_t max, size_t *n)
{
    sqlite3_stmt *s = stmt(c, S_SK_LIST);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
    size_t i = 0;
    int r = SQLITE_DONE;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].kid, sizeof out[i].kid);
        col_text(s, 1, out[i].private_sealed, sizeof out[i].private_sealed);
        out[i].created_at = sqlite3_column_int64(s, 2);
        out[i].activates_at = sqlite3_column_int64(s, 3);
        i++;
    }
    done(s);
    if (r != SQLITE_DONE && r != SQLITE_ROW) return fail(c, "signing keys list");
    *n = i;
    return GH_OK;
}

static enum gh_err sq_signing_key_insert(struct store_conn *c, const struct store_signing_key *k)
{
    sqlite3_stmt *s = stmt(c, S_SK_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, k->kid);
    bind_text(s, 2, k->private_sealed);
    sqlite3_bind_int64(s, 3, k->created_at);
    sqlite3_bind_int64(s, 4, k->activates_at);
    int r = sqlite3_step(s);
    done(s);
    if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE) return GH_ERR_CONFLICT;
    if (r != SQLITE_DONE) return fail(c, "signing key insert");
    return GH_OK;
}

static enum gh_err sq_signing_key_delete(struct store_conn *c, const char *kid)
{
    return delete_by_id(c, S_SK_DELETE, kid);
}

/* A switch, not a table: a field left out must fail, not map to
 * statement 0 (which is BEGIN). */
static int sealed_stmt(enum store_sealed_field f, bool replace, enum stmt_id *out)
{
    switch (f) {
    case STORE_SEALED_SIGNING_KEY:
        *out = replace ? S_SEALED_SK_REPLACE : S_SEALED_SK_LIST;
        return 0;
    case STORE_SEALED_TOTP:
        *out = replace ? S_SEALED_TOTP_REPLACE : S_SEALED_TOTP_LIST;
        return 0;
    case STORE_SEALED_MAIL:
        *out = replace ? S_SEALED_MAIL_REPLACE : S_SEALED_MAIL_LIST;
        return 0;
    case STORE_SEALED_IDEMPOTENCY:
        *out = replace ? S_SEALED_IDEM_REPLACE : S_SEALED_IDEM_LIST;
        return 0;
    case STORE_SEALED_COUNT:
        break;
    }
    return -1;
}

static enum gh_err sq_sealed_list(struct store_conn *c, enum store_sealed_field f,
                                  const char *after, struct store_sealed *out, size_t max,
                                  size_t *n)
{
    enum stmt_id id;
    if (sealed_stmt(f, false, &id)) return GH_ERR_INVALID;
    sqlite3_stmt *s = stmt(c, id);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, after ? after : "");
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    size_t i = 0;
    int r = SQLITE_DONE;
    enum gh_err rc = GH_OK;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, out[i].id, sizeof out[i].id);
        if (!(out[i].value = strdup(ctext(s, 1)))) {
            rc = GH_ERR_NOMEM;
            break;
        }
        i++;
    }
    done(s);
    if (rc == GH_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = fail(c, "sealed list");
    if (rc) {
        store_sealed_clear(out, i);
        return rc;
    }
    *n = i;
    return GH_OK;
}

static enum gh_err sq_sealed_replace(struct store_conn *c, enum store_sealed_field f,
                                     const char *id, const char *old, const char *value)
{
    enum stmt_id sid;
    if (sealed_stmt(f, true, &sid)) return GH_ERR_INVALID;
    sqlite3_stmt *s = stmt(c, sid);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    bind_text(s, 2, old);
    bind_text(s, 3, value);
    enum gh_err rc = exec_stmt(c, s, "sealed replace");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err sq_begin(struct store_conn *c)
{
    return tx(c, S_BEGIN);
}

static enum gh_err sq_commit(struct store_conn *c)
{
    enum gh_err rc = tx(c, S_COMMIT);
    if (rc) rollback(c);
    return rc;
}

static void sq_rollback(struct store_conn *c)
{
    rollback(c);
}

/* ---- second factors ---- */

static enum gh_err sq_totp_get(struct store_conn *c, const char *uid, struct store_totp *o)
{
    sqlite3_stmt *s = stmt(c, S_TOTP_GET);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, uid);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, o->secret_sealed, sizeof o->secret_sealed);
        o->created_at = sqlite3_column_int64(s, 1);
        o->confirmed_at = sqlite3_column_int64(s, 2);
        o->last_step = sqlite3_column_int64(s, 3);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    return r == SQLITE_ROW ? GH_OK : fail(c, "totp get");
}

static enum gh_err sq_totp_begin(struct store_conn *c, const char *uid, const char *sealed,
                                 int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_TOTP_BEGIN);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, uid);
    bind_text(s, 2, sealed);
    sqlite3_bind_int64(s, 3, now);
    enum gh_err rc = exec_stmt(c, s, "totp begin");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err insert_backup_codes(struct store_conn *c, const char *uid,
                                       const uint8_t hashes[STORE_BACKUP_CODES][32])
{
    enum gh_err rc = delete_by_id(c, S_BACKUP_CLEAR, uid);
    for (int i = 0; rc == GH_OK && i < STORE_BACKUP_CODES; i++) {
        sqlite3_stmt *s = stmt(c, S_BACKUP_INSERT);
        if (!s) return GH_ERR_INTERNAL;
        bind_text(s, 1, uid);
        sqlite3_bind_blob(s, 2, hashes[i], 32, SQLITE_STATIC);
        rc = exec_stmt(c, s, "backup insert");
    }
    return rc;
}

static enum gh_err sq_totp_confirm(struct store_conn *c, const char *uid, int64_t step,
                                   const uint8_t hashes[STORE_BACKUP_CODES][32],
                                   const char *keep_sid, int64_t now, const struct store_audit *ev)
{
    enum gh_err rc = tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = stmt(c, S_TOTP_CONFIRM);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, uid);
    sqlite3_bind_int64(s, 2, step);
    sqlite3_bind_int64(s, 3, now);
    if ((rc = exec_stmt(c, s, "totp confirm"))) goto out;
    if (sqlite3_changes(c->db) != 1) {
        rc = GH_ERR_CONFLICT;
        goto out;
    }
    if ((rc = insert_backup_codes(c, uid, hashes))) goto out;
    /* A new factor ends the sessions that never had to pass it. */
    if (!(s = stmt(c, S_SESS_REVOKE_OTHERS))) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, uid);
    bind_text(s, 2, keep_sid ? keep_sid : "");
    sqlite3_bind_int64(s, 3, now);
    if ((rc = exec_stmt(c, s, "revoke other sessions"))) goto out;
    if (ev && (rc = append_audit(c, ev))) goto out;
    rc = tx(c, S_COMMIT);
out:
    if (rc) rollback(c);
    return rc;
}

static enum gh_err sq_backup_replace(struct store_conn *c, const char *uid,
                                     const uint8_t hashes[STORE_BACKUP_CODES][32],
                                     const struct store_audit *ev)
{
    enum gh_err rc = tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = stmt(c, S_TOTP_CONFIRMED);
    if (!s) {
        rc = GH_ERR_INTERNAL;
        goto out;
    }
    bind_text(s, 1, uid);
    int r = sqlite3_step(s);
    done(s);
    if (r == SQLITE_DONE)
        rc = GH_ERR_NOT_FOUND;
    else if (r != SQLITE_ROW)
        rc = fail(c, "totp confirmed");
    if (rc) goto out;
    if ((rc = insert_backup_codes(c, uid, hashes))) goto out;
    if (ev && (rc = append_audit(c, ev))) goto out;
    rc = tx(c, S_COMMIT);
out:
    if (rc) rollback(c);
    return rc;
}

static enum gh_err sq_totp_use_step(struct store_conn *c, const char *uid, int64_t step)
{
    sqlite3_stmt *s = stmt(c, S_TOTP_USE);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, uid);
    sqlite3_bind_int64(s, 2, step);
    enum gh_err rc = exec_stmt(c, s, "totp use");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err totp_delete_fn(struct store_conn *c, const void *arg)
{
    const struct revoke_args *a = arg;
    enum gh_err rc = delete_by_id(c, S_BACKUP_CLEAR, a->uid);
    if (rc) return rc;
    if ((rc = delete_by_id(c, S_TOTP_DELETE, a->uid))) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_NOT_FOUND;
    sqlite3_stmt *s = stmt(c, S_SESS_REVOKE_OTHERS);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->uid);
    bind_text(s, 2, a->id ? a->id : "");
    sqlite3_bind_int64(s, 3, a->now);
    return exec_stmt(c, s, "revoke other sessions");
}

static enum gh_err sq_totp_delete(struct store_conn *c, const char *uid, const char *keep_sid,
                                  int64_t now, const struct store_audit *ev)
{
    struct revoke_args a = {keep_sid, uid, now};
    return in_tx(c, ev, totp_delete_fn, &a);
}

static enum gh_err sq_backup_use(struct store_conn *c, const char *uid, const uint8_t hash[32],
                                 int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_BACKUP_USE);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, uid);
    sqlite3_bind_blob(s, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    enum gh_err rc = exec_stmt(c, s, "backup use");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_DENIED;
}

static enum gh_err sq_challenge_create(struct store_conn *c, const uint8_t hash[32],
                                       const struct store_challenge *ch)
{
    sqlite3_stmt *s = stmt(c, S_CH_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    bind_text(s, 2, ch->user_id);
    sqlite3_bind_int64(s, 3, ch->tokens_invalidated_at);
    sqlite3_bind_int64(s, 4, ch->expires_at);
    bind_text(s, 5, ch->first_factor[0] ? ch->first_factor : "password");
    return exec_stmt(c, s, "challenge insert");
}

static enum gh_err sq_challenge_attempt(struct store_conn *c, const uint8_t hash[32], int max,
                                        int64_t now, struct store_challenge *o)
{
    sqlite3_stmt *s = stmt(c, S_CH_ATTEMPT);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, max);
    sqlite3_bind_int64(s, 3, now);
    enum gh_err rc = exec_stmt(c, s, "challenge attempt");
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_DENIED;
    if (!(s = stmt(c, S_CH_GET))) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, o->user_id, sizeof o->user_id);
        o->tokens_invalidated_at = sqlite3_column_int64(s, 1);
        o->expires_at = sqlite3_column_int64(s, 2);
        o->attempts = sqlite3_column_int(s, 3);
        o->used_at = sqlite3_column_int64(s, 4);
        col_text(s, 5, o->first_factor, sizeof o->first_factor);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_DENIED;
    return r == SQLITE_ROW ? GH_OK : fail(c, "challenge get");
}

static enum gh_err sq_challenge_consume(struct store_conn *c, const uint8_t hash[32], int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_CH_CONSUME);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    enum gh_err rc = exec_stmt(c, s, "challenge consume");
    if (rc) return rc;
    return sqlite3_changes(c->db) == 1 ? GH_OK : GH_ERR_DENIED;
}

/* ---- mail and magic links ---- */

static enum gh_err sq_mail_insert(struct store_conn *c, const char *id, const char *to,
                                  const char *sealed, int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_MAIL_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    bind_text(s, 2, to);
    bind_text(s, 3, sealed);
    sqlite3_bind_int64(s, 4, now);
    return exec_stmt(c, s, "mail insert");
}

static enum gh_err sq_mail_due(struct store_conn *c, int64_t now, struct store_mail *out,
                               size_t max, size_t *n)
{
    sqlite3_stmt *s = stmt(c, S_MAIL_DUE);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    size_t i = 0;
    int r = SQLITE_DONE;
    enum gh_err rc = GH_OK;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&out[i], 0, sizeof out[i]);
        col_text(s, 0, out[i].id, sizeof out[i].id);
        col_text(s, 1, out[i].to_addr, sizeof out[i].to_addr);
        out[i].message_sealed = strdup(ctext(s, 2));
        out[i].attempts = sqlite3_column_int(s, 3);
        if (!out[i].message_sealed) {
            rc = GH_ERR_NOMEM;
            break;
        }
        i++;
    }
    done(s);
    if (rc == GH_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = fail(c, "mail due");
    if (rc) {
        for (size_t j = 0; j < i; j++)
            free(out[j].message_sealed);
        return rc;
    }
    *n = i;
    return GH_OK;
}

static enum gh_err sq_mail_result(struct store_conn *c, const char *id, bool sent,
                                  const char *error, int64_t next_attempt_at)
{
    sqlite3_stmt *s = stmt(c, sent ? S_MAIL_SENT : S_MAIL_FAILED);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    if (sent) {
        sqlite3_bind_int64(s, 2, gh_now_s());
    } else {
        bind_text(s, 2, error ? error : "");
        sqlite3_bind_int64(s, 3, next_attempt_at);
    }
    return exec_stmt(c, s, "mail result");
}

struct magic_args {
    const uint8_t *hash;
    const struct store_magic *m;
    int64_t now;
};

/* A new link replaces the account's unused ones of the same purpose: only
 * the newest email works. */
static enum gh_err magic_create_fn(struct store_conn *c, const void *arg)
{
    const struct magic_args *a = arg;
    const char *purpose = a->m->purpose[0] ? a->m->purpose : "signin";
    sqlite3_stmt *s = stmt(c, S_MAGIC_SUPERSEDE);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, a->m->email_key);
    bind_text(s, 2, purpose);
    sqlite3_bind_int64(s, 3, a->now);
    enum gh_err rc = exec_stmt(c, s, "magic supersede");
    if (rc) return rc;
    if (!(s = stmt(c, S_MAGIC_INSERT))) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, a->hash, 32, SQLITE_STATIC);
    bind_text(s, 2, a->m->email_key);
    bind_text(s, 3, a->m->email);
    sqlite3_bind_int64(s, 4, a->now);
    sqlite3_bind_int64(s, 5, a->m->expires_at);
    bind_text(s, 6, purpose);
    return exec_stmt(c, s, "magic insert");
}

static enum gh_err sq_magic_create(struct store_conn *c, const uint8_t hash[32],
                                   const struct store_magic *m, int64_t now)
{
    struct magic_args a = {hash, m, now};
    return in_tx(c, NULL, magic_create_fn, &a);
}

static enum gh_err sq_magic_revoke_all(struct store_conn *c, const char *email_key, int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_MAGIC_REVOKE_ALL);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, email_key);
    sqlite3_bind_int64(s, 2, now);
    return exec_stmt(c, s, "magic revoke all");
}

static enum gh_err sq_magic_get(struct store_conn *c, const uint8_t hash[32],
                                struct store_magic *out)
{
    sqlite3_stmt *s = stmt(c, S_MAGIC_GET);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        col_text(s, 0, out->email_key, sizeof out->email_key);
        col_text(s, 1, out->email, sizeof out->email);
        out->expires_at = sqlite3_column_int64(s, 2);
        out->used_at = sqlite3_column_int64(s, 3);
        col_text(s, 4, out->purpose, sizeof out->purpose);
    }
    done(s);
    if (r == SQLITE_DONE) return GH_ERR_NOT_FOUND;
    return r == SQLITE_ROW ? GH_OK : fail(c, "magic get");
}

static enum gh_err sq_magic_consume(struct store_conn *c, const uint8_t hash[32],
                                    const char *purpose, int64_t now, struct store_magic *out)
{
    sqlite3_stmt *s = stmt(c, S_MAGIC_CONSUME);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    bind_text(s, 3, purpose);
    enum gh_err rc = exec_stmt(c, s, "magic consume");
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return GH_ERR_DENIED; /* unknown or used: one winner */
    rc = sq_magic_get(c, hash, out);
    return rc == GH_ERR_NOT_FOUND ? GH_ERR_DENIED : rc;
}

static enum gh_err sq_health_probe(struct store_conn *c, int64_t now)
{
    sqlite3_stmt *s = stmt(c, S_HEALTH_PROBE);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, now);
    return exec_stmt(c, s, "health probe");
}

static enum gh_err sq_prune(struct store_conn *c, int64_t before)
{
    enum gh_err rc;
    sqlite3_stmt *s = stmt(c, S_PRUNE_RT);
    if (!s) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, before);
    if ((rc = exec_stmt(c, s, "prune refresh"))) return rc;
    if (!(s = stmt(c, S_PRUNE_SESS))) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, before);
    if ((rc = exec_stmt(c, s, "prune sessions"))) return rc;
    /* Sent mail a day on; undeliverable mail after a week; dead links. */
    if (!(s = stmt(c, S_PRUNE_MAIL))) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, before);
    if ((rc = exec_stmt(c, s, "prune mail"))) return rc;
    if (!(s = stmt(c, S_PRUNE_MAGIC))) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, before);
    if ((rc = exec_stmt(c, s, "prune magic links"))) return rc;
    if (!(s = stmt(c, S_PRUNE_CHALLENGES))) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, before);
    if ((rc = exec_stmt(c, s, "prune mfa challenges"))) return rc;
    if (!(s = stmt(c, S_PRUNE_IDEM))) return GH_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, before); /* kept 24 h: before is a day ago */
    return exec_stmt(c, s, "prune idempotency");
}

static enum gh_err sq_idem_claim(struct store_conn *c, const char *id, const uint8_t mac[32],
                                 int64_t now, struct store_idem *out)
{
    sqlite3_stmt *s = stmt(c, S_IDEM_INSERT);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    sqlite3_bind_blob(s, 2, mac, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, now - STORE_IDEM_STALE_S);
    enum gh_err rc = exec_stmt(c, s, "idempotency claim");
    if (rc) return rc;
    if (sqlite3_changes(c->db) == 1) return GH_OK;
    if (!(s = stmt(c, S_IDEM_GET))) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    memset(out, 0, sizeof *out);
    int r = sqlite3_step(s);
    rc = GH_ERR_CONFLICT;
    if (r == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) == 32) memcpy(out->body_mac, sqlite3_column_blob(s, 0), 32);
        out->status = sqlite3_column_int(s, 1);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL &&
            !(out->response_sealed = strdup(ctext(s, 2))))
            rc = GH_ERR_NOMEM;
    } else if (r == SQLITE_DONE) {
        rc = GH_ERR_INTERNAL; /* gone between two statements (pruned): answer 500, retry works */
    } else {
        rc = fail(c, "idempotency get");
    }
    done(s);
    return rc;
}

static enum gh_err sq_idem_complete(struct store_conn *c, const char *id, int status,
                                    const char *sealed)
{
    sqlite3_stmt *s = stmt(c, S_IDEM_COMPLETE);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    sqlite3_bind_int(s, 2, status);
    bind_text(s, 3, sealed);
    return exec_stmt(c, s, "idempotency complete");
}

static enum gh_err sq_idem_release(struct store_conn *c, const char *id)
{
    return delete_by_id(c, S_IDEM_DELETE, id);
}

const struct store_ops store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .pending_migrations = sq_pending_migrations,
    .users.create = sq_user_create,
    .users.by_email_key = sq_user_by_email_key,
    .users.by_id = sq_user_by_id,
    .users.rehash = sq_user_rehash,
    .users.verify_email = sq_user_verify_email,
    .users.set_role = sq_user_set_role,
    .users.reclaim = sq_user_reclaim,
    .users.set_password = sq_user_set_password,
    .sessions.create = sq_session_create,
    .sessions.get = sq_session_get,
    .sessions.list = sq_session_list,
    .sessions.revoke = sq_session_revoke,
    .sessions.revoke_user = sq_sessions_revoke_user,
    .sessions.unrestrict = sq_session_unrestrict,
    .refresh.get = sq_refresh_get,
    .refresh.rotate = sq_refresh_rotate,
    .refresh.forget_successors = sq_refresh_forget_successors,
    .vault_keys.list = sq_vault_keys_list,
    .vault_keys.insert = sq_vault_key_insert,
    .vault_keys.delete = sq_vault_key_delete,
    .vault_keys.rewrap = sq_vault_key_rewrap,
    .signing_keys.list = sq_signing_keys_list,
    .signing_keys.insert = sq_signing_key_insert,
    .signing_keys.delete = sq_signing_key_delete,
    .sealed.list = sq_sealed_list,
    .sealed.replace = sq_sealed_replace,
    .tx.begin_write = sq_begin,
    .tx.commit = sq_commit,
    .tx.rollback = sq_rollback,
    .audit.append = sq_audit_append,
    .audit.list = sq_audit_list,
    .audit.scan = sq_audit_scan,
    .audit.bounds = sq_audit_bounds,
    .audit.tune_for_scan = sq_tune_for_scan,
    .audit.prune = sq_audit_prune,
    .totp.get = sq_totp_get,
    .totp.begin = sq_totp_begin,
    .totp.confirm = sq_totp_confirm,
    .totp.use_step = sq_totp_use_step,
    .backup_codes.replace = sq_backup_replace,
    .totp.delete = sq_totp_delete,
    .backup_codes.use = sq_backup_use,
    .challenges.create = sq_challenge_create,
    .challenges.attempt = sq_challenge_attempt,
    .challenges.consume = sq_challenge_consume,
    .mail.insert = sq_mail_insert,
    .mail.due = sq_mail_due,
    .mail.result = sq_mail_result,
    .links.create = sq_magic_create,
    .links.consume = sq_magic_consume,
    .links.get = sq_magic_get,
    .links.revoke_all = sq_magic_revoke_all,
    .idem.claim = sq_idem_claim,
    .idem.complete = sq_idem_complete,
    .idem.release = sq_idem_release,
    .upkeep.prune = sq_prune,
    .health.probe = sq_health_probe,
};
