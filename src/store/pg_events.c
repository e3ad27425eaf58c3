/* PostgreSQL backend: the change feed (struct store_event). Several
 * replicas append at once, and an identity column hands out seqs at
 * INSERT, not at COMMIT: without a lock, seq 8 could commit before seq 7
 * and a poller that read 8 would never see 7. PG_LOCK_EVENTS, held to the
 * end of the appending transaction, makes events commit in seq order. The
 * inserts, the lock and the NOTIFY (delivered at commit, dropped on
 * rollback, waking every replica's listener) happen right before COMMIT:
 * pg_event_add records the event and pg_tail.c writes it. */
#include "store/pg_internal.h"

#include <string.h>

static const char SQL_EVENT_SINCE[] =
    "SELECT seq, kind, user_id, session_id, text_value, int_value, origin, created_at"
    " FROM change_events WHERE seq > $1 ORDER BY seq LIMIT $2";
static const char SQL_EVENT_MAX[] = "SELECT COALESCE(MAX(seq), 0) FROM change_events";
static const char SQL_EVENT_PRUNE[] = "DELETE FROM change_events WHERE created_at < $1";

static enum gh_err event_append_fn(struct store_conn *c, const void *arg)
{
    const struct store_event *e = arg;
    return pg_event_add(c, e->kind, e->user_id, e->session_id, e->text, e->value);
}

enum gh_err pg_event_append(struct store_conn *c, const struct store_event *e)
{
    if (e->kind <= STORE_EV_UNKNOWN || e->kind >= STORE_EV_KIND_COUNT) return GH_ERR_INVALID;
    return pg_in_tx(c, NULL, event_append_fn, e);
}

enum gh_err pg_events_since(struct store_conn *c, int64_t after, struct store_event *out,
                            size_t max, size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc =
        PG_QUERY(c, SQL_EVENT_SINCE, "change events", &r, PG_INT(after), PG_INT((int64_t)max));
    if (rc) return rc;
    size_t i = 0;
    for (int row = 0; row < pg_rows(r) && i < max; row++) {
        struct store_event *e = &out[i++];
        memset(e, 0, sizeof *e);
        e->seq = pg_int(r, row, 0);
        e->kind = store_event_kind_parse(pg_str(r, row, 1));
        pg_text(r, row, 2, e->user_id, sizeof e->user_id);
        pg_text(r, row, 3, e->session_id, sizeof e->session_id);
        pg_text(r, row, 4, e->text, sizeof e->text);
        e->value = pg_int(r, row, 5);
        pg_text(r, row, 6, e->origin, sizeof e->origin);
        e->created_at = pg_int(r, row, 7);
    }
    PQclear(r);
    *n = i;
    return GH_OK;
}

enum gh_err pg_events_max_seq(struct store_conn *c, int64_t *seq)
{
    PGresult *r = NULL;
    enum gh_err rc = pg_exec(c, SQL_EVENT_MAX, "change events max", NULL, 0, &r, NULL);
    if (rc == GH_OK) *seq = pg_int(r, 0, 0);
    PQclear(r);
    return rc;
}

enum gh_err pg_events_prune(struct store_conn *c, int64_t before)
{
    return PG_RUN(c, SQL_EVENT_PRUNE, "change events prune", PG_INT(before));
}
