/* PostgreSQL backend: the three roles (docs/postgresql.md, "Roles").
 *
 * The owner role owns every table and runs `gatehouse migrate`; after the
 * migrations, migrate grants the two NOLOGIN group roles exactly what their
 * members need (pg_grant_roles), and `serve` refuses to run as a role that
 * could rewrite the audit log (store_pg_check_runtime_role):
 *  - gatehouse_runtime (serve and the other commands): read and write every
 *    table, but only SELECT and INSERT on audit_log and SELECT on
 *    audit_gate and schema_migrations: it appends audit rows and can never
 *    change, delete or truncate them, nor open the retention gate, and it
 *    may execute audit_log_extend() (migration 21: the next partitions);
 *  - gatehouse_retention (`gatehouse audit prune` only): audit_log SELECT,
 *    INSERT (the checkpoint row), DELETE (only while the gate is open: the
 *    triggers of migration 3), audit_gate SELECT and UPDATE, and execute
 *    audit_log_drop_through() (old partitions, also only while the gate is
 *    open). Both functions run as the owner; the partitions themselves get
 *    no grant (reached through audit_log only).
 * Dropping or disabling the triggers needs the owner, which serve refuses.
 *
 * The grants are static text: every table by name, revoked and granted
 * again in one statement, so running them twice changes nothing and they
 * also undo any broader grant made by hand. A migration that adds a table
 * adds it here (the API suite on PostgreSQL runs as the runtime role, so a
 * forgotten table fails it). */
#include "store/pg.h"
#include "store/pg_internal.h"

#include <stdio.h>
#include <string.h>

static const char SQL_GROUPS[] =
    "SELECT rolname FROM pg_roles WHERE rolname IN ('gatehouse_runtime', 'gatehouse_retention')";
static const char SQL_GRANT_RUNTIME[] =
    "DO $grants$ BEGIN"
    " REVOKE ALL ON users, sessions, refresh_tokens, vault_keys, signing_keys, audit_log,"
    "  audit_gate, mfa_totp, mfa_backup_codes, mfa_challenges, mail_queue, magic_links,"
    "  idempotency, health_probe, change_events, identities, oauth_nonces, schema_migrations,"
    "  audit_partitioning"
    "  FROM gatehouse_runtime;"
    " GRANT SELECT, INSERT, UPDATE, DELETE ON users, sessions, refresh_tokens, vault_keys,"
    "  signing_keys, mfa_totp, mfa_backup_codes, mfa_challenges, mail_queue, magic_links,"
    "  idempotency, health_probe, change_events, identities, oauth_nonces TO gatehouse_runtime;"
    " GRANT SELECT, INSERT ON audit_log TO gatehouse_runtime;"
    " GRANT SELECT ON audit_gate, schema_migrations, audit_partitioning TO gatehouse_runtime;"
    " REVOKE ALL ON FUNCTION audit_log_extend(), audit_log_drop_through(BIGINT)"
    "  FROM PUBLIC, gatehouse_runtime;"
    " GRANT EXECUTE ON FUNCTION audit_log_extend() TO gatehouse_runtime;"
    " END $grants$";
static const char SQL_GRANT_RETENTION[] =
    "DO $grants$ BEGIN"
    " REVOKE ALL ON users, sessions, refresh_tokens, vault_keys, signing_keys, audit_log,"
    "  audit_gate, mfa_totp, mfa_backup_codes, mfa_challenges, mail_queue, magic_links,"
    "  idempotency, health_probe, change_events, identities, oauth_nonces, schema_migrations,"
    "  audit_partitioning"
    "  FROM gatehouse_retention;"
    " GRANT SELECT, INSERT, DELETE ON audit_log TO gatehouse_retention;"
    " GRANT SELECT, UPDATE ON audit_gate TO gatehouse_retention;"
    " GRANT SELECT ON schema_migrations TO gatehouse_retention;"
    " REVOKE ALL ON FUNCTION audit_log_extend(), audit_log_drop_through(BIGINT)"
    "  FROM PUBLIC, gatehouse_retention;"
    " GRANT EXECUTE ON FUNCTION audit_log_drop_through(BIGINT) TO gatehouse_retention;"
    " END $grants$";
/* Who this connection is, and what it could do to the audit log. A role
 * that is, or may SET ROLE to, a superuser or the owner of the tables, of
 * their schema (it may drop them) or of the database (since PostgreSQL 15
 * it owns the public schema) can drop the triggers; one with CREATEROLE
 * (its own or a role it belongs to) can make itself a member of anything
 * but a superuser. Memberships count, not only the role's own flags. */
