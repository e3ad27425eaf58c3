/* The periodic jobs of sessions and signing keys, registered by serve
 * (http/serve.c) with server_add_periodic: each runs on a worker with that
 * worker's store connection. */
#ifndef GH_SESSIONS_SESSIONS_JOBS_H
#define GH_SESSIONS_SESSIONS_JOBS_H

#include "store/store.h"

/** Hourly (and at start): drops sessions and refresh tokens a day after
 *  they expired, change events a day old, the sealed successor pairs of
 *  tokens spent longer ago than the reuse grace, and signing keys no token
 *  can still need (audited as keys.deleted); then re-times the stored hash
 *  families for sign-in padding (password_pad_refresh). Failures are logged; the next
 *  run tries again. */
void sessions_job_prune(const struct store_ops *ops, struct store_conn *c);

/** Every 2 s: picks up keys added by `gatehouse keys rotate` (or another
 *  replica) and drops cached tokens when the signing keys changed. The
 *  change feed (sessions/changes.h) also runs it at once on a
 *  signing-key event; two runs at once are safe (each swaps whole sets). */
void sessions_job_reload_keys(const struct store_ops *ops, struct store_conn *c);

#endif
