/* SQLite backend of the store (store.h): opening a connection and its
 * pragmas, migrations, transactions, the statement helpers every
 * capability file uses (sqlite_internal.h) and the table of functions.
 * One connection per thread, WAL mode, synchronous=FULL (a rotated refresh
 * token must survive a power cut, or a client would hold a token the
 * database forgot), foreign keys on. Every statement is prepared once with
 * bound parameters and reused. */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrations.h"
#include "store/schema.h"

/* Disk-class errors also turn /readyz 503 (store/health.h); during such
 * an episode they are logged once there, not per failed statement. */
enum gh_err sq_fail(struct store_conn *c, const char *what)
{
    char why[600];
    bool disk = store_sqlite_describe(c->db, NULL, why, sizeof why);
    if (!disk || !store_health_failed(why)) gh_log(GH_LOG_ERROR, "sqlite: %s: %s", what, why);
    return GH_ERR_INTERNAL;
}

/* The statement, reset and ready to bind; NULL on failure. */
sqlite3_stmt *sq_stmt(struct store_conn *c, enum stmt_id id)
{
    if (!c->st[id]) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                               NULL) != SQLITE_OK) {
            char what[32];
            snprintf(what, sizeof what, "prepare %d", (int)id);
            (void)sq_fail(c, what);
            return NULL;
        }
    }
    sqlite3_reset(c->st[id]);
    sqlite3_clear_bindings(c->st[id]);
    return c->st[id];
}

/* Runs a statement that returns no rows. */
enum gh_err sq_exec(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
    int r = sqlite3_step(s);
    done(s);
    if (r != SQLITE_DONE) return sq_fail(c, what);
    return GH_OK;
}

static int bind_vals(sqlite3_stmt *s, const struct sq_val *v, size_t n)
{
    int r = SQLITE_OK;
    for (size_t i = 0; i < n && r == SQLITE_OK; i++) {
        int at = (int)i + 1;
        switch (v[i].kind) {
        case SQ_K_TEXT:
            r = bind_text(s, at, v[i].p);
            break;
        case SQ_K_INT64:
            r = sqlite3_bind_int64(s, at, v[i].i);
            break;
        case SQ_K_BLOB:
            r = sqlite3_bind_blob(s, at, v[i].p, v[i].n, SQLITE_STATIC);
            break;
        }
    }
    return r;
}

sqlite3_stmt *sq_query(struct store_conn *c, enum stmt_id id, const struct sq_val *vals, size_t n)
{
    sqlite3_stmt *s = sq_stmt(c, id);
    if (!s) return NULL;
    if (bind_vals(s, vals, n) != SQLITE_OK) {
        (void)sq_fail(c, stmt_sql[id]);
        done(s);
        return NULL;
    }
    return s;
}

static enum gh_err run(struct store_conn *c, enum stmt_id id, const char *what,
                       const struct sq_val *vals, size_t n, bool clash_is_conflict)
{
    sqlite3_stmt *s = sq_query(c, id, vals, n);
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    done(s);
    if (clash_is_conflict && (r == SQLITE_CONSTRAINT_UNIQUE || r == SQLITE_CONSTRAINT_PRIMARYKEY))
        return GH_ERR_CONFLICT;
    return r == SQLITE_DONE ? GH_OK : sq_fail(c, what);
}

enum gh_err sq_run(struct store_conn *c, enum stmt_id id, const char *what,
                   const struct sq_val *vals, size_t n)
{
    return run(c, id, what, vals, n, false);
}

enum gh_err sq_insert(struct store_conn *c, enum stmt_id id, const char *what,
                      const struct sq_val *vals, size_t n)
{
    return run(c, id, what, vals, n, true);
}

enum gh_err sq_tx(struct store_conn *c, enum stmt_id id)
{
    sqlite3_stmt *s = sq_stmt(c, id);
    if (!s) return GH_ERR_INTERNAL;
    return sq_exec(c, s, stmt_sql[id]);
}

void sq_rollback(struct store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db)) (void)sq_tx(c, S_ROLLBACK);
}

