/* Numbered schema migrations of every SQL backend. Each has a common part
 * in portable SQL (no backend-specific types or functions: no BLOB or
 * BYTEA, no triggers) and a part per backend where they differ: binary
 * columns are BLOB in SQLite and BYTEA in PostgreSQL (those tables are
 * written once below, with the type as a parameter), and the audit log's
 * triggers. A backend runs the common part, then its own, in one
 * transaction. Never edit an applied migration; append a new one. A new
 * table also goes into the PostgreSQL grants (pg_roles.c): until then the
 * runtime role cannot use it. */
#ifndef GH_STORE_MIGRATIONS_H
#define GH_STORE_MIGRATIONS_H

struct store_migration {
    int version;
    const char *name;
    const char *sql; /* common part (NULL: none) */
    /* Backend-specific parts, run after the common one (NULL: none). */
    const char *sqlite_sql;
    const char *pg_sql;
    /* 1: the release before it keeps working, correctly and safely,
     * against the schema with it applied and rows the newer release
     * writes (an expand: a table, a nullable or defaulted column, an
     * index, and nothing the older code would misread, such as a new
     * column that restricts what a row grants). A replica refuses a schema
     * with an applied migration it does not know unless it is marked 1
     * (store/schema.h). Recorded in schema_migrations.compatible. Each
     * migration's flag and why: docs/upgrades.md. */
    int compatible;
};

/* The tables with binary columns; BIN is the backend's binary type. */
#define GH_MIG1_REFRESH(BIN)                                                                       \
    "CREATE TABLE refresh_tokens ("                                                                \
    " token_hash " BIN " PRIMARY KEY,"                                                             \
    " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"                         \
    " created_at BIGINT NOT NULL,"                                                                 \
    " expires_at BIGINT NOT NULL,"                                                                 \
    " rotated_at_us BIGINT,"                                                                       \
    " successor_box " BIN ");"                                                                     \
    "CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);"
