/* Shared by the PostgreSQL store tests of pg_users.c and pg_sessions.c
 * (test_pg_users.c, test_pg_users_races.c): a scratch database
 * (pg_testdb.h) made from GATEHOUSE_TEST_PG, migrated and dropped at the
 * end; without GATEHOUSE_TEST_PG every test is skipped. Rows are read
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
#include "store/pg_testdb.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static struct pg_testdb tdb; /* the scratch database (pg_testdb.h) */
static bool have_pg;
static struct store_conn *c;
static int64_t now;

/* A number from one row of a query on the test database (-1 on error);
 * p1 and p2 (when not NULL) bind $1 and $2. */
static inline long long db_count2(const char *sql, const char *p1, const char *p2)
{
    PGconn *pc = PQconnectdb(tdb.url);
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
    if (!pg_testdb_wanted()) return 0;
    if (pg_testdb_create(&tdb, "users", 12, true)) return -1;
    if (ops->open("", &c) != GH_OK) return -1;
    now = gh_now_s();
    have_pg = true;
    return 0;
}

static inline int group_teardown(void **state)
{
    (void)state;
    if (!have_pg) return 0;
    ops->close(c);
    return pg_testdb_drop(&tdb);
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