/* Counts each statement as it starts (trigger programs count too). */
static int sq_trace(unsigned type, void *ctx, void *p, void *x)
{
    (void)type, (void)ctx, (void)p, (void)x;
    store_count_statement();
    return 0;
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
    sqlite3_trace_v2(c->db, SQLITE_TRACE_STMT, sq_trace, NULL);
    /* Pragmas are fixed strings with no parameters. */
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=ON; PRAGMA cache_size=-2048;";
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        (void)sq_fail(c, "pragmas");
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
        return sq_fail(c, "create schema_migrations");
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        enum gh_err rc = sq_tx(c, S_BEGIN);
        if (rc) return rc;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &q,
                               NULL) != SQLITE_OK) {
            sq_rollback(c);
            return sq_fail(c, "prepare migration check");
        }
        sqlite3_bind_int(q, 1, m->version);
        int r = sqlite3_step(q);
        sqlite3_finalize(q);
        if (r == SQLITE_ROW) {
            sq_rollback(c);
            continue;
        }
        if (r != SQLITE_DONE) {
            sq_rollback(c);
            return sq_fail(c, "migration check");
        }
        if ((m->sql && sqlite3_exec(c->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) ||
            (m->sqlite_sql && sqlite3_exec(c->db, m->sqlite_sql, NULL, NULL, NULL) != SQLITE_OK)) {
            enum gh_err e = sq_fail(c, m->name);
            sq_rollback(c);
            return e;
        }
        /* The flag once the column exists (migration 20 backfilled those before it). */
        const char *record = m->version >= STORE_MIGRATION_COMPAT_COLUMN
                                 ? "INSERT INTO schema_migrations (version, name, applied_at,"
                                   " compatible) VALUES (?1, ?2, ?3, ?4)"
                                 : "INSERT INTO schema_migrations (version, name, applied_at)"
                                   " VALUES (?1, ?2, ?3)";
        if (sqlite3_prepare_v2(c->db, record, -1, &q, NULL) != SQLITE_OK) {
            sq_rollback(c);
            return sq_fail(c, "prepare migration record");
        }
        sqlite3_bind_int(q, 1, m->version);
        bind_text(q, 2, m->name);
        sqlite3_bind_int64(q, 3, gh_now_s());
        if (m->version >= STORE_MIGRATION_COMPAT_COLUMN) sqlite3_bind_int(q, 4, m->compatible);
        r = sqlite3_step(q);
        sqlite3_finalize(q);
        if (r != SQLITE_DONE) {
            sq_rollback(c);
            return sq_fail(c, "migration record");
        }
        if ((rc = sq_tx(c, S_COMMIT))) {
            sq_rollback(c);
            return rc;
        }
        gh_log(GH_LOG_INFO, "migration %d applied: %s", m->version, m->name);
    }
    return GH_OK;
}

/* Rows it does not know are only read: migrate never touches them. */
static enum gh_err sq_schema_read(struct store_conn *c, struct store_schema *out)
{
    sqlite3_stmt *q = NULL;
    int table = 0, column = 0;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'schema_migrations'),"
                           " (SELECT COUNT(*) FROM pragma_table_info('schema_migrations')"
                           " WHERE name = 'compatible')",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        return sq_fail(c, "schema_migrations lookup");
    }
    table = sqlite3_column_int(q, 0);
    column = sqlite3_column_int(q, 1);
    sqlite3_finalize(q);
    if (!table) return GH_OK; /* a new file: everything is pending */
    /* Before migration 20 there is no flag: an unknown row counts as not compatible. */
    if (sqlite3_prepare_v2(c->db,
                           column ? "SELECT version, compatible, applied_at FROM schema_migrations"
                                    " ORDER BY version"
                                  : "SELECT version, 0, applied_at FROM schema_migrations"
                                    " ORDER BY version",
                           -1, &q, NULL) != SQLITE_OK)
        return sq_fail(c, "prepare schema_migrations read");
    int r;
    out->table = true;
    while ((r = sqlite3_step(q)) == SQLITE_ROW)
        store_schema_add(out, sqlite3_column_int(q, 0), sqlite3_column_int(q, 1),
                         sqlite3_column_int64(q, 2));
    sqlite3_finalize(q);
    return r == SQLITE_DONE ? GH_OK : sq_fail(c, "schema_migrations read");
}

