/* PostgreSQL backend of the store (store.h): handles, transactions,
 * migrations and the table of functions (the capability files pg_*.c
 * supply the rest; the pool is pg_pool.c). Transactions are READ
 * COMMITTED: where several replicas may write the same rows, the
 * capability files use conditional updates or row locks, and a lost race
 * is GH_ERR_CONFLICT (docs/decisions/0040-pool-and-connections.md). */
#include "store/pg.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrations.h"
#include "store/schema.h"

static const char SQL_BEGIN[] = "BEGIN ISOLATION LEVEL READ COMMITTED";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_LOCK_XACT[] = "SELECT pg_advisory_xact_lock($1)";
static const char SQL_LOCK[] = "SELECT pg_advisory_lock($1)";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1)";
static const char SQL_MIG_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                                    " applied_at BIGINT NOT NULL,"
                                    " compatible INTEGER NOT NULL DEFAULT 0)";
static const char SQL_MIG_HAS_TABLE[] = "SELECT to_regclass('schema_migrations') IS NOT NULL";
static const char SQL_MIG_ROWS[] = "SELECT version, compatible, applied_at FROM schema_migrations"
                                   " ORDER BY version";
static const char SQL_MIG_APPLIED[] = "SELECT 1 FROM schema_migrations WHERE version = $1";
static const char SQL_MIG_RECORD[] = "INSERT INTO schema_migrations (version, name, applied_at,"
                                     " compatible) VALUES ($1, $2, $3, $4)";

static enum gh_err pg_open(const char *path, struct store_conn **out)
{
    (void)path; /* the URL chose the database (store_pg_use) */
    struct store_conn *c = calloc(1, sizeof *c);
    if (!c) return GH_ERR_NOMEM;
    *out = c;
    return GH_OK;
}

static bool tx_open(struct store_conn *c)
{
    return c->in_tx;
}

static enum gh_err tx_begin(struct store_conn *c)
{
    if (c->in_tx) return GH_ERR_INTERNAL;
    enum gh_err rc = pg_hold(c);
    if (rc) return rc;
    if ((rc = pg_exec(c, SQL_BEGIN, "begin", NULL, 0, NULL, NULL))) {
        pg_release(c);
        return rc;
    }
    c->in_tx = true;
    return GH_OK;
}

static void tx_rollback(struct store_conn *c)
{
    pg_tail_clear(c);
    if (!c->in_tx) return;
    c->in_tx = false;
    /* Nothing to do if it fails: the link is closed on release then. */
    enum gh_err rc = pg_exec(c, SQL_ROLLBACK, "rollback", NULL, 0, NULL, NULL);
    (void)rc;
    pg_release(c);
}

/* A statement that failed inside the transaction aborted it: COMMIT would
 * answer ROLLBACK without an error, so that first error is returned. */
static enum gh_err tx_commit(struct store_conn *c)
{
    if (!c->in_tx) return GH_ERR_INTERNAL;
    enum gh_err rc = pg_tx_error(c);
    /* The global locks last, right before COMMIT (pg_tail.c). */
    if (rc == GH_OK) rc = pg_tail_flush(c);
    if (rc) {
        tx_rollback(c);
        return rc;
    }
    c->in_tx = false;
    PGresult *r = NULL;
    rc = pg_exec(c, SQL_COMMIT, "commit", NULL, 0, &r, NULL);
    if (rc == GH_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) rc = GH_ERR_CONFLICT;
    PQclear(r);
    pg_release(c);
    return rc;
}

static enum gh_err commit_or_rollback(struct store_conn *c)
{
    return tx_commit(c); /* it rolls back itself when it fails */
}

static void pg_close(struct store_conn *c)
{
    if (!c) return;
    tx_rollback(c);
    while (c->link)
        pg_release(c);
    free(c);
}

static const struct store_prims pg_prims = {
    .tx_open = tx_open,
    .tx_begin = tx_begin,
    .tx_commit = tx_commit,
    .tx_rollback = tx_rollback,
    .chain_head = pg_chain_head,
    .chain_insert = pg_chain_insert,
};

enum gh_err pg_chain_append(struct store_conn *c, const struct store_audit *ev)
{
    return store_chain_append(&pg_prims, c, ev);
}

struct in_tx_args {
    store_write_fn fn;
    const void *arg;
    const struct store_audit *ev;
};

