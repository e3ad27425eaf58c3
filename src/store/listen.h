/* Wake-ups from the database when another process commits a change event
 * (issue 14, docs/decisions/0045-listen-notify.md). PostgreSQL
 * only: one thread per process holds a dedicated connection, outside the
 * pool, that runs `LISTEN gatehouse_changes`; the backend's event append
 * notifies that channel in the same transaction (store/pg_internal.h,
 * pg_event_add), so a wake-up arrives at the commit and only if it
 * commits. A notification carries nothing the reader needs: the
 * change_events table stays the source of truth and the reader reads it
 * (sessions/changes.h). SQLite has no channel (one process; the CLI's
 * writes are found by the 1-s poll).
 *
 * The callback runs on the listener's thread, never two at once, with the
 * backend's ops and a store connection of that thread (it may run store
 * calls; it blocks the listener meanwhile, and notifications that arrive
 * meanwhile coalesce into one wake-up after it returns):
 *  - STORE_LISTEN_UP after each successful LISTEN (the first, and after
 *    every reconnection);
 *  - STORE_LISTEN_WAKE after one or more notifications;
 *  - STORE_LISTEN_DOWN when the connection is lost (the server went away,
 *    the backend was terminated, or a liveness ping went unanswered for
 *    STORE_LISTEN_PING_TIMEOUT_MS). The listener then reconnects with
 *    backoff (100 ms doubling to 5 s) and says UP again.
 * Nothing said while down: events committed meanwhile are not lost, only
 * their wake-ups; the reader catches up from its position on UP. */
#ifndef GH_STORE_LISTEN_H
#define GH_STORE_LISTEN_H

#include <stdbool.h>

#include "core/err.h"
#include "store/store.h"

/* An idle listening connection is pinged this often, and given up when a
 * ping is not answered within the timeout (a half-open TCP connection
 * would otherwise look alive until the kernel's keepalive gives up). */
#define STORE_LISTEN_PING_MS 1000
#define STORE_LISTEN_PING_TIMEOUT_MS 2000

enum store_listen_news { STORE_LISTEN_UP, STORE_LISTEN_DOWN, STORE_LISTEN_WAKE };

typedef void (*store_listen_fn)(enum store_listen_news what, const struct store_ops *ops,
                                struct store_conn *c, void *arg);

/** True when the backend in use has a channel (PostgreSQL selected). */
bool store_listen_available(void);

/** Starts the listener thread (store_listen_available must be true);
 *  fn(…, arg) hears from it as above. GH_ERR_BUSY when one runs already;
 *  GH_ERR_INTERNAL when the thread cannot start. A database that cannot be
 *  reached is not an error here: the thread keeps trying. */
enum gh_err store_listen_start(store_listen_fn fn, void *arg) GH_WUR;

/** Stops the thread and closes its connection (waits for a callback that
 *  is running to return). No-op when none runs. */
void store_listen_stop(void);

#endif
