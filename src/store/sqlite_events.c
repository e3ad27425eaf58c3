/* SQLite backend: the change feed (struct store_event): appending an event
 * inside the write that makes the change, reading the events after a
 * sequence number, the newest one, pruning. SQLite has one writer at a
 * time, so events commit in seq order and a reader that has seen seq N
 * never later finds a smaller one appear. */
#include "store/sqlite_internal.h"

#include <string.h>

enum gh_err sq_event_add(struct store_conn *c, enum store_event_kind kind, const char *uid,
                         const char *sid, const char *text, int64_t value)
{
    /* Only inside the write it records: an event without its change (or
     * the reverse) would make caches disagree with the database. */
    if (sqlite3_get_autocommit(c->db)) return GH_ERR_INTERNAL;
    return SQ_RUN(c, S_EVENT_INSERT, "change event", SQ_TEXT(store_event_kind_name(kind)),
                  SQ_TEXT(uid ? uid : ""), SQ_TEXT(sid ? sid : ""), SQ_TEXT(text ? text : ""),
                  SQ_INT(value), SQ_TEXT(store_origin()), SQ_INT(gh_now_s()));
}

static enum gh_err event_append_fn(struct store_conn *c, const void *arg)
{
    const struct store_event *e = arg;
    return sq_event_add(c, e->kind, e->user_id, e->session_id, e->text, e->value);
}

enum gh_err sq_event_append(struct store_conn *c, const struct store_event *e)
{
    if (e->kind <= STORE_EV_UNKNOWN || e->kind >= STORE_EV_KIND_COUNT) return GH_ERR_INVALID;
    return sq_in_tx(c, NULL, event_append_fn, e);
}

enum gh_err sq_events_since(struct store_conn *c, int64_t after, struct store_event *out,
                            size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = SQ_QUERY(c, S_EVENT_SINCE, SQ_INT(after), SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r = SQLITE_DONE;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_event *e = &out[i++];
        memset(e, 0, sizeof *e);
        e->seq = sqlite3_column_int64(s, 0);
        e->kind = store_event_kind_parse(ctext(s, 1));
        col_text(s, 2, e->user_id, sizeof e->user_id);
        col_text(s, 3, e->session_id, sizeof e->session_id);
        col_text(s, 4, e->text, sizeof e->text);
        e->value = sqlite3_column_int64(s, 5);
        col_text(s, 6, e->origin, sizeof e->origin);
        e->created_at = sqlite3_column_int64(s, 7);
    }
    done(s);
    if (r != SQLITE_DONE && r != SQLITE_ROW) return sq_fail(c, "change events");
    *n = i;
    return GH_OK;
}

enum gh_err sq_events_max_seq(struct store_conn *c, int64_t *seq)
{
    sqlite3_stmt *s = sq_stmt(c, S_EVENT_MAX);
    if (!s) return GH_ERR_INTERNAL;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) *seq = sqlite3_column_int64(s, 0);
    done(s);
    return r == SQLITE_ROW ? GH_OK : sq_fail(c, "change events max");
}

enum gh_err sq_events_prune(struct store_conn *c, int64_t before)
{
    return SQ_RUN(c, S_EVENT_PRUNE, "change events prune", SQ_INT(before));
}