/* The step, then its audit row held back to the commit: store_write would
 * append it at once, taking the global locks before a row lock the
 * caller's transaction may still take (pg_tail.c). */
static enum gh_err in_tx_step(struct store_conn *c, const void *arg)
{
    const struct in_tx_args *a = arg;
    enum gh_err rc = a->fn ? a->fn(c, a->arg) : GH_OK;
    if (rc == GH_OK && a->ev) rc = pg_append_audit(c, a->ev);
    return rc;
}

enum gh_err pg_in_tx(struct store_conn *c, const struct store_audit *ev, store_write_fn fn,
                     const void *arg)
{
    struct in_tx_args a = {fn, arg, ev};
    return store_write(&pg_prims, c, NULL, in_tx_step, &a);
}

enum gh_err pg_lock_xact(struct store_conn *c, int64_t key)
{
    if (!c->in_tx) return GH_ERR_INTERNAL;
    return PG_RUN(c, SQL_LOCK_XACT, "advisory lock", PG_INT(key));
}

/* ---- migrations ---- */

static enum gh_err migration_applied(struct store_conn *c, int version, bool *yes)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_MIG_APPLIED, "migration check", &r, PG_INT(version));
    *yes = rc == GH_OK && pg_rows(r) > 0;
    PQclear(r);
    return rc;
}

/* One migration in one transaction: its common part, then PostgreSQL's. */
static enum gh_err apply_one(struct store_conn *c, const struct store_migration *m, bool *done)
{
    enum gh_err rc = tx_begin(c);
    if (rc) return rc;
    bool applied = false;
    if ((rc = migration_applied(c, m->version, &applied)) == GH_OK && !applied) {
        if (m->sql) rc = pg_exec_script(c, m->sql, m->name);
        if (rc == GH_OK && m->pg_sql) rc = pg_exec_script(c, m->pg_sql, m->name);
        if (rc == GH_OK)
            rc = PG_RUN(c, SQL_MIG_RECORD, "migration record", PG_INT(m->version), PG_TEXT(m->name),
                        PG_INT(gh_now_s()), PG_INT(m->compatible));
    }
    if (rc || applied) {
        tx_rollback(c);
        return rc;
    }
    *done = true;
    return tx_commit(c);
}

/* The whole run holds one link and the session lock PG_LOCK_MIGRATE, so
 * replicas starting together migrate once: the others wait, then find
 * every migration applied. */
static enum gh_err pg_migrate(struct store_conn *c)
{
    if (c->in_tx) return GH_ERR_INTERNAL;
    enum gh_err rc = pg_hold(c);
    if (rc) return rc;
    if ((rc = PG_RUN(c, SQL_LOCK, "migrate lock", PG_INT(PG_LOCK_MIGRATE)))) {
        pg_release(c);
        return rc;
    }
    rc = pg_exec_script(c, SQL_MIG_TABLE, "create schema_migrations");
    for (size_t i = 0; rc == GH_OK && i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        bool done = false;
        rc = apply_one(c, m, &done);
        if (rc == GH_OK && done)
            gh_log(GH_LOG_INFO, "migration %d applied: %s", m->version, m->name);
    }
    /* The group roles' privileges on the tables, every run (pg_roles.c). */
    if (rc == GH_OK) rc = pg_grant_roles(c);
    if (c->link && PG_RUN(c, SQL_UNLOCK, "migrate unlock", PG_INT(PG_LOCK_MIGRATE)) != GH_OK)
        gh_log(GH_LOG_WARN, "postgres: the migration lock is released when the link closes");
    pg_release(c);
    return rc;
}

/* schema_migrations has the compatible column from the start here (the
 * table above); rows this release does not know are only read. */
static enum gh_err pg_schema_read(struct store_conn *c, struct store_schema *out)
{
    PGresult *r = NULL;
    enum gh_err rc = pg_exec(c, SQL_MIG_HAS_TABLE, "schema_migrations", NULL, 0, &r, NULL);
    bool has = rc == GH_OK && strcmp(pg_str(r, 0, 0), "t") == 0;
    PQclear(r);
    if (rc || !has) return rc; /* a fresh database: everything is pending */
    if ((rc = pg_exec(c, SQL_MIG_ROWS, "schema_migrations read", NULL, 0, &r, NULL))) return rc;
    out->table = true;
    for (int i = 0; i < pg_rows(r); i++)
        store_schema_add(out, (int)pg_int(r, i, 0), (int)pg_int(r, i, 1), pg_int(r, i, 2));
    PQclear(r);
    return GH_OK;
}

