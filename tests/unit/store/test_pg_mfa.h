/* Shared by the PostgreSQL store tests of pg_mfa.c, pg_links.c and
 * pg_identities.c (test_pg_mfa.c, test_pg_mfa_races.c): a scratch database
 * (pg_testdb.h) made from GATEHOUSE_TEST_PG and migrated, dropped at the
 * end; the test's own connection to read rows; accounts made with
 * import.user (a function of this group). */
#ifndef GH_TESTS_UNIT_STORE_TEST_PG_MFA_H
#define GH_TESTS_UNIT_STORE_TEST_PG_MFA_H

#include "testutil.h"

#include <libpq-fe.h>

#include "core/util.h"
#include "store/pg.h"
#include "store/pg_testdb.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static struct pg_testdb tdb; /* the scratch database (pg_testdb.h) */
static PGconn *db;           /* the test's own look at the rows */
static int uid_seq;

#define THREADS 8

/* ---- the database ---- */

static inline int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    if (pg_testdb_create(&tdb, "pg_mfa", THREADS + 2, true)) return -1;
    db = PQconnectdb(tdb.url);
    return PQstatus(db) == CONNECTION_OK ? 0 : -1;
}

static inline int group_teardown(void **state)
{
    (void)state;
    PQfinish(db);
    return pg_testdb_drop(&tdb);
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

#endif
