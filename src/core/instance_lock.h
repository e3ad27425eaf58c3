/* One `gatehouse serve` per listen address and per SQLite database.
 * Listeners use SO_REUSEPORT (one per event loop), so without this a second
 * server on the same address with another data directory would start and
 * the kernel would split traffic between two databases; and two servers on
 * different addresses could share one SQLite file. Both locks live as long
 * as the process (the kernel drops them when it exits, however it exits).
 * CLI commands (migrate, users, keys, audit) take neither, so they keep
 * working beside a running server. */
#ifndef GH_CORE_INSTANCE_LOCK_H
#define GH_CORE_INSTANCE_LOCK_H

#include "core/err.h"

/** Takes the locks for `serve`: the listen address host:port (an abstract
 *  unix socket named after the resolved address, so two servers starting at
 *  once cannot both win, plus a bind probe without SO_REUSEPORT that finds
 *  any other holder of the port; skipped for port 0) and then, unless
 *  db_path is NULL, an exclusive flock on "<db_path>.lock". A lock already
 *  held is not taken again, so `serve` can lock the address and then the
 *  database, both before it opens the database. GH_ERR_CONFIG (another
 *  process holds it) with an error logged that names the address or the
 *  database; GH_ERR_INTERNAL on other failures (such as a lock file that
 *  cannot be created on a read-only disk). */
enum gh_err instance_lock(const char *host, int port, const char *db_path) GH_WUR;

#endif