static enum gh_err pg_pending_migrations(struct store_conn *c, int *n)
{
    return store_schema_pending(&store_pg, c, n);
}

const struct store_ops store_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .pending_migrations = pg_pending_migrations,
    .schema_read = pg_schema_read,
    .users.create = pg_user_create,
    .users.by_email_key = pg_user_by_email_key,
    .users.by_id = pg_user_by_id,
    .users.rehash = pg_user_rehash,
    .users.other_hashes = pg_user_other_hashes,
    .users.verify_email = pg_user_verify_email,
    .users.set_role = pg_user_set_role,
    .users.reclaim = pg_user_reclaim,
    .users.set_password = pg_user_set_password,
    .users.set_email = pg_user_set_email,
    .sessions.create = pg_session_create,
    .sessions.get = pg_session_get,
    .sessions.list = pg_session_list,
    .sessions.revoke = pg_session_revoke,
    .sessions.revoke_user = pg_sessions_revoke_user,
    .sessions.revoke_others = pg_sessions_revoke_others,
    .sessions.revoke_all = pg_sessions_revoke_all,
    .sessions.unrestrict = pg_session_unrestrict,
    .sessions.set_mfa_at = pg_session_set_mfa_at,
    .refresh.get = pg_refresh_get,
    .refresh.rotate = pg_refresh_rotate,
    .refresh.forget_successors = pg_refresh_forget_successors,
    .vault_keys.list = pg_vault_keys_list,
    .vault_keys.insert = pg_vault_key_insert,
    .vault_keys.delete = pg_vault_key_delete,
    .vault_keys.rewrap = pg_vault_key_rewrap,
    .signing_keys.list = pg_signing_keys_list,
    .signing_keys.insert = pg_signing_key_insert,
    .signing_keys.delete = pg_signing_key_delete,
    .sealed.list = pg_sealed_list,
    .sealed.replace = pg_sealed_replace,
    .tx.begin_write = tx_begin,
    .tx.commit = commit_or_rollback,
    .tx.rollback = tx_rollback,
    .audit.append = pg_audit_append,
    .audit.list = pg_audit_list,
    .audit.scan = pg_audit_scan,
    .audit.bounds = pg_audit_bounds,
    .audit.tune_for_scan = pg_tune_for_scan,
    .audit.extend = pg_audit_extend,
    .audit.prune = pg_audit_prune,
    .totp.get = pg_totp_get,
    .totp.begin = pg_totp_begin,
    .totp.confirm = pg_totp_confirm,
    .totp.use_step = pg_totp_use_step,
    .backup_codes.replace = pg_backup_replace,
    .totp.delete = pg_totp_delete,
    .backup_codes.use = pg_backup_use,
    .challenges.create = pg_challenge_create,
    .challenges.attempt = pg_challenge_attempt,
    .challenges.consume = pg_challenge_consume,
    .mail.insert = pg_mail_insert,
    .mail.due = pg_mail_due,
    .mail.result = pg_mail_result,
    .links.create = pg_magic_create,
    .links.consume = pg_magic_consume,
    .links.get = pg_magic_get,
    .links.revoke_all = pg_magic_revoke_all,
    .idem.claim = pg_idem_claim,
    .idem.complete = pg_idem_complete,
    .idem.release = pg_idem_release,
    .upkeep.prune = pg_prune,
    .upkeep.clear_single_use = pg_clear_single_use,
    .health.probe = pg_health_probe,
    .events.append = pg_event_append,
    .events.since = pg_events_since,
    .events.max_seq = pg_events_max_seq,
    .events.prune = pg_events_prune,
    .identities.link = pg_identity_link,
    .identities.by_subject = pg_identity_by_subject,
    .identities.list = pg_identity_list,
    .identities.unlink = pg_identity_unlink,
    .identities.touch = pg_identity_touch,
    .oauth_nonces.create = pg_nonce_create,
    .oauth_nonces.consume = pg_nonce_consume,
    .import.user = pg_import_user,
};