#define GH_MIG4_CODES(BIN)                                                                         \
    "CREATE TABLE mfa_backup_codes ("                                                              \
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"                               \
    " code_hash " BIN " NOT NULL,"                                                                 \
    " used_at BIGINT,"                                                                             \
    " PRIMARY KEY (user_id, code_hash));"                                                          \
    "CREATE TABLE mfa_challenges ("                                                                \
    " token_hash " BIN " PRIMARY KEY,"                                                             \
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"                               \
    " tokens_invalidated_at BIGINT NOT NULL,"                                                      \
    " expires_at BIGINT NOT NULL,"                                                                 \
    " attempts INTEGER NOT NULL DEFAULT 0,"                                                        \
    " used_at BIGINT);"
#define GH_MIG6_LINKS(BIN)                                                                         \
    "CREATE TABLE magic_links ("                                                                   \
    " token_hash " BIN " PRIMARY KEY,"                                                             \
    " email_key TEXT NOT NULL,"                                                                    \
    " email TEXT NOT NULL,"                                                                        \
    " created_at BIGINT NOT NULL,"                                                                 \
    " expires_at BIGINT NOT NULL,"                                                                 \
    " used_at BIGINT);"
#define GH_MIG11_IDEM(BIN)                                                                         \
    "CREATE TABLE idempotency ("                                                                   \
    " id TEXT PRIMARY KEY,"                                                                        \
    " body_mac " BIN " NOT NULL,"                                                                  \
    " status INTEGER NOT NULL DEFAULT 0,"                                                          \
    " response_sealed TEXT,"                                                                       \
    " created_at BIGINT NOT NULL);"
#define GH_MIG15_PROBE(BIN)                                                                        \
    "CREATE TABLE health_probe (id INTEGER PRIMARY KEY CHECK (id = 1),"                            \
    " written_at BIGINT NOT NULL, pad " BIN " NOT NULL);"
/* The change feed (sessions/changes.h). SEQ is the backend's increasing
 * key that is never reused, even after the newest rows are pruned (SQLite:
 * AUTOINCREMENT; PostgreSQL: an identity column). */
#define GH_MIG16_EVENTS(SEQ)                                                                       \
    "CREATE TABLE change_events ("                                                                 \
    " seq " SEQ ","                                                                                \
    " kind TEXT NOT NULL,"                                                                         \
    " user_id TEXT NOT NULL DEFAULT '',"                                                           \
    " session_id TEXT NOT NULL DEFAULT '',"                                                        \
    " text_value TEXT NOT NULL DEFAULT '',"                                                        \
    " int_value BIGINT NOT NULL DEFAULT 0,"                                                        \
    " origin TEXT NOT NULL,"                                                                       \
    " created_at BIGINT NOT NULL);"                                                                \
    "CREATE INDEX change_events_created ON change_events(created_at);"
/* Single-use nonces of the native-app sign-in flow, stored by SHA-256. */
#define GH_MIG18_NONCES(BIN)                                                                       \
    "CREATE TABLE oauth_nonces ("                                                                  \
    " nonce_hash " BIN " PRIMARY KEY,"                                                             \
    " provider TEXT NOT NULL,"                                                                     \
    " expires_at BIGINT NOT NULL,"                                                                 \
    " used_at BIGINT);"                                                                            \
    "CREATE INDEX oauth_nonces_expires ON oauth_nonces(expires_at);"

/* The three statement triggers of the append-only rules on audit_log
 * (migration 3, and again on the partitioned table of migration 21). */
#define GH_AUDIT_PG_TRIGGERS                                                                       \
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"                                \
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"                                \
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"                                \
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"                                \
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"                            \
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"

/* Migration 3's PostgreSQL part: the append-only rules of audit_log. */
#define GH_MIG3_PG_TRIGGERS                                                                        \
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$"             \
    " DECLARE gate INTEGER;"                                                                       \
    " BEGIN"                                                                                       \
    "  IF TG_OP = 'DELETE' THEN"                                                                   \
    "   EXECUTE format('SELECT open FROM %I.audit_gate WHERE id = 1', TG_TABLE_SCHEMA) INTO gate;" \
    "   IF gate = 1 THEN RETURN NULL; END IF;"                                                     \
    "  END IF;"                                                                                    \
    "  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';"       \
    " END $fn$;" GH_AUDIT_PG_TRIGGERS

/* Migration 21's PostgreSQL part (docs/audit.md, "Retention on
 * PostgreSQL"). audit_partitioning.block: ids per partition. The old table
 * becomes the partition audit_log_p0 (attaching it scans it once to check
 * its bound) and each partition is named after its first id. The three
 * statement triggers go on the parent and on every partition: a
 * statement that names a partition fires only that partition's triggers.
 * Two functions run as the owner (SECURITY DEFINER), so that the runtime
 * and retention roles never own a table; they take no name or SQL from
 * the caller, and their search path is the tables' schema, set below
 * once the schema is known:
 *  - audit_log_extend() (gatehouse_runtime: serve's upkeep) creates the
 *    partitions up to two blocks beyond the one holding the newest id;
 *  - audit_log_drop_through(upto) (gatehouse_retention: prune) drops, while
 *    the gate is open, the partitions whose ids are all <= upto, never the
 *    newest row, and returns how many rows they held. */
/* The three statement triggers on the partition named by the PL/pgSQL
 * variable rel, in the schema s. */
#define GH_MIG21_PART_TRIGGERS                                                                     \
    "   EXECUTE format('CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON %I.%I"                 \
    " FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_log_append_only()', s, rel, s);"                \
    "   EXECUTE format('CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON %I.%I"                 \
    " FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_log_append_only()', s, rel, s);"                \
    "   EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I.%I"             \
    " FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_log_append_only()', s, rel, s);"
/* The schema of audit_log, into s: DDL in the functions names it (their
 * search path starts with pg_catalog, where CREATE would otherwise go). */
#define GH_MIG21_SCHEMA                                                                            \
    "  SELECT n.nspname INTO s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"      \
    "   WHERE c.oid = 'audit_log'::regclass;"
/* The partitions of audit_log as c, and the upper bound of c (its text
 * reads FOR VALUES FROM (..) TO ('n')). */
#define GH_MIG21_PARTS                                                                             \
    " pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"                                         \
    " WHERE i.inhparent = 'audit_log'::regclass"
#define GH_MIG21_UPPER                                                                             \
    " substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''?(-?[0-9]+)''?\\)')::bigint"
#define GH_MIG21_TABLE                                                                             \
    "CREATE TABLE audit_partitioning (id INTEGER PRIMARY KEY CHECK (id = 1),"                      \
    " block BIGINT NOT NULL CHECK (block >= 2));"                                                  \
    "INSERT INTO audit_partitioning (id, block) VALUES (1, 10000000);"                             \
    "DROP TRIGGER audit_log_no_update ON audit_log;"                                               \
    "DROP TRIGGER audit_log_no_delete ON audit_log;"                                               \
    "DROP TRIGGER audit_log_no_truncate ON audit_log;"                                             \
    "ALTER TABLE audit_log RENAME TO audit_log_p0;"                                                \
    "ALTER INDEX audit_log_pkey RENAME TO audit_log_p0_pkey;"                                      \
    "ALTER INDEX audit_log_actor RENAME TO audit_log_p0_actor;"                                    \
    "ALTER INDEX audit_log_target RENAME TO audit_log_p0_target;"                                  \
    "CREATE TABLE audit_log ("                                                                     \
    " id BIGINT PRIMARY KEY,"                                                                      \
    " occurred_at TEXT NOT NULL,"                                                                  \
    " actor TEXT NOT NULL,"                                                                        \
    " action TEXT NOT NULL,"                                                                       \
    " target TEXT NOT NULL,"                                                                       \
    " ip TEXT NOT NULL,"                                                                           \
    " user_agent TEXT NOT NULL,"                                                                   \
    " request_id TEXT NOT NULL,"                                                                   \
    " details TEXT NOT NULL,"                                                                      \
    " prev_hash TEXT NOT NULL,"                                                                    \
    " hash TEXT NOT NULL) PARTITION BY RANGE (id);"                                                \
    "CREATE INDEX audit_log_actor ON audit_log(actor, id);"                                        \
    "CREATE INDEX audit_log_target ON audit_log(target, id);" GH_AUDIT_PG_TRIGGERS
/* The old table, whole, up to the block boundary past its newest id. */
#define GH_MIG21_ATTACH                                                                            \
    "DO $mig$ DECLARE s TEXT; rel TEXT := 'audit_log_p0'; b BIGINT; newest BIGINT;"                \
    " BEGIN" GH_MIG21_SCHEMA "  SELECT block INTO b FROM audit_partitioning WHERE id = 1;"         \
    "  SELECT MAX(id) INTO newest FROM audit_log_p0;"                                              \
    "  EXECUTE format('ALTER TABLE audit_log ATTACH PARTITION audit_log_p0"                        \
    " FOR VALUES FROM (MINVALUE) TO (%s)',"                                                        \
    "   (COALESCE(newest, 0) / b + 1) * b);" GH_MIG21_PART_TRIGGERS " END $mig$;"
/* Two passes: a cheap look first; the second under the row lock of
 * audit_partitioning (one extend at a time, replicas included). */
#define GH_MIG21_EXTEND                                                                            \
    "CREATE FUNCTION audit_log_extend() RETURNS INTEGER LANGUAGE plpgsql SECURITY DEFINER"         \
    " SET lock_timeout = '5s' AS $fn$"                                                             \
    " DECLARE s TEXT; b BIGINT; want BIGINT; top BIGINT; hi BIGINT; rel TEXT;"                     \
    "  made INTEGER := 0;"                                                                         \
    " BEGIN" GH_MIG21_SCHEMA "  FOR pass IN 1..2 LOOP"                                             \
    "   IF pass = 2 THEN PERFORM 1 FROM audit_partitioning WHERE id = 1 FOR UPDATE; END IF;"       \
    "   SELECT block INTO b FROM audit_partitioning WHERE id = 1;"                                 \
    "   SELECT (COALESCE(MAX(id), 0) / b + 3) * b INTO want FROM audit_log;"                       \
    "   SELECT COALESCE(MAX(" GH_MIG21_UPPER "), 0) INTO top FROM" GH_MIG21_PARTS ";"              \
    "   IF top >= want THEN RETURN made; END IF;"                                                  \
    "   EXIT WHEN pass = 2;"                                                                       \
    "  END LOOP;"                                                                                  \
    "  WHILE top < want LOOP"                                                                      \
    "   hi := (top / b + 1) * b;"                                                                  \
    "   rel := 'audit_log_p' || top;"                                                              \
    "   EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.audit_log"                              \
    " FOR VALUES FROM (%s) TO (%s)', s, rel, s, top, hi);" GH_MIG21_PART_TRIGGERS                  \
    "   made := made + 1;"                                                                         \
    "   top := hi;"                                                                                \
    "  END LOOP;"                                                                                  \
    "  RETURN made;"                                                                               \
    " END $fn$;"
#define GH_MIG21_DROP                                                                              \
    "CREATE FUNCTION audit_log_drop_through(upto BIGINT) RETURNS BIGINT LANGUAGE plpgsql"          \
    " SECURITY DEFINER SET lock_timeout = '5s' AS $fn$"                                            \
    " DECLARE s TEXT; gate INTEGER; newest BIGINT; parts TEXT[]; rel TEXT; n BIGINT;"              \
    "  total BIGINT := 0;"                                                                         \
    " BEGIN" GH_MIG21_SCHEMA "  SELECT open INTO gate FROM audit_gate WHERE id = 1;"               \
    "  IF gate IS DISTINCT FROM 1 THEN"                                                            \
    "   RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';"      \
    "  END IF;"                                                                                    \
    "  SELECT MAX(id) INTO newest FROM audit_log;"                                                 \
    "  IF upto IS NULL OR newest IS NULL OR upto >= newest THEN"                                   \
    "   RAISE EXCEPTION 'audit_log keeps its newest row' USING ERRCODE = 'check_violation';"       \
    "  END IF;" /* counted first: the parent is locked from the first DETACH on */                 \
    "  SELECT COALESCE(array_agg(c.relname::text ORDER BY c.relname), '{}') INTO parts"            \
    "   FROM" GH_MIG21_PARTS " AND" GH_MIG21_UPPER " <= upto + 1;"                                 \
    "  FOREACH rel IN ARRAY parts LOOP"                                                            \
    "   EXECUTE format('SELECT COUNT(*) FROM %I.%I', s, rel) INTO n;"                              \
    "   total := total + n;"                                                                       \
    "  END LOOP;"                                                                                  \
    "  FOREACH rel IN ARRAY parts LOOP"                                                            \
    "   EXECUTE format('ALTER TABLE %I.audit_log DETACH PARTITION %I.%I', s, s, rel);"             \
    "   EXECUTE format('DROP TABLE %I.%I', s, rel);"                                               \
    "  END LOOP;"                                                                                  \
    "  RETURN total;"                                                                              \
    " END $fn$;"
/* The functions' search path: pg_catalog, then the tables' schema (known
 * only now), pg_temp last (a temporary table cannot stand in). */
#define GH_MIG21_PATHS                                                                             \
    "DO $mig$ DECLARE s TEXT; BEGIN" GH_MIG21_SCHEMA                                               \
    "  EXECUTE format('ALTER FUNCTION audit_log_extend() SET search_path = pg_catalog, %I,"        \
    " pg_temp', s);"                                                                               \
    "  EXECUTE format('ALTER FUNCTION audit_log_drop_through(BIGINT) SET search_path ="            \
    " pg_catalog, %I, pg_temp', s);"                                                               \
    " END $mig$;"                                                                                  \
    "REVOKE ALL ON FUNCTION audit_log_extend(), audit_log_drop_through(BIGINT) FROM PUBLIC;"
#define GH_MIG21_PG                                                                                \
    GH_MIG21_TABLE GH_MIG21_ATTACH GH_MIG21_EXTEND GH_MIG21_DROP GH_MIG21_PATHS                    \
        "SELECT audit_log_extend();"

/* An entry without .compatible is 0, not compatible: the safe default
 * for a migration nobody judged. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct store_migration store_migrations[] = {
    {1, "accounts and sessions",
     "CREATE TABLE users ("
     " id TEXT PRIMARY KEY,"
     " email TEXT NOT NULL,"
     " email_key TEXT NOT NULL UNIQUE,"
     " password_hash TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " updated_at BIGINT NOT NULL,"
     " tokens_invalidated_at BIGINT NOT NULL DEFAULT 0);"
     "CREATE TABLE sessions ("
     " id TEXT PRIMARY KEY,"
     " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     " created_at BIGINT NOT NULL,"
     " last_used_at BIGINT NOT NULL,"
     " expires_at BIGINT NOT NULL,"
     " revoked_at BIGINT,"
     " ip TEXT NOT NULL DEFAULT '',"
     " user_agent TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX sessions_user ON sessions(user_id, created_at);",
     GH_MIG1_REFRESH("BLOB"), GH_MIG1_REFRESH("BYTEA")},
    {2, "vault keys and signing keys",
     "CREATE TABLE vault_keys ("
     " kid TEXT PRIMARY KEY,"
     " wrapped TEXT NOT NULL,"
     " created_at BIGINT NOT NULL);"
     "CREATE TABLE signing_keys ("
     " kid TEXT PRIMARY KEY,"
     " alg TEXT NOT NULL DEFAULT 'ES256',"
     " private_sealed TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " activates_at BIGINT NOT NULL);",
     NULL, NULL},
    {3, "audit log",
     "CREATE TABLE audit_log ("
     " id BIGINT PRIMARY KEY,"
     " occurred_at TEXT NOT NULL,"
     " actor TEXT NOT NULL,"
     " action TEXT NOT NULL,"
     " target TEXT NOT NULL,"
     " ip TEXT NOT NULL,"
     " user_agent TEXT NOT NULL,"
     " request_id TEXT NOT NULL,"
     " details TEXT NOT NULL,"
     " prev_hash TEXT NOT NULL,"
     " hash TEXT NOT NULL);"
     "CREATE INDEX audit_log_actor ON audit_log(actor, id);"
     "CREATE INDEX audit_log_target ON audit_log(target, id);"
     "CREATE TABLE audit_gate (id INTEGER PRIMARY KEY CHECK (id = 1), open INTEGER NOT NULL);"
     "INSERT INTO audit_gate (id, open) VALUES (1, 0);",
     /* Append-only, enforced by the database: no UPDATE ever; DELETE only
      * inside the retention transaction, which opens the gate. */
     "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
     " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
     "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
     " WHEN (SELECT open FROM audit_gate WHERE id = 1) IS NOT 1"
     " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
     /* The same rules as PL/pgSQL trigger functions, stricter: statement
      * triggers, so an UPDATE or DELETE is refused even when it matches no
      * row, and TRUNCATE (which fires no DELETE trigger) is refused too.
      * The gate is read in the table's own schema, never through the
      * search path (a temporary table named audit_gate cannot stand in).
      * This text was written by issue 14 before any PostgreSQL database
      * existed: no applied migration was edited
      * (docs/decisions/0043-roles-and-chain-lock.md). */
     GH_MIG3_PG_TRIGGERS},
    {4, "totp and backup codes",
     "CREATE TABLE mfa_totp ("
     " user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
     " secret_sealed TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " confirmed_at BIGINT,"
     " last_step BIGINT NOT NULL DEFAULT -1);",
     GH_MIG4_CODES("BLOB"), GH_MIG4_CODES("BYTEA")},
    {5, "restricted sessions",
     "ALTER TABLE sessions ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;", NULL, NULL},
    {6, "mail queue and magic links",
     "CREATE TABLE mail_queue ("
     " id TEXT PRIMARY KEY,"
     " to_addr TEXT NOT NULL,"
     " message_sealed TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " next_attempt_at BIGINT NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " sent_at BIGINT,"
     " last_error TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX mail_queue_due ON mail_queue(sent_at, next_attempt_at);",
     GH_MIG6_LINKS("BLOB"), GH_MIG6_LINKS("BYTEA"), .compatible = 1},
    {7, "link purposes",
     "ALTER TABLE magic_links ADD COLUMN purpose TEXT NOT NULL DEFAULT 'signin';", NULL, NULL},
    {8, "email verification", "ALTER TABLE users ADD COLUMN email_verified_at BIGINT;", NULL, NULL},
    {9, "links by account",
     "CREATE INDEX magic_links_account ON magic_links (email_key, purpose, used_at);", NULL, NULL,
     .compatible = 1},
    {10, "first factor of a sign-in challenge",
     "ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'password';", NULL,
     NULL, .compatible = 1},
    /* id: HMAC of (user, route, key); the response is sealed (it may hold
     * backup codes or a TOTP secret); status 0 while the first request runs. */
    {11, "idempotency keys", NULL, GH_MIG11_IDEM("BLOB"), GH_MIG11_IDEM("BYTEA"), .compatible = 1},
    /* Roles: "admin" matters to GATEHOUSE_MFA_REQUIRED=admins; set by the CLI. */
    {12, "user roles", "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';", NULL,
     NULL},
    /* 'bearer' or 'cookie': a session's tokens are accepted only the way
     * it was started (docs/decisions/0011-cookie-sessions.md). */
    {13, "session modes", "ALTER TABLE sessions ADD COLUMN mode TEXT NOT NULL DEFAULT 'bearer';",
     NULL, NULL},
    /* When the session's sign-in passed a second factor (0: it did not):
     * a passwordless account's recent proof for changing its factor. */
    {14, "second factor at sign-in",
     "ALTER TABLE sessions ADD COLUMN mfa_at BIGINT NOT NULL DEFAULT 0;", NULL, NULL,
     .compatible = 1},
    /* One row, rewritten by the readiness probe while writes fail
     * (store/health.h): a real write, not one rolled back. */
    {15, "health probe", NULL, GH_MIG15_PROBE("BLOB"), GH_MIG15_PROBE("BYTEA"), .compatible = 1},
    /* What changed the auth cache's state, appended in the same transaction
     * as the change: a running server applies what the CLI (and later other
     * replicas) did (docs/decisions/0025-feed-change-events.md). */
    {16, "change events", NULL, GH_MIG16_EVENTS("INTEGER PRIMARY KEY AUTOINCREMENT"),
     GH_MIG16_EVENTS("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")},
    /* An "email_change" link carries the address the account changes to
     * (as typed, domain lower-cased), in plain text like users.email and
     * magic_links.email: it becomes users.email once confirmed
     * (docs/decisions/0033-email-email-change.md). '' for other links. */
    {17, "email change links",
     "ALTER TABLE magic_links ADD COLUMN new_email TEXT NOT NULL DEFAULT '';", NULL, NULL,
     .compatible = 1},
    /* An account's identities at OpenID providers, keyed by (provider,
     * sub), never by address; email: what the provider said at link time
     * (docs/decisions/0037-identities-federated-accounts.md). */
    {18, "federated identities and oauth nonces",
     "CREATE TABLE identities ("
     " provider TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     " email TEXT NOT NULL DEFAULT '',"
     " created_at BIGINT NOT NULL,"
     " last_used_at BIGINT NOT NULL,"
     " PRIMARY KEY (provider, subject));"
     "CREATE INDEX identities_user ON identities(user_id, created_at);",
     GH_MIG18_NONCES("BLOB"), GH_MIG18_NONCES("BYTEA")},
    /* A display name ('' none): brought by an import (gatehouse import) or
     * given by an OpenID provider (docs/decisions/0039-import-accounts.md). */
    {19, "user names", "ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';", NULL, NULL,
     .compatible = 1},
