/* The worker pool: threads that run blocking work (Argon2id, fsyncing
 * writes, any store call) off the event loops. Each worker owns one store
 * connection for its whole life. A job's function runs on a worker; it is
 * responsible for posting its result back to the loop that submitted it
 * (http/intake.c does that with gh_req).
 *
 * Three lanes with their own queue and workers: POOL_HASH for requests that
 * run Argon2id (sign-up, sign-in, password change), POOL_NET for requests
 * that call an identity provider over the network (route flag R_NET: the
 * OAuth start, callbacks and native token; POOL_NET_WORKERS of them, each
 * call bounded by libcurl's timeouts) and POOL_DB for the rest. A flood of
 * sign-ins, or a provider that hangs, then cannot queue ahead of a
 * sign-out or a session revocation (decision 0036). */
#ifndef GH_HTTP_POOL_H
#define GH_HTTP_POOL_H

#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

enum pool_lane { POOL_DB, POOL_HASH, POOL_NET, POOL_LANES };

/* Workers of POOL_NET: few, since they mostly wait on a provider. */
#define POOL_NET_WORKERS 4

typedef void (*pool_fn)(void *arg, const struct store_ops *ops, struct store_conn *c);

/** Starts n[lane] workers per lane, each opening db_path through ops.
 *  Fails if any connection cannot be opened. */
enum gh_err pool_start(const int n[POOL_LANES], const struct store_ops *ops,
                       const char *db_path) GH_WUR;

/** Queues fn(arg) on a lane. GH_ERR_BUSY if that queue is full (the
 *  caller answers 503) or the pool is stopping; arg stays the caller's then. */
enum gh_err pool_submit(enum pool_lane lane, pool_fn fn, void *arg) GH_WUR;

/** Jobs queued or running, over all lanes. */
size_t pool_pending(void);

/** Runs every queued job, then joins the workers and closes connections. */
void pool_stop(void);

#endif
