/* The PostgreSQL backend, as the rest of the program sees it: choosing it
 * (GATEHOUSE_DATABASE_URL), pointing it at a role's URL, and releasing its
 * connections. Its table of functions is store_pg (store/store.h); how it
 * works is in store/pg_internal.h and docs/postgresql.md.
 *
 * The URLs are secrets (a password may be in them): held in heap copies
 * that are wiped when freed, never logged (logs name the host, port and
 * database at most). Configuration is read once at start on the main
 * thread; store_pg_use and store_pg_shutdown run while no store call is in
 * flight (start-up, a CLI command switching role, teardown). */
#ifndef GH_STORE_PG_H
#define GH_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define STORE_PG_POOL_DEFAULT 10
#define STORE_PG_POOL_MAX 500

/* The settings (store_pg_config_load). Heap strings, NULL when unset;
 * store_pg_config_free wipes them. */
struct store_pg_config {
    char *url;           /* GATEHOUSE_DATABASE_URL(_FILE): the runtime role */
    char *migrate_url;   /* GATEHOUSE_DATABASE_MIGRATE_URL(_FILE): the owner role */
    char *retention_url; /* GATEHOUSE_DATABASE_RETENTION_URL(_FILE): audit prune only */
    int pool;            /* GATEHOUSE_DATABASE_POOL: connections per process */
};
extern struct store_pg_config store_pg_cfg;

/** Reads the GATEHOUSE_DATABASE_* settings (a module of cli/startup.c).
 *  When a URL is set, the backend points at it (store_pg_use) and
 *  store_backend() returns &store_pg. GH_ERR_CONFIG with err naming the
 *  variable (never quoting its value) when a URL is not postgres:// or
 *  postgresql://, does not parse, or the other URLs are set without it. */
enum gh_err store_pg_config_load(char *err, size_t errlen) GH_WUR;
/** Wipes and frees the URLs and closes the pool (store_pg_shutdown). */
void store_pg_config_free(void);

/** Wipes and frees the owner's and the retention role's URLs (migrate_url,
 *  retention_url; NULL after), keeping the runtime role's: serve calls it
 *  once its start-up migration is done, so a process that serves for
 *  months holds no password it does not need. Safe when they are unset. */
void store_pg_config_forget_role_urls(void);

/** True when GATEHOUSE_DATABASE_URL chose PostgreSQL. */
bool store_pg_selected(void);

/** Points the backend at url with a pool of `pool` connections (1..500),
 *  before the next open: the pool's idle connections are closed and the
 *  URL copied (wiped when replaced). GH_ERR_BUSY if a connection is still
 *  borrowed; GH_ERR_INVALID for a bad size or a URL libpq cannot parse. */
enum gh_err store_pg_use(const char *url, int pool) GH_WUR;

/** "host:port/dbname" of the current URL (no user, no password), for
 *  logs and messages; "" when none. Static storage, set by store_pg_use. */
const char *store_pg_target(void);

struct store_conn;
/** Whether the role c connects as may serve: GH_ERR_CONFIG, with err naming
 *  the role and why, when it is a superuser, owns Gatehouse's tables or is
 *  a member of their owner, has CREATEROLE, or may UPDATE, DELETE or
 *  TRUNCATE audit_log or write audit_gate (pg_roles.c, docs/postgresql.md
 *  "Roles"); also when the tables are not there. Run after migrations. */
enum gh_err store_pg_check_runtime_role(struct store_conn *c, char *err, size_t errlen) GH_WUR;

/** Runs the grants of `gatehouse migrate` (pg_grant_roles) as the owner
 *  role of GATEHOUSE_DATABASE_MIGRATE_URL on a connection of its own, then
 *  points the backend back at GATEHOUSE_DATABASE_URL: `gatehouse migrate`
 *  runs it every time, so roles created after the schema get their
 *  privileges without a new migration. */
enum gh_err store_pg_grant_roles(void) GH_WUR;

/** Closes every pooled connection and wipes the URL. */
void store_pg_shutdown(void);

#endif
