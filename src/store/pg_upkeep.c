/* PostgreSQL backend: pruning expired rows, clearing the single-use ones
 * (gatehouse restore), the readiness probe's write (store/health.h), and
 * the audit log's partitions ahead of its newest row (migration 21). */
#include "store/pg_internal.h"

static const char SQL_PRUNE_RT[] = "DELETE FROM refresh_tokens WHERE expires_at < $1";
static const char SQL_PRUNE_SESS[] = "DELETE FROM sessions WHERE expires_at < $1";
/* Sent mail a day on; undeliverable mail after a week. */
static const char SQL_PRUNE_MAIL[] = "DELETE FROM mail_queue WHERE sent_at < $1"
                                     " OR (sent_at IS NULL AND created_at < $1 - 604800)";
static const char SQL_PRUNE_MAGIC[] = "DELETE FROM magic_links WHERE expires_at < $1";
static const char SQL_PRUNE_CHALLENGES[] = "DELETE FROM mfa_challenges WHERE expires_at < $1";
static const char SQL_PRUNE_NONCES[] = "DELETE FROM oauth_nonces WHERE expires_at < $1";
static const char SQL_PRUNE_IDEM[] = "DELETE FROM idempotency WHERE created_at < $1";
/* gatehouse restore: every single-use row, spent or not, and unsent mail. */
static const char SQL_CLEAR_LINKS[] = "DELETE FROM magic_links";
static const char SQL_CLEAR_CHALLENGES[] = "DELETE FROM mfa_challenges";
static const char SQL_CLEAR_NONCES[] = "DELETE FROM oauth_nonces";
static const char SQL_CLEAR_IDEM[] = "DELETE FROM idempotency";
static const char SQL_CLEAR_MAIL[] = "DELETE FROM mail_queue WHERE sent_at IS NULL";
/* A real committed write (WAL flushed at COMMIT), not one rolled back. */
static const char SQL_HEALTH_PROBE[] =
    "INSERT INTO health_probe (id, written_at, pad) VALUES (1, $1, decode(md5(random()::text),"
    " 'hex')) ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at,"
    " pad = excluded.pad";

/* Runs as the owner (SECURITY DEFINER, migration 21): the runtime role
 * may execute it and owns nothing. */
static const char SQL_AUDIT_EXTEND[] = "SELECT audit_log_extend()";

enum gh_err pg_audit_extend(struct store_conn *c, int *created)
{
    PGresult *r = NULL;
    *created = 0;
    enum gh_err rc = pg_exec(c, SQL_AUDIT_EXTEND, "audit partitions", NULL, 0, &r, NULL);
    if (rc) return rc;
    if (pg_rows(r) == 1) *created = (int)pg_int(r, 0, 0);
    PQclear(r);
    return GH_OK;
}

enum gh_err pg_health_probe(struct store_conn *c, int64_t now)
{
    return PG_RUN(c, SQL_HEALTH_PROBE, "health probe", PG_INT(now));
}

enum gh_err pg_prune(struct store_conn *c, int64_t before)
{
    enum gh_err rc;
    if ((rc = PG_RUN(c, SQL_PRUNE_RT, "prune refresh", PG_INT(before)))) return rc;
    if ((rc = PG_RUN(c, SQL_PRUNE_SESS, "prune sessions", PG_INT(before)))) return rc;
    if ((rc = PG_RUN(c, SQL_PRUNE_MAIL, "prune mail", PG_INT(before)))) return rc;
    if ((rc = PG_RUN(c, SQL_PRUNE_MAGIC, "prune magic links", PG_INT(before)))) return rc;
    if ((rc = PG_RUN(c, SQL_PRUNE_CHALLENGES, "prune mfa challenges", PG_INT(before)))) return rc;
    if ((rc = PG_RUN(c, SQL_PRUNE_NONCES, "prune oauth nonces", PG_INT(before)))) return rc;
    /* kept 24 h: before is a day ago */
    return PG_RUN(c, SQL_PRUNE_IDEM, "prune idempotency", PG_INT(before));
}

static enum gh_err clear_fn(struct store_conn *c, const void *arg)
{
    struct store_single_use_cleared *o = (struct store_single_use_cleared *)arg;
    enum gh_err rc; /* no parameters: pg_exec itself, PG_VALS needs one */
    if ((rc = pg_exec(c, SQL_CLEAR_LINKS, "clear links", NULL, 0, NULL, &o->links))) return rc;
    if ((rc = pg_exec(c, SQL_CLEAR_CHALLENGES, "clear challenges", NULL, 0, NULL, &o->challenges)))
        return rc;
    if ((rc = pg_exec(c, SQL_CLEAR_NONCES, "clear nonces", NULL, 0, NULL, &o->nonces))) return rc;
    if ((rc = pg_exec(c, SQL_CLEAR_IDEM, "clear idempotency", NULL, 0, NULL, &o->idem))) return rc;
    return pg_exec(c, SQL_CLEAR_MAIL, "clear unsent mail", NULL, 0, NULL, &o->mail);
}

enum gh_err pg_clear_single_use(struct store_conn *c, struct store_single_use_cleared *out)
{
    *out = (struct store_single_use_cleared){0};
    enum gh_err rc = pg_in_tx(c, NULL, clear_fn, out);
    if (rc) *out = (struct store_single_use_cleared){0};
    return rc;
}
