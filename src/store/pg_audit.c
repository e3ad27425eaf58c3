/* PostgreSQL backend: the audit log (chain head and insert, append, list,
 * scan, bounds, prune). The chain itself is computed by store/backend.c;
 * the SQL mirrors sqlite_sql.c's S_AUDIT_* statements.
 *
 * One chain under concurrent writers: every transaction that appends takes
 * pg_advisory_xact_lock(PG_LOCK_CHAIN) before it reads the last row, and
 * holds it until it commits or rolls back. The append itself is held back
 * to right before COMMIT (pg_tail.c), after every row lock the transaction
 * takes: a transaction holding the global lock never waits on a row. Under READ COMMITTED the read
 * that follows the lock is a new statement with a new snapshot, so it sees
 * the row the previous holder committed (PostgreSQL makes a commit visible
 * before it releases the transaction's locks): ids stay 1, 2, 3, ... with
 * no fork, whichever replica writes. */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_AUDIT_LAST[] =
    "SELECT id, hash, occurred_at FROM audit_log ORDER BY id DESC LIMIT 1";
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log (id, occurred_at, actor, action, target, ip, user_agent, request_id,"
    " details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
static const char SQL_AUDIT_LIST[] =
    "SELECT id, occurred_at, actor, action, target, ip, user_agent, request_id, details,"
    " prev_hash, hash FROM audit_log WHERE (actor = $1 OR target = $1) AND id < $2"
    " ORDER BY id DESC LIMIT $3";
/* A page of the scan: keyset paging by id, so a million rows are never
 * held at once (the verifier walks the whole log). */
static const char SQL_AUDIT_SCAN[] =
    "SELECT id, occurred_at, actor, action, target, ip, user_agent, request_id, details,"
    " prev_hash, hash FROM audit_log WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3";
static const char SQL_AUDIT_BOUNDS[] = "SELECT MIN(id), MAX(id), COUNT(*) FROM audit_log";
/* Retention. The gate row is locked first: concurrent prunes run one
 * after the other, each reading the range after the previous committed. */
static const char SQL_AUDIT_GATE_LOCK[] = "SELECT open FROM audit_gate WHERE id = 1 FOR UPDATE";
static const char SQL_AUDIT_GATE[] = "UPDATE audit_gate SET open = $1 WHERE id = 1";
/* Never the newest row: the chain must go on from somewhere. */
static const char SQL_AUDIT_PRUNE_LAST[] =
    "SELECT MAX(id), COUNT(*) FROM audit_log WHERE id < (SELECT COALESCE(MIN(id),"
    " 9223372036854775807) FROM audit_log WHERE occurred_at >= $1)"
    " AND id < (SELECT MAX(id) FROM audit_log)";
/* Migration 21: the first id past the partitions that hold only ids <= $1
 * (0: none; the catalog's text of a bound is FOR VALUES FROM (..) TO ('n')):
 * those go whole (audit_log_drop_through, only while the gate is open: no
 * row by row delete), the rest of the range row by row. */
static const char SQL_AUDIT_DROP_BOUND[] =
    "SELECT COALESCE(MAX(b), 0) FROM (SELECT substring(pg_get_expr(c.relpartbound, c.oid)"
    " FROM 'TO \\(''?(-?[0-9]+)''?\\)')::bigint AS b FROM pg_inherits i JOIN pg_class c"
    " ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass) p WHERE b <= $1 + 1";
static const char SQL_AUDIT_DROP_THROUGH[] = "SELECT audit_log_drop_through($1)";
static const char SQL_AUDIT_PRUNE[] = "DELETE FROM audit_log WHERE id >= $1 AND id <= $2";
static const char SQL_AUDIT_HASH_OF[] = "SELECT hash FROM audit_log WHERE id = $1";

/* Rows per page of a scan: about 1 MB of text at typical row sizes. */
#define PG_SCAN_PAGE 2000

enum gh_err pg_chain_head(struct store_conn *c, struct store_chain_head *out)
{
    /* One order for the two global locks, PG_LOCK_EVENTS then
     * PG_LOCK_CHAIN: a transaction may append an audit row and then a
     * change event (a federated sign-up verifies the address after its
     * signup row) while another adds an event, then its row (a sign-out);
     * taking them in opposite orders would deadlock. Run from
     * pg_tail_flush only, after every row lock of the transaction, which
     * takes PG_LOCK_EVENTS first when the transaction has events: so the
     * chain's lock is always the last (an audit row alone, a sign-in,
     * takes only this one). Then the read, in a statement of its own: a
     * snapshot taken after the lock was granted. */
    enum gh_err rc = pg_lock_xact(c, PG_LOCK_CHAIN);
    if (rc) return rc;
    PGresult *r = NULL;
    if ((rc = PG_QUERY(c, SQL_AUDIT_LAST, "audit last", &r))) return rc;
    if (pg_rows(r) == 1) {
        out->id = pg_int(r, 0, 0);
        pg_text(r, 0, 1, out->hash, sizeof out->hash);
        pg_text(r, 0, 2, out->occurred_at, sizeof out->occurred_at);
    }
    PQclear(r);
    return GH_OK;
}

enum gh_err pg_chain_insert(struct store_conn *c, const struct audit_row *row, const char *prev,
                            const char *hash)
{
    return PG_RUN(c, SQL_AUDIT_INSERT, "audit insert", PG_INT(row->id), PG_TEXT(row->occurred_at),
                  PG_TEXT(row->actor), PG_TEXT(row->action), PG_TEXT(row->target), PG_TEXT(row->ip),
                  PG_TEXT(row->user_agent), PG_TEXT(row->request_id), PG_TEXT(row->details),
                  PG_TEXT(prev), PG_TEXT(hash));
}

enum gh_err pg_audit_append(struct store_conn *c, const struct store_audit *ev)
{
    return pg_in_tx(c, ev, NULL, NULL);
}

/* A view of row i of r (the columns of SQL_AUDIT_LIST / _SCAN): the
 * strings point into r and live as long as it. */
static void read_audit_view(const PGresult *r, int i, struct store_audit_row *v)
{
    v->id = pg_int(r, i, 0);
    v->occurred_at = (char *)pg_str(r, i, 1);
    v->actor = (char *)pg_str(r, i, 2);
    v->action = (char *)pg_str(r, i, 3);
    v->target = (char *)pg_str(r, i, 4);
    v->ip = (char *)pg_str(r, i, 5);
    v->user_agent = (char *)pg_str(r, i, 6);
    v->request_id = (char *)pg_str(r, i, 7);
    v->details = (char *)pg_str(r, i, 8);
    pg_text(r, i, 9, v->prev_hash, sizeof v->prev_hash);
    pg_text(r, i, 10, v->hash, sizeof v->hash);
}

enum gh_err pg_audit_list(struct store_conn *c, const char *subject, int64_t before,
                          struct store_audit_row *out, size_t max, size_t *n)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_AUDIT_LIST, "audit list", &r, PG_TEXT(subject),
                              PG_INT(before > 0 ? before : INT64_MAX), PG_INT((int64_t)max));
    if (rc) return rc;
    size_t i = 0, rows = (size_t)pg_rows(r);
    for (; i < max && i < rows; i++) {
        struct store_audit_row v;
        read_audit_view(r, (int)i, &v);
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
        if (!o->occurred_at || !o->actor || !o->action || !o->target || !o->ip || !o->user_agent ||
            !o->request_id || !o->details) {
            rc = GH_ERR_NOMEM;
            i++;
            break;
        }
    }
    PQclear(r);
    if (rc) {
        for (size_t j = 0; j < i; j++)
            store_audit_row_clear(&out[j]);
        return rc;
    }
    *n = i;
    return GH_OK;
}

