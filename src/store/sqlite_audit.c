/* SQLite backend: the audit log (append, list, scan, bounds, prune). The
 * chain itself is computed by store/store.c. */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gh_err sq_audit_append(struct store_conn *c, const struct store_audit *ev)
{
    return sq_in_tx(c, ev, NULL, NULL);
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

enum gh_err sq_audit_list(struct store_conn *c, const char *subject, int64_t before,
                          struct store_audit_row *out, size_t max, size_t *n)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_AUDIT_LIST, SQ_TEXT(subject),
                               SQ_INT(before > 0 ? before : INT64_MAX), SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
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
    if (rc == GH_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = sq_fail(c, "audit list");
    if (rc) {
        for (size_t j = 0; j < i; j++)
            store_audit_row_clear(&out[j]);
        return rc;
    }
    *n = i;
    return GH_OK;
}

enum gh_err sq_audit_scan(struct store_conn *c, int64_t after, int64_t upto, store_audit_scan_fn fn,
                          void *arg)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_AUDIT_SCAN, SQ_INT(after), SQ_INT(upto > 0 ? upto : INT64_MAX));
    if (!s) return GH_ERR_INTERNAL;
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
    return r == SQLITE_DONE ? GH_OK : sq_fail(c, "audit scan");
}

/* One table, no partitions: nothing to prepare. */
enum gh_err sq_audit_extend(struct store_conn *c, int *created)
{
    (void)c;
    *created = 0;
    return GH_OK;
}

void sq_tune_for_scan(struct store_conn *c)
{
    /* Fixed pragmas, no input. */
    (void)sqlite3_exec(c->db, "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536;", NULL, NULL,
                       NULL);
}

enum gh_err sq_audit_bounds(struct store_conn *c, int64_t *min, int64_t *max, int64_t *count)
{
    sqlite3_stmt *s = sq_stmt(c, S_AUDIT_BOUNDS);
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *min = sqlite3_column_int64(s, 0);
        *max = sqlite3_column_int64(s, 1);
        *count = sqlite3_column_int64(s, 2);
    }
    done(s);
    return r == SQLITE_ROW ? GH_OK : sq_fail(c, "audit bounds");
}

static enum gh_err gate(struct store_conn *c, int open)
{
    return SQ_RUN(c, S_AUDIT_GATE, "audit gate", SQ_INT(open));
}

enum gh_err sq_audit_prune(struct store_conn *c, const char *before, const struct store_audit *ev,
                           int64_t *deleted)
{
    *deleted = 0;
    enum gh_err rc = sq_tx(c, S_BEGIN);
    if (rc) return rc;
    sqlite3_stmt *s = sq_stmt(c, S_AUDIT_PRUNE_LAST);
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
        rc = sq_fail(c, "audit prune range");
        goto out;
    }
    if (count > 0) {
        char cont[AUDIT_HASH_HEX + 1] = "", details[256];
        if (!(s = sq_stmt(c, S_AUDIT_HASH_OF))) {
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
        if (!(s = sq_stmt(c, S_AUDIT_PRUNE))) {
            rc = GH_ERR_INTERNAL;
            goto out;
        }
        sqlite3_bind_int64(s, 1, upto);
        if ((rc = sq_exec(c, s, "audit prune"))) goto out;
        if ((rc = gate(c, 0))) goto out;
        if ((rc = sq_append_audit(c, &cp))) goto out;
    }
    rc = sq_tx(c, S_COMMIT);
    if (rc == GH_OK) *deleted = count;
out:
    if (rc) sq_rollback(c);
    return rc;
}