static enum gh_err sq_pending_migrations(struct store_conn *c, int *n)
{
    return store_schema_pending(&store_sqlite, c, n);
}

static bool sq_tx_open(struct store_conn *c)
{
    return sqlite3_get_autocommit(c->db) == 0;
}

static enum gh_err sq_tx_begin(struct store_conn *c)
{
    return sq_tx(c, S_BEGIN);
}

static enum gh_err sq_tx_commit(struct store_conn *c)
{
    return sq_tx(c, S_COMMIT);
}

/* The write transaction holds SQLite's single write lock (BEGIN
 * IMMEDIATE), so the last row is the head until the transaction ends. */
static enum gh_err sq_chain_head(struct store_conn *c, struct store_chain_head *out)
{
    sqlite3_stmt *s = sq_stmt(c, S_AUDIT_LAST);
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        col_text(s, 1, out->hash, sizeof out->hash);
        col_text(s, 2, out->occurred_at, sizeof out->occurred_at);
    }
    done(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return sq_fail(c, "audit last");
    return GH_OK;
}

static enum gh_err sq_chain_insert(struct store_conn *c, const struct audit_row *row,
                                   const char *prev, const char *hash)
{
    sqlite3_stmt *s = sq_stmt(c, S_AUDIT_INSERT);
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
    return sq_exec(c, s, "audit insert");
}

static const struct store_prims sq_prims = {
    .tx_open = sq_tx_open,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_rollback,
    .chain_head = sq_chain_head,
    .chain_insert = sq_chain_insert,
};

enum gh_err sq_append_audit(struct store_conn *c, const struct store_audit *ev)
{
    return store_chain_append(&sq_prims, c, ev);
}

enum gh_err sq_in_tx(struct store_conn *c, const struct store_audit *ev, store_write_fn fn,
                     const void *arg)
{
    return store_write(&sq_prims, c, ev, fn, arg);
}

enum gh_err sq_delete_by_id(struct store_conn *c, enum stmt_id id, const char *key)
{
    sqlite3_stmt *s = sq_stmt(c, id);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, key);
    return sq_exec(c, s, stmt_sql[id]);
}

static enum gh_err sq_begin(struct store_conn *c)
{
    return sq_tx(c, S_BEGIN);
}

static enum gh_err sq_commit(struct store_conn *c)
{
    enum gh_err rc = sq_tx(c, S_COMMIT);
    if (rc) sq_rollback(c);
    return rc;
}

const struct store_ops store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .pending_migrations = sq_pending_migrations,
    .schema_read = sq_schema_read,
    .users.create = sq_user_create,
    .users.by_email_key = sq_user_by_email_key,
    .users.by_id = sq_user_by_id,
    .users.rehash = sq_user_rehash,
    .users.other_hashes = sq_user_other_hashes,
    .users.verify_email = sq_user_verify_email,
    .users.set_role = sq_user_set_role,
    .users.reclaim = sq_user_reclaim,
    .users.set_password = sq_user_set_password,
    .users.set_email = sq_user_set_email,
    .sessions.create = sq_session_create,
    .sessions.get = sq_session_get,
    .sessions.list = sq_session_list,
    .sessions.revoke = sq_session_revoke,
    .sessions.revoke_user = sq_sessions_revoke_user,
    .sessions.revoke_others = sq_sessions_revoke_others,
    .sessions.revoke_all = sq_sessions_revoke_all,
    .sessions.unrestrict = sq_session_unrestrict,
    .sessions.set_mfa_at = sq_session_set_mfa_at,
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
    .audit.extend = sq_audit_extend,
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
    .upkeep.clear_single_use = sq_clear_single_use,
    .health.probe = sq_health_probe,
    .events.append = sq_event_append,
    .events.since = sq_events_since,
    .events.max_seq = sq_events_max_seq,
    .events.prune = sq_events_prune,
    .identities.link = sq_identity_link,
    .identities.by_subject = sq_identity_by_subject,
    .identities.list = sq_identity_list,
    .identities.unlink = sq_identity_unlink,
    .identities.touch = sq_identity_touch,
    .oauth_nonces.create = sq_nonce_create,
    .oauth_nonces.consume = sq_nonce_consume,
    .import.user = sq_import_user,
};
