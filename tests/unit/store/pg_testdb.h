/* A scratch PostgreSQL database for the store's unit tests (every
 * tests/unit/store/test_pg_*.c links pg_testdb.c). GATEHOUSE_TEST_PG names
 * a superuser URL (scripts/pg_cluster.sh start prints one); without it the
 * tests are skipped, as each file says how.
 *
 * Ownership: a struct pg_testdb is the caller's (usually a static); while
 * a database is made it owns an admin connection to the server's default
 * database, and the database itself, until pg_testdb_drop. The store's
 * pool (store_pg_use) points at the database between create and drop, and
 * drop shuts it down first (store_pg_shutdown): close every store_conn of
 * the test, and stop the listener, before dropping. */
#ifndef GH_TESTS_UNIT_STORE_PG_TESTDB_H
#define GH_TESTS_UNIT_STORE_PG_TESTDB_H

#include <stdbool.h>

#include <libpq-fe.h>

struct pg_testdb {
    char admin_url[1024]; /* GATEHOUSE_TEST_PG */
    char url[1200];       /* the same server and role, the scratch database */
    char name[64];        /* gh_unit_<tag>_<pid>_<n>: made here, never from input */
    PGconn *admin;        /* NULL when no database is made */
};

/** Whether GATEHOUSE_TEST_PG is set and not empty. */
bool pg_testdb_wanted(void);

/** Exits 77 (ctest: skipped), printing "<who>: GATEHOUSE_TEST_PG is not
 *  set: skipped", unless pg_testdb_wanted(). */
void pg_testdb_require(const char *who);

/** Makes a fresh database named after tag (letters, digits, '_'), points
 *  the store at it with a pool of pool connections when pool > 0, and
 *  migrates it with store_pg when migrate. 0, or -1 with the reason on
 *  stderr (t may be half made then: pg_testdb_drop it all the same).
 *  Needs pg_testdb_wanted(). */
int pg_testdb_create(struct pg_testdb *t, const char *tag, int pool, bool migrate);

/** Runs fixed SQL (text made by the test, never from input) as the
 *  superuser on the admin connection. 0, or -1 with the error on stderr. */
int pg_testdb_admin(struct pg_testdb *t, const char *sql);

/** Shuts the store's pool down, drops the database (WITH FORCE, after
 *  allowing connections again) and closes the admin connection. A t with
 *  no database made is left as it is (0). 0, or -1 with the error on
 *  stderr. */
int pg_testdb_drop(struct pg_testdb *t);

#endif
