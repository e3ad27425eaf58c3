/* Running an import: the accounts a source yields (import_line.h records)
 * checked against the store and written in batches, one write transaction
 * per batch with one `user.imported` audit row per account, then the
 * report. Every source (the generic lines, Auth.js, Supabase) reads its
 * input through a struct import_source and shares this. CLI only (main
 * thread, its own store connection, the vault loaded by cli_open_keys).
 *
 * A line is refused (its own fault: the source or the record checks, an
 * unknown hash format) or skipped (a duplicate: the address or one of its
 * identities is in the store already, or on an earlier line). Neither stops
 * the rest. A store failure stops the run: the batch under way is rolled
 * back, the batches before it stay (a second run skips them). */
#ifndef GH_IMPORT_IMPORT_RUN_H
#define GH_IMPORT_IMPORT_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "import/import_line.h"
#include "store/store.h"

#define IMPORT_BATCH 500 /* lines per write transaction */

enum import_item_kind {
    IMPORT_ITEM_RECORD,  /* rec holds an account to import */
    IMPORT_ITEM_REFUSED, /* why says what is wrong with the line */
    IMPORT_ITEM_SKIPPED, /* why says why the source leaves it out */
};

struct import_item {
    size_t line; /* 1-based: the line or the row of the source */
    enum import_item_kind kind;
    struct import_record rec; /* IMPORT_ITEM_RECORD: cleared by the runner */
    char why[IMPORT_REASON_MAX];
};

/** A source's next item into *it: 1 an item, 0 the end, -1 the input
 *  cannot be read any further (it->why says why; the run stops, exit 2). */
typedef int (*import_next_fn)(void *arg, struct import_item *it);

struct import_source {
    const char *name; /* "users", "authjs", "supabase": the audit rows' source */
    const char *unit; /* "line" or "row": the report's word */
    import_next_fn next;
    void *arg;
};

/** Imports what src yields (dry_run: the same checks and report, nothing
 *  written) and prints the report to out. Returns the exit status:
 *  0 nothing refused, 1 some line refused, 2 the store or the input failed
 *  (the message on stderr). */
int import_run(const struct store_ops *ops, struct store_conn *c, const struct import_source *src,
               bool dry_run, FILE *out);

/** The format of a stored hash for the audit row ("bcrypt", "argon2id",
 *  "pbkdf2_sha256", ...; "none" for "!": no password). Static. */
const char *import_format_name(const char *stored);

#endif
