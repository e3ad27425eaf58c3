/* Shared by the PostgreSQL store tests of pg_users.c and pg_sessions.c
 * (test_pg_users.c, test_pg_users_races.c): a fresh database made from
 * GATEHOUSE_TEST_PG (a superuser URL), migrated with store_pg and dropped at
 * the end; without GATEHOUSE_TEST_PG every test is skipped. Rows are read
 * back through a separate libpq connection. */
#ifndef GH_TESTS_UNIT_STORE_TEST_PG_USERS_H
#define GH_TESTS_UNIT_STORE_TEST_PG_USERS_H

#include "testutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "core/util.h"
#include "store/pg.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static char admin_url[1024], test_url[1100], dbname[64];
static bool have_pg;
static struct store_conn *c;
static int64_t now;

/* url with its database name replaced by db, into out. */
static inline int url_with_db(const char *url, const char *db, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    if (!scheme) return -1;
    const char *path = strchr(scheme + 3, '/');
    const char *query = strchr(scheme + 3, '?');
    if (query && path && path > query) path = NULL;
    size_t head = path ? (size_t)(path - url) : query ? (size_t)(query - url) : strlen(url);
    int n = snprintf(out, cap, "%.*s/%s%s", (int)head, url, db, query ? query : "");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* One statement as the superuser on the admin database. */
static inline int admin_exec(const char *sql)
{
    PGconn *pc = PQconnectdb(admin_url);
    int ok = PQstatus(pc) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(pc, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) fprintf(stderr, "test_pg_users: %s: %s", sql, PQerrorMessage(pc));
        PQclear(r);
    }
    PQfinish(pc);
    return ok ? 0 : -1;
}

/* A number from one row of a query on the test database (-1 on error);
 * p1 and p2 (when not NULL) bind $1 and $2. */
static inline long long db_count2(const char *sql, const char *p1, const char *p2)
{
    PGconn *pc = PQconnectdb(test_url);
    long long v = -1;
    if (PQstatus(pc) == CONNECTION_OK) {
        const char *params[2] = {p1, p2};
        int n = p2 ? 2 : p1 ? 1 : 0;
        PGresult *r = PQexecParams(pc, sql, n, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(pc);
    return v;
}

static inline long long db_count(const char *sql, const char *p1)
{
    return db_count2(sql, p1, NULL);
}

/* Change events of kind for user uid. */
static inline long long events_of(const char *kind, const char *uid)
{
    return db_count2("SELECT count(*) FROM change_events WHERE kind = $1 AND user_id = $2", kind,
                     uid);
}

static inline int group_setup(void **state)
{
    (void)state;
    test_config();
    const char *u = getenv("GATEHOUSE_TEST_PG");
    if (!u || !*u) return 0;
    snprintf(admin_url, sizeof admin_url, "%s", u);
    uint8_t rnd[6];
    char hex[13];
    gh_random(rnd, sizeof rnd);
    gh_hex(hex, rnd, sizeof rnd);
    snprintf(dbname, sizeof dbname, "gh_unit_users_%s", hex);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    if (admin_exec(sql) || url_with_db(admin_url, dbname, test_url, sizeof test_url)) return -1;
    if (store_pg_use(test_url, 12) != GH_OK) return -1;
    if (ops->open("", &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    now = gh_now_s();
    have_pg = true;
    return 0;
}

static inline int group_teardown(void **state)
{
    (void)state;
    if (!have_pg) return 0;
    ops->close(c);
    store_pg_shutdown();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    return admin_exec(sql);
}

#define NEED_PG()                                                                                  \
    do {                                                                                           \
        (void)state;                                                                               \
        if (!have_pg) skip();                                                                      \
    } while (0)

/* A fresh id (every test makes its own rows in the one database). */
static inline void new_id(char out[STORE_ID_LEN + 1])
{
    uint8_t r[16];
    char h[33];
    gh_random(r, sizeof r);
    gh_hex(h, r, sizeof r);
    snprintf(out, STORE_ID_LEN + 1, "%.8s-%.4s-4%.3s-8%.3s-%.12s", h, h + 8, h + 12, h + 15,
             h + 18);
}

static inline struct store_user mk_user(const char *email)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    new_id(u.id);
    snprintf(u.email, sizeof u.email, "%s", email);
    for (size_t i = 0; email[i] && i < STORE_EMAIL_MAX; i++)
        u.email_key[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$v=19$m=8192,t=1,p=1$fake");
    u.created_at = u.updated_at = now;
    return u;
}

/* A user with a unique address made of tag. */
static inline struct store_user add_user(const char *tag)
{
    char email[128], r[STORE_ID_LEN + 1];
    new_id(r);
    snprintf(email, sizeof email, "%s-%.8s@Example.com", tag, r);
    struct store_user u = mk_user(email);
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
    return u;
}

static inline void hash_of(uint8_t h[32], const char *label)
{
    assert_int_equal(gh_sha256(h, label, strlen(label)), GH_OK);
}

static inline struct store_session mk_session(const char *uid)
{
    struct store_session s;
    memset(&s, 0, sizeof s);
    new_id(s.id);
    snprintf(s.user_id, sizeof s.user_id, "%s", uid);
    s.created_at = s.last_used_at = now;
    s.expires_at = now + 3600;
    snprintf(s.ip, sizeof s.ip, "192.0.2.7");
    snprintf(s.user_agent, sizeof s.user_agent, "unit-test/1.0");
    return s;
}

/* A session of uid with the refresh token hash of label. */
static inline struct store_session add_session(const char *uid, const char *label)
{
    struct store_session s = mk_session(uid);
    uint8_t h[32];
    hash_of(h, label);
    assert_int_equal(ops->sessions.create(c, &s, h, -1, NULL), GH_OK);
    return s;
}

static inline long long audit_rows(void)
{
    return db_count("SELECT count(*) FROM audit_log", NULL);
}

#endif
