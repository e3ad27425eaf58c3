/* The scratch PostgreSQL database of the store's unit tests
 * (pg_testdb.h). */
#include "store/pg_testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pg.h"
#include "store/store.h"

bool pg_testdb_wanted(void)
{
    const char *url = getenv("GATEHOUSE_TEST_PG");
    return url && *url;
}

void pg_testdb_require(const char *who)
{
    if (pg_testdb_wanted()) return;
    printf("%s: GATEHOUSE_TEST_PG is not set: skipped\n", who);
    fflush(stdout);
    exit(77);
}

/* url with its database name (the path) replaced by name, query kept. */
static int url_with_db(const char *url, const char *name, char *out, size_t cap)
{
    const char *host = strstr(url, "://");
    if (!host) return -1;
    const char *slash = strchr(host + 3, '/');
    const char *query = strchr(host + 3, '?');
    size_t head = slash && (!query || slash < query) ? (size_t)(slash - url)
                  : query                            ? (size_t)(query - url)
                                                     : strlen(url);
    int n = snprintf(out, cap, "%.*s/%s%s", (int)head, url, name, query ? query : "");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int pg_testdb_admin(struct pg_testdb *t, const char *sql)
{
    PGresult *r = t->admin ? PQexec(t->admin, sql) : NULL;
    ExecStatusType st = PQresultStatus(r);
    int ok = r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
    if (!ok) fprintf(stderr, "pg_testdb: %s: %s\n", sql, t->admin ? PQerrorMessage(t->admin) : "");
    PQclear(r);
    return ok ? 0 : -1;
}

int pg_testdb_create(struct pg_testdb *t, const char *tag, int pool, bool migrate)
{
    static int seq;
    memset(t, 0, sizeof *t);
    if (!pg_testdb_wanted()) return -1;
    snprintf(t->admin_url, sizeof t->admin_url, "%s", getenv("GATEHOUSE_TEST_PG"));
    snprintf(t->name, sizeof t->name, "gh_unit_%s_%d_%d", tag, (int)getpid(), ++seq);
    if (url_with_db(t->admin_url, t->name, t->url, sizeof t->url)) {
        fprintf(stderr, "pg_testdb: GATEHOUSE_TEST_PG is not a postgres:// URL\n");
        return -1;
    }
    t->admin = PQconnectdb(t->admin_url);
    if (PQstatus(t->admin) != CONNECTION_OK) {
        fprintf(stderr, "pg_testdb: cannot connect: %s\n", PQerrorMessage(t->admin));
        PQfinish(t->admin);
        t->admin = NULL;
        return -1;
    }
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
    if (pg_testdb_admin(t, sql)) return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->name);
    if (pg_testdb_admin(t, sql)) return -1;
    if (pool <= 0) return 0;
    if (store_pg_use(t->url, pool) != GH_OK) return -1;
    if (!migrate) return 0;
    struct store_conn *c = NULL;
    if (store_pg.open("", &c) != GH_OK) return -1;
    enum gh_err rc = store_pg.migrate(c);
    store_pg.close(c);
    return rc == GH_OK ? 0 : -1;
}

int pg_testdb_drop(struct pg_testdb *t)
{
    if (!t->admin) return 0;
    store_pg_shutdown(); /* the pool's connections, before the drop */
    char sql[200];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", t->name);
    int rc = pg_testdb_admin(t, sql);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
    rc |= pg_testdb_admin(t, sql);
    PQfinish(t->admin);
    t->admin = NULL;
    return rc ? -1 : 0;
}
