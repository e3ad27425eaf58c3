/* Shared by the PostgreSQL store tests of pg_mfa.c, pg_links.c and
 * pg_identities.c (test_pg_mfa.c, test_pg_mfa_races.c): a fresh database
 * made from GATEHOUSE_TEST_PG (a superuser URL) and migrated, dropped at
 * the end; the test's own connection to read rows; accounts made with
 * import.user (a function of this group). */
#ifndef GH_TESTS_UNIT_STORE_TEST_PG_MFA_H
#define GH_TESTS_UNIT_STORE_TEST_PG_MFA_H

#include "testutil.h"

#include <libpq-fe.h>

#include "core/util.h"
#include "store/pg.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static char admin_url[1024], db_url[1200], db_name[64];
static PGconn *db; /* the test's own look at the rows */
static int uid_seq;

#define THREADS 8

/* ---- the database ---- */

/* The superuser URL with its database name replaced by name. */
static inline int url_with_db(const char *url, const char *name, char *out, size_t cap)
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

static inline int admin_exec(const char *sql)
{
    PGconn *a = PQconnectdb(admin_url);
    int ok = PQstatus(a) == CONNECTION_OK;
    PGresult *r = ok ? PQexec(a, sql) : NULL;
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "test_pg_mfa: %s: %s\n", sql, PQerrorMessage(a));
    PQclear(r);
    PQfinish(a);
    return ok ? 0 : -1;
}

static inline int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    snprintf(admin_url, sizeof admin_url, "%s", getenv("GATEHOUSE_TEST_PG"));
    snprintf(db_name, sizeof db_name, "gh_unit_pg_mfa_%d", (int)getpid());
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db_name);
    if (admin_exec(sql)) return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    if (admin_exec(sql)) return -1;
    if (url_with_db(admin_url, db_name, db_url, sizeof db_url)) return -1;
    if (store_pg_use(db_url, THREADS + 2) != GH_OK) return -1;
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return -1;
    enum gh_err rc = ops->migrate(c);
    ops->close(c);
    if (rc) return -1;
    db = PQconnectdb(db_url);
    return PQstatus(db) == CONNECTION_OK ? 0 : -1;
}

static inline int group_teardown(void **state)
{
    (void)state;
    PQfinish(db);
    store_pg_shutdown(); /* the pool's connections, before the drop */
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    return admin_exec(sql);
}

static inline int setup(void **state)
{
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static inline int teardown(void **state)
{
    ops->close(*state);
    return 0;
}

/* The one value the query returns, as an integer (-1: no row). */
static inline int64_t q_int(const char *sql, const char *p1)
{
    const char *params[1] = {p1};
    PGresult *r = PQexecParams(db, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

static inline void q_run(const char *sql, const char *p1, const char *p2)
{
    const char *params[2] = {p1, p2};
    PGresult *r = PQexecParams(db, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

/* A new account (import.user: this group's own insert), id into uid. */
static inline void new_user(struct store_conn *c, char uid[STORE_ID_LEN + 1],
                            const char *totp_sealed)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    int n = ++uid_seq;
    snprintf(u.id, sizeof u.id, "00000000-0000-4000-8000-%012d", n);
    snprintf(u.email, sizeof u.email, "u%d@example.com", n);
    snprintf(u.email_key, sizeof u.email_key, "u%d@example.com", n);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = gh_now_s();
    assert_int_equal(ops->import.user(c, &u, "", totp_sealed, NULL), GH_OK);
    memcpy(uid, u.id, STORE_ID_LEN + 1);
}

static inline void add_session(const char *uid, const char *sid)
{
    q_run("INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)"
          " VALUES ($1, $2, 1, 1, 9999999999)",
          sid, uid);
}

static inline void fill(uint8_t h[32], uint8_t tag)
{
    memset(h, tag, 32);
}

static inline struct store_magic magic(const char *key, const char *purpose, int64_t expires)
{
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.email_key, sizeof m.email_key, "%s", key);
    snprintf(m.email, sizeof m.email, "%s", key);
    snprintf(m.purpose, sizeof m.purpose, "%s", purpose);
    m.expires_at = expires;
    return m;
}

/* Exit 77 (ctest: skipped) without a PostgreSQL to test against. */
static inline void pg_test_require(const char *name)
{
    const char *url = getenv("GATEHOUSE_TEST_PG");
    if (url && *url) return;
    printf("%s: GATEHOUSE_TEST_PG is not set: skipped\n", name);
    exit(77);
}

#endif
