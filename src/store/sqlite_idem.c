/* SQLite backend: idempotent requests, pruning expired rows, clearing the
 * single-use ones (gatehouse restore), and the readiness probe's write. */
#include "store/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

enum gh_err sq_health_probe(struct store_conn *c, int64_t now)
{
    return SQ_RUN(c, S_HEALTH_PROBE, "health probe", SQ_INT(now));
}

enum gh_err sq_prune(struct store_conn *c, int64_t before)
{
    enum gh_err rc;
    if ((rc = SQ_RUN(c, S_PRUNE_RT, "prune refresh", SQ_INT(before)))) return rc;
    if ((rc = SQ_RUN(c, S_PRUNE_SESS, "prune sessions", SQ_INT(before)))) return rc;
    /* Sent mail a day on; undeliverable mail after a week; dead links. */
    if ((rc = SQ_RUN(c, S_PRUNE_MAIL, "prune mail", SQ_INT(before)))) return rc;
    if ((rc = SQ_RUN(c, S_PRUNE_MAGIC, "prune magic links", SQ_INT(before)))) return rc;
    if ((rc = SQ_RUN(c, S_PRUNE_CHALLENGES, "prune mfa challenges", SQ_INT(before)))) return rc;
    if ((rc = SQ_RUN(c, S_PRUNE_NONCES, "prune oauth nonces", SQ_INT(before)))) return rc;
    /* kept 24 h: before is a day ago */
    return SQ_RUN(c, S_PRUNE_IDEM, "prune idempotency", SQ_INT(before));
}

/* One DELETE of the restore's clearing; *n: the rows it deleted. */
static enum gh_err clear_one(struct store_conn *c, enum stmt_id id, const char *what, int64_t *n)
{
    enum gh_err rc = sq_run(c, id, what, NULL, 0);
    *n = rc ? 0 : sqlite3_changes64(c->db);
    return rc;
}

static enum gh_err clear_fn(struct store_conn *c, const void *arg)
{
    struct store_single_use_cleared *o = (struct store_single_use_cleared *)arg;
    enum gh_err rc;
    if ((rc = clear_one(c, S_CLEAR_LINKS, "clear links", &o->links))) return rc;
    if ((rc = clear_one(c, S_CLEAR_CHALLENGES, "clear challenges", &o->challenges))) return rc;
    if ((rc = clear_one(c, S_CLEAR_NONCES, "clear nonces", &o->nonces))) return rc;
    if ((rc = clear_one(c, S_CLEAR_IDEM, "clear idempotency", &o->idem))) return rc;
    return clear_one(c, S_CLEAR_MAIL, "clear unsent mail", &o->mail);
}

enum gh_err sq_clear_single_use(struct store_conn *c, struct store_single_use_cleared *out)
{
    *out = (struct store_single_use_cleared){0};
    enum gh_err rc = sq_in_tx(c, NULL, clear_fn, out);
    if (rc) *out = (struct store_single_use_cleared){0};
    return rc;
}

enum gh_err sq_idem_claim(struct store_conn *c, const char *id, const uint8_t mac[32], int64_t now,
                          struct store_idem *out)
{
    enum gh_err rc = SQ_RUN(c, S_IDEM_INSERT, "idempotency claim", SQ_TEXT(id), SQ_BLOB(mac, 32),
                            SQ_INT(now), SQ_INT(now - STORE_IDEM_STALE_S));
    if (rc) return rc;
    if (sqlite3_changes(c->db) == 1) return GH_OK;
    sqlite3_stmt *s = SQ_QUERY(c, S_IDEM_GET, SQ_TEXT(id));
    if (!s) return GH_ERR_INTERNAL;
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
        rc = sq_fail(c, "idempotency get");
    }
    done(s);
    return rc;
}

enum gh_err sq_idem_complete(struct store_conn *c, const char *id, int status, const char *sealed)
{
    return SQ_RUN(c, S_IDEM_COMPLETE, "idempotency complete", SQ_TEXT(id), SQ_INT(status),
                  SQ_TEXT(sealed));
}

enum gh_err sq_idem_release(struct store_conn *c, const char *id)
{
    return sq_delete_by_id(c, S_IDEM_DELETE, id);
}