/* Each migration's flag, recorded (docs/upgrades.md): the column (which
 * PostgreSQL's schema_migrations has from the start, hence IF NOT
 * EXISTS), then the flags of those applied before it, copied from this
 * table (a unit test compares them). From this version on a backend
 * records the flag with each migration it applies. Older releases read
 * schema_migrations by version only. */
#define GH_MIG20_FLAGS "6, 9, 10, 11, 14, 15, 17, 19"
#define GH_MIG20(ADD)                                                                              \
    ADD " compatible INTEGER NOT NULL DEFAULT 0;"                                                  \
        "UPDATE schema_migrations SET compatible = 1 WHERE version IN (" GH_MIG20_FLAGS ");"
    {20, "compatible flags", NULL, GH_MIG20("ALTER TABLE schema_migrations ADD COLUMN"),
     GH_MIG20("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS"), .compatible = 1},
    /* PostgreSQL: audit_log becomes a table partitioned by ranges of id, so
     * that retention drops whole old partitions instead of deleting rows
     * one by one (docs/decisions/0048-audit-partitions.md). SQLite
     * records the version only. Compatible: the release before inserts,
     * reads and prunes (DELETE behind the gate) through the parent as
     * before, and the partitions made here last it 20 million ids. */
    {21, "audit_log partitioned in id blocks", NULL, NULL, GH_MIG21_PG, .compatible = 1},
};
#pragma GCC diagnostic pop

#define STORE_MIGRATION_COUNT (sizeof store_migrations / sizeof store_migrations[0])
/* schema_migrations has the compatible column once this one is applied. */
#define STORE_MIGRATION_COMPAT_COLUMN 20

#endif
