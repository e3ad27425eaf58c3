/* The change feed's reader: applies to this server's auth cache the
 * changes other processes wrote to the database (a `gatehouse users role`,
 * `users mfa-reset` or `keys retire` run beside a running server; later
 * other replicas, issue 14), so they take effect within about a second
 * without a restart (docs/decisions/0025-feed-change-events.md).
 *
 * Every write that changes what the cache holds appends a struct
 * store_event in the same transaction (the store does it: store.h). This
 * module owns only the position in that feed (the last seq applied) and
 * the mapping of each kind to the cache's public setters
 * (sessions/authcache.h); a signing-key change reloads the keys
 * (sessions/sessions_jobs.h). Events of this process's own origin are
 * skipped: they were applied right after their commit. */
#ifndef GH_SESSIONS_CHANGES_H
#define GH_SESSIONS_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Events read per store call; a run reads at most CHANGES_MAX_PAGES of
 * them and leaves the rest to the next run. */
#define CHANGES_PAGE 32
#define CHANGES_MAX_PAGES 32

/** At start, before serving: the feed position is the newest event now
 *  (the cache is empty; whatever happened before is in the database).
 *  GH_ERR_INTERNAL when the store cannot be read (serve stops). */
enum gh_err changes_init(const struct store_ops *ops, struct store_conn *c) GH_WUR;

/** Every second on a worker (server_add_periodic): reads the events after
 *  the last one applied and applies each, in order. A failed read keeps
 *  the position and is retried by the next run (logged once per outage). */
void changes_job_poll(const struct store_ops *ops, struct store_conn *c);

/** Applies one event to the cache, whatever its origin (the poll and the
 *  unit tests). An unknown kind (written by a newer version) is logged and
 *  skipped. */
void changes_apply(const struct store_ops *ops, struct store_conn *c, const struct store_event *e);

/** The seq of the last event applied (or skipped as this process's own). */
int64_t changes_position(void);

/* ---- fan-out (issue 14, docs/decisions/0045-listen-notify.md) ----
 * With PostgreSQL, a listener (store/listen.h) wakes the feed as soon as
 * another replica commits an event, so its revocations reach this cache
 * within milliseconds rather than at the next 1-s poll. The cache is then
 * trusted (authcache_set_trusted) only while the feed can vouch for it:
 * the listener's LISTEN is in place, and a read of the feed that began
 * after it was put in place reached the newest event without failing.
 * A lost listening connection or a failed read withdraws the trust at
 * once (every check then goes to the store); the listener reconnects, the
 * feed reads everything after its position (since(), page after page),
 * and only then is the cache trusted again. With SQLite (one process; the
 * CLI's writes arrive through the 1-s poll) none of this runs and the
 * cache is always trusted, as before. */

/** Starts the listener when the backend has one (PostgreSQL): the cache is
 *  untrusted from here until the first catch-up. GH_OK, also when the
 *  backend has no channel (nothing started); GH_ERR_NOMEM or
 *  GH_ERR_INTERNAL when the thread cannot start (serve stops). */
enum gh_err changes_listen_start(void) GH_WUR;
/** Stops and joins the listener (serve, after the loops stopped; before
 *  the store and the cache are torn down). Safe when none was started. */
void changes_listen_stop(void);

/** The listener's news (its own thread; public for the unit tests, which
 *  play the listener): up after each successful LISTEN, down when its
 *  connection is lost. Down withdraws the trust; up reads the feed
 *  (ops, c: a connection of the caller's thread) to give it back. */
void changes_link(bool up, const struct store_ops *ops, struct store_conn *c);
/** A notification arrived: read the feed now (the listener's thread). */
void changes_wake(const struct store_ops *ops, struct store_conn *c);
/** Whether fan-out is on (a listener was started, or a test played one). */
bool changes_fanout(void);

#endif
