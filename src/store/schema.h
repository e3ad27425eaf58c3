/* What a database's applied migrations (schema_migrations) mean for this
 * release, the same for every backend: which of the migrations it knows
 * are applied, which applied ones it does not know (a newer release ran
 * `gatehouse migrate`), and whether it may still run: only when every
 * unknown one is marked compatible (docs/upgrades.md). A backend's
 * schema_read op fills struct store_schema row by row (store_schema_add);
 * its pending_migrations op is store_schema_pending over it. Plain values:
 * nothing to free; not shared between threads. */
#ifndef GH_STORE_SCHEMA_H
#define GH_STORE_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* What a command that refuses the schema says (after the logged line). */
#define STORE_SCHEMA_NEWER_MSG                                                                     \
    "the database schema is newer than this release and not marked compatible with it "            \
    "(see the log line above and `gatehouse migrate --status`): run the newer release; "           \
    "nothing was changed"

/* Room for the migrations this release knows (checked against
 * migrations.h at compile time) and for the unknown ones it names. */
#define STORE_SCHEMA_KNOWN_MAX 256
#define STORE_SCHEMA_UNKNOWN_MAX 16

struct store_schema_unknown {
    int version;
    int compatible;
    int64_t applied_at;
};

struct store_schema {
    bool table; /* schema_migrations exists (false: a new database) */
    /* By index in store_migrations: applied_at, 0 while pending. */
    int64_t applied_at[STORE_SCHEMA_KNOWN_MAX];
    int known_applied;
    int unknown, unknown_incompatible; /* counts */
    /* The first STORE_SCHEMA_UNKNOWN_MAX unknown ones, in the order added. */
    struct store_schema_unknown unknowns[STORE_SCHEMA_UNKNOWN_MAX];
};

void store_schema_init(struct store_schema *s);
/** One applied row (compatible: its recorded flag, 0 where the column
 *  does not exist yet). */
void store_schema_add(struct store_schema *s, int version, int compatible, int64_t applied_at);
/** The newest migration version this release knows. */
int store_schema_newest_known(void);
/** Known migrations not applied yet. */
int store_schema_pending_count(const struct store_schema *s);
/** GH_OK when this release may run against the schema (unknown applied
 *  migrations are logged as a warning naming them when all are marked
 *  compatible); GH_ERR_CONFLICT when one is not (logged as an error
 *  naming them): the caller refuses to run and writes nothing. */
enum gh_err store_schema_judge(const struct store_schema *s);
/** "v1, v2 (n more)": the unknown versions, for messages;
 *  incompatible_only: only those not marked compatible. */
void store_schema_unknown_list(const struct store_schema *s, bool incompatible_only, char *out,
                               size_t outlen);
/** A backend's pending_migrations: read (its schema_read op) then judge.
 *  *n: known migrations not applied yet. */
enum gh_err store_schema_pending(const struct store_ops *ops, struct store_conn *c, int *n) GH_WUR;

#endif