enum gh_err pg_audit_scan(struct store_conn *c, int64_t after, int64_t upto, store_audit_scan_fn fn,
                          void *arg)
{
    int64_t last = after, end = upto > 0 ? upto : INT64_MAX;
    for (;;) {
        PGresult *r = NULL;
        enum gh_err rc = PG_QUERY(c, SQL_AUDIT_SCAN, "audit scan", &r, PG_INT(last), PG_INT(end),
                                  PG_INT(PG_SCAN_PAGE));
        if (rc) return rc;
        int rows = pg_rows(r), stop = 0;
        for (int i = 0; i < rows && !stop; i++) {
            struct store_audit_row v;
            read_audit_view(r, i, &v);
            last = v.id;
            stop = fn(arg, &v);
        }
        PQclear(r);
        if (stop || rows < PG_SCAN_PAGE) return GH_OK;
    }
}

/* Nothing to tune: the scan already reads page by page, and a pooled
 * connection's session settings would outlive this caller. */
void pg_tune_for_scan(struct store_conn *c)
{
    (void)c;
}

enum gh_err pg_audit_bounds(struct store_conn *c, int64_t *min, int64_t *max, int64_t *count)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_AUDIT_BOUNDS, "audit bounds", &r);
    if (rc) return rc;
    if (pg_rows(r) != 1) {
        PQclear(r);
        return GH_ERR_INTERNAL;
    }
    *min = pg_int(r, 0, 0);
    *max = pg_int(r, 0, 1);
    *count = pg_int(r, 0, 2);
    PQclear(r);
    return GH_OK;
}

