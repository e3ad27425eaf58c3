/* PostgreSQL backend: the writes of a transaction that take the global
 * advisory locks (change events, audit rows), held back until its commit.
 *
 * The rule (docs/decisions/0043-roles-and-chain-lock.md): PG_LOCK_EVENTS
 * and PG_LOCK_CHAIN are the LAST locks a transaction takes. They serialize
 * every replica's audited and event-writing transactions until COMMIT, so
 * a transaction that held them and then waited on a row lock (a TOTP
 * confirm releasing its session row, a revoke waiting for a sign-in that
 * holds the user row) would hold every replica's audit writes hostage
 * behind that one row, and deadlock with a writer that holds the row and
 * waits for the global lock. A store function, or a caller grouping
 * several in store_ops.tx, may run row updates after an event or audit
 * append; so pg_event_add, pg_event_add_every_user and pg_append_audit
 * only record what to write (heap copies, in order), and pg_tail_flush,
 * run by tx_commit right before COMMIT, takes the locks (events, then
 * chain) and writes it all. A rollback drops the records. */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_EVENT_INSERT[] =
    "INSERT INTO change_events (kind, user_id, session_id, text_value, int_value, origin,"
    " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
/* One change event of kind $1 per account. */
static const char SQL_EVENT_EVERY_USER[] =
    "INSERT INTO change_events (kind, user_id, session_id, text_value, int_value, origin,"
    " created_at) SELECT $1::text, id, '', '', $2::bigint, $3::text, $4::bigint FROM users"
    " ORDER BY id";
static const char SQL_EVENT_NOTIFY[] = "SELECT pg_notify('gatehouse_changes', '')";

enum pg_tail_kind { PG_TAIL_EVENT, PG_TAIL_EVENT_EVERY_USER, PG_TAIL_AUDIT };

/* One held-back write. s[] are heap copies owned by the record: for an
 * event uid, sid, text; for an audit row the seven fields of store_audit. */
struct pg_tail {
    enum pg_tail_kind what;
    enum store_event_kind kind;
    int64_t value, at;
    char *s[7];
};

static void tail_free(struct pg_tail *t)
{
    for (size_t i = 0; i < sizeof t->s / sizeof t->s[0]; i++)
        free(t->s[i]);
}

void pg_tail_clear(struct store_conn *c)
{
    for (size_t i = 0; i < c->ntail; i++)
        tail_free(&c->tail[i]);
    free(c->tail);
    c->tail = NULL;
    c->ntail = c->tail_cap = 0;
}

/* Copies the n strings (NULL stays NULL) into a new record at the end. */
static enum gh_err tail_push(struct store_conn *c, const struct pg_tail *t, const char *const *s,
                             size_t n)
{
    if (!c->in_tx) return GH_ERR_INTERNAL; /* only inside the write it records */
    if (c->ntail == c->tail_cap) {
        size_t cap = c->tail_cap ? c->tail_cap * 2 : 8;
        struct pg_tail *p = realloc(c->tail, cap * sizeof *p);
        if (!p) return GH_ERR_NOMEM;
        c->tail = p;
        c->tail_cap = cap;
    }
    struct pg_tail *d = &c->tail[c->ntail];
    *d = *t;
    memset(d->s, 0, sizeof d->s);
    for (size_t i = 0; i < n; i++)
        if (s[i] && !(d->s[i] = strdup(s[i]))) {
            tail_free(d);
            return GH_ERR_NOMEM;
        }
    c->ntail++;
    return GH_OK;
}

enum gh_err pg_event_add(struct store_conn *c, enum store_event_kind kind, const char *uid,
                         const char *sid, const char *text, int64_t value)
{
    const char *s[] = {uid ? uid : "", sid ? sid : "", text ? text : ""};
    struct pg_tail t = {.what = PG_TAIL_EVENT, .kind = kind, .value = value, .at = gh_now_s()};
    return tail_push(c, &t, s, 3);
}

enum gh_err pg_event_add_every_user(struct store_conn *c, enum store_event_kind kind, int64_t value,
                                    int64_t now)
{
    struct pg_tail t = {.what = PG_TAIL_EVENT_EVERY_USER, .kind = kind, .value = value, .at = now};
    return tail_push(c, &t, NULL, 0);
}

enum gh_err pg_append_audit(struct store_conn *c, const struct store_audit *ev)
{
    const char *s[] = {ev->actor,      ev->action,     ev->target, ev->ip,
                       ev->user_agent, ev->request_id, ev->details};
    struct pg_tail t = {.what = PG_TAIL_AUDIT};
    return tail_push(c, &t, s, 7);
}

static enum gh_err tail_write(struct store_conn *c, const struct pg_tail *t)
{
    const char *kind = store_event_kind_name(t->kind);
    switch (t->what) {
    case PG_TAIL_EVENT:
        return PG_RUN(c, SQL_EVENT_INSERT, "change event", PG_TEXT(kind), PG_TEXT(t->s[0]),
                      PG_TEXT(t->s[1]), PG_TEXT(t->s[2]), PG_INT(t->value), PG_TEXT(store_origin()),
                      PG_INT(t->at));
    case PG_TAIL_EVENT_EVERY_USER:
        return PG_RUN(c, SQL_EVENT_EVERY_USER, "change events", PG_TEXT(kind), PG_INT(t->value),
                      PG_TEXT(store_origin()), PG_INT(t->at));
    case PG_TAIL_AUDIT: {
        struct store_audit ev = {t->s[0], t->s[1], t->s[2], t->s[3], t->s[4], t->s[5], t->s[6]};
        return pg_chain_append(c, &ev);
    }
    }
    return GH_ERR_INTERNAL;
}

enum gh_err pg_tail_flush(struct store_conn *c)
{
    if (c->ntail == 0) return GH_OK;
    /* The global locks, last, in the one order (events, then chain; the
     * chain's is taken by pg_chain_head): every row lock this transaction
     * needed is already held, so from here to COMMIT nothing waits on a
     * row, and the held-back writes go in in the order they were made. */
    bool events = false;
    for (size_t i = 0; i < c->ntail; i++)
        events = events || c->tail[i].what != PG_TAIL_AUDIT;
    /* An audit row alone (a sign-in) needs only the chain's lock: one
     * round trip less, and the order holds (events is never taken after). */
    enum gh_err rc = events ? pg_lock_xact(c, PG_LOCK_EVENTS) : GH_OK;
    for (size_t i = 0; rc == GH_OK && i < c->ntail; i++)
        rc = tail_write(c, &c->tail[i]);
    /* Delivered at commit, dropped on rollback: wakes every replica. */
    if (rc == GH_OK && events)
        rc = pg_exec(c, SQL_EVENT_NOTIFY, "change notify", NULL, 0, NULL, NULL);
    pg_tail_clear(c);
    return rc;
}