static const char SQL_WHOAMI[] =
    "SELECT current_user,"
    " EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolsuper"
    "  AND pg_has_role(current_user, s.oid, 'MEMBER'))::int,"
    " EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolcreaterole"
    "  AND pg_has_role(current_user, s.oid, 'MEMBER'))::int,"
    " (pg_has_role(current_user, t.relowner, 'MEMBER')"
    "  OR pg_has_role(current_user, n.nspowner, 'MEMBER')"
    "  OR pg_has_role(current_user, d.datdba, 'MEMBER'))::int,"
    " pg_get_userbyid(t.relowner),"
    " has_table_privilege(t.oid, 'UPDATE, DELETE, TRUNCATE')::int,"
    " has_table_privilege(g.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')::int"
    " FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace, pg_class g, pg_database d"
    " WHERE t.oid = to_regclass('audit_log') AND g.oid = to_regclass('audit_gate')"
    " AND d.datname = current_database()";

enum gh_err pg_grant_roles(struct store_conn *c)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_GROUPS, "role lookup", &r);
    if (rc) return rc;
    bool runtime = false, retention = false;
    for (int i = 0; i < pg_rows(r); i++) {
        if (strcmp(pg_str(r, i, 0), "gatehouse_runtime") == 0) runtime = true;
        if (strcmp(pg_str(r, i, 0), "gatehouse_retention") == 0) retention = true;
    }
    PQclear(r);
    if (runtime) {
        if ((rc = PG_RUN(c, SQL_GRANT_RUNTIME, "grants to gatehouse_runtime"))) return rc;
        gh_log(GH_LOG_INFO, "postgres: privileges of gatehouse_runtime granted");
    } else {
        gh_log(GH_LOG_WARN, "postgres: no role gatehouse_runtime: nothing granted (create the "
                            "roles as docs/postgresql.md says, then run gatehouse migrate again)");
    }
    if (retention) {
        if ((rc = PG_RUN(c, SQL_GRANT_RETENTION, "grants to gatehouse_retention"))) return rc;
        gh_log(GH_LOG_INFO, "postgres: privileges of gatehouse_retention granted");
    } else {
        gh_log(GH_LOG_WARN, "postgres: no role gatehouse_retention: nothing granted (create the "
                            "roles as docs/postgresql.md says, then run gatehouse migrate again)");
    }
    return GH_OK;
}

enum gh_err store_pg_grant_roles(void)
{
    if (!store_pg_cfg.migrate_url) return GH_ERR_CONFIG;
    struct store_conn *c = NULL;
    enum gh_err rc = store_pg_use(store_pg_cfg.migrate_url, 1);
    if (rc == GH_OK) rc = store_pg.open("", &c);
    if (rc == GH_OK) rc = pg_grant_roles(c);
    if (c) store_pg.close(c);
    enum gh_err back = store_pg_use(store_pg_cfg.url, store_pg_cfg.pool);
    return rc ? rc : back;
}

enum gh_err store_pg_check_runtime_role(struct store_conn *c, char *err, size_t errlen)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_WHOAMI, "role check", &r);
    if (rc) {
        snprintf(err, errlen, "could not read the database role's privileges");
        return rc;
    }
    if (pg_rows(r) != 1) {
        PQclear(r);
        snprintf(err, errlen, "the database has no audit_log table: run gatehouse migrate");
        return GH_ERR_CONFIG;
    }
    char who[64], owner[64];
    pg_text(r, 0, 0, who, sizeof who);
    pg_text(r, 0, 4, owner, sizeof owner);
    bool super = pg_int(r, 0, 1), createrole = pg_int(r, 0, 2), member = pg_int(r, 0, 3);
    bool rewrite = pg_int(r, 0, 5), gate = pg_int(r, 0, 6);
    PQclear(r);
    const char *why =
        super ? "is or belongs to a superuser"
        : member
            ? "owns Gatehouse's tables, their schema or the database (or belongs to their owner)"
        : createrole ? "has CREATEROLE (it could grant itself the owner)"
        : rewrite    ? "may UPDATE, DELETE or TRUNCATE audit_log"
        : gate       ? "may change audit_gate (open the retention gate)"
                     : NULL;
    if (!why) return GH_OK;
    if (member && !super)
        snprintf(err, errlen,
                 "the database role \"%s\" %s: serve runs as a member of gatehouse_runtime "
                 "(GATEHOUSE_DATABASE_URL); the owner \"%s\" is for gatehouse migrate only "
                 "(GATEHOUSE_DATABASE_MIGRATE_URL), see docs/postgresql.md",
                 who, why, owner);
    else
        snprintf(err, errlen,
                 "the database role \"%s\" %s: serve runs as a member of gatehouse_runtime "
                 "(GATEHOUSE_DATABASE_URL), see docs/postgresql.md",
                 who, why);
    return GH_ERR_CONFIG;
}