struct prune_args {
    const char *before;
    const struct store_audit *ev;
    int64_t *deleted; /* set once the rows are gone */
};

static enum gh_err gate(struct store_conn *c, int open)
{
    return PG_RUN(c, SQL_AUDIT_GATE, "audit gate", PG_INT(open));
}

/* The retention transaction, as on SQLite: open the gate, delete from the
 * oldest end, close the gate, append the checkpoint (docs/audit.md). Here
 * whole partitions are dropped where they can be. Dropping one locks the
 * whole table (ACCESS EXCLUSIVE) until the commit, so the row by row part
 * goes first (beside appends), and the chain locks are taken before the
 * drop, in the appenders' order (pg_chain_head): an appender holding them
 * and waiting for the table while this prune holds the table and waits for
 * them (its checkpoint) would deadlock. */
static enum gh_err prune_step(struct store_conn *c, const void *arg)
{
    const struct prune_args *a = arg;
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_AUDIT_GATE_LOCK, "audit gate lock", &r);
    if (rc) return rc;
    PQclear(r);
    if ((rc = PG_QUERY(c, SQL_AUDIT_PRUNE_LAST, "audit prune range", &r, PG_TEXT(a->before))))
        return rc;
    int64_t upto = pg_rows(r) == 1 ? pg_int(r, 0, 0) : 0;
    int64_t count = pg_rows(r) == 1 ? pg_int(r, 0, 1) : 0;
    PQclear(r);
    if (count <= 0) return GH_OK;
    char cont[AUDIT_HASH_HEX + 1] = "", details[256];
    if ((rc = PG_QUERY(c, SQL_AUDIT_HASH_OF, "audit hash of", &r, PG_INT(upto)))) return rc;
    if (pg_rows(r) == 1) pg_text(r, 0, 0, cont, sizeof cont);
    PQclear(r);
    /* The checkpoint says where the remaining log starts and which hash
     * its first row continues from (docs/audit.md). */
    snprintf(details, sizeof details,
             "{\"continues_from\":\"%s\",\"first_kept_id\":%lld,\"deleted\":%lld}", cont,
             (long long)upto + 1, (long long)count);
    struct store_audit cp = *a->ev;
    cp.details = details;
    int64_t bound = -1, dropped = 0, gone = 0;
    if ((rc = gate(c, 1))) return rc;
    if ((rc = PG_QUERY(c, SQL_AUDIT_DROP_BOUND, "audit partitions", &r, PG_INT(upto)))) return rc;
    if (pg_rows(r) == 1) bound = pg_int(r, 0, 0);
    PQclear(r);
    if (bound < 0) return GH_ERR_INTERNAL;
    if ((rc = PG_COUNT(c, SQL_AUDIT_PRUNE, "audit prune", &gone, PG_INT(bound), PG_INT(upto))))
        return rc;
    if (bound > 0) {
        if ((rc = pg_lock_xact(c, PG_LOCK_EVENTS)) || (rc = pg_lock_xact(c, PG_LOCK_CHAIN)))
            return rc;
        dropped = -1;
        if ((rc = PG_QUERY(c, SQL_AUDIT_DROP_THROUGH, "audit drop partitions", &r, PG_INT(upto))))
            return rc;
        if (pg_rows(r) == 1) dropped = pg_int(r, 0, 0);
        PQclear(r);
        if (dropped < 0) return GH_ERR_INTERNAL;
    }
    /* The gate row lock keeps other prunes out; anything else deleting
     * rows meanwhile (by hand) makes the checkpoint wrong: refuse it. */
    if (dropped + gone != count) return GH_ERR_CONFLICT;
    if ((rc = gate(c, 0))) return rc;
    if ((rc = pg_append_audit(c, &cp))) return rc;
    *a->deleted = count;
    return GH_OK;
}

enum gh_err pg_audit_prune(struct store_conn *c, const char *before, const struct store_audit *ev,
                           int64_t *deleted)
{
    int64_t n = 0;
    struct prune_args a = {.before = before, .ev = ev, .deleted = &n};
    enum gh_err rc = pg_in_tx(c, NULL, prune_step, &a);
    *deleted = rc == GH_OK ? n : 0;
    return rc;
}
