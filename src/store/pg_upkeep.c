/* PostgreSQL backend: pruning expired rows, and the readiness probe's
 * write (store/health.h). */
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
/* A real committed write (WAL flushed at COMMIT), not one rolled back. */
static const char SQL_HEALTH_PROBE[] =
    "INSERT INTO health_probe (id, written_at, pad) VALUES (1, $1, decode(md5(random()::text),"
    " 'hex')) ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at,"
    " pad = excluded.pad";

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
