/* The worker pool: threads that run blocking work (Argon2id, fsyncing
 * writes, any store call) off the event loops. Each worker owns one store
 * connection for its whole life. A job's function runs on a worker; it is
 * responsible for posting its result back to the loop that submitted it
 * (server.c does that with gh_req). */
#ifndef GH_HTTP_POOL_H
#define GH_HTTP_POOL_H

#include "core/err.h"
#include "store/store.h"

typedef void (*pool_fn)(void *arg, const struct store_ops *ops, struct store_conn *c);

/** Starts n workers, each opening db_path through ops. Fails if any
 *  connection cannot be opened. */
enum gh_err pool_start(int n, const struct store_ops *ops, const char *db_path) GH_WUR;

/** Queues fn(arg). GH_ERR_DENIED if the queue is full (the caller answers
 *  503) or the pool is stopping; arg stays the caller's then. */
enum gh_err pool_submit(pool_fn fn, void *arg) GH_WUR;

/** Runs every queued job, then joins the workers and closes connections. */
void pool_stop(void);

#endif
