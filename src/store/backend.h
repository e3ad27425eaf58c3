/* What every backend shares (backend.c), and the primitives a backend offers
 * it. Included by backends only, never by callers of the store.
 *
 * The rules that must not differ between backends live in backend.c once:
 *  - a write runs in the caller's transaction if one is open, else in its
 *    own (store_write);
 *  - an audit row's id, prev_hash, time and hash are computed from the
 *    chain head, which the backend reads under a lock held until the end of
 *    the current write transaction (store_chain_append). Under SQLite the
 *    write transaction already holds the database's single write lock; a
 *    backend with concurrent writers (PostgreSQL) must lock the head (for
 *    example pg_advisory_xact_lock or SELECT ... FOR UPDATE on a head row),
 *    or two writers would read the same last row and fork the chain. */
#ifndef GH_STORE_BACKEND_H
#define GH_STORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/chain.h"
#include "core/err.h"
#include "store/store.h"

/* The newest audit row, as the next row continues from it. */
struct store_chain_head {
    int64_t id;                    /* 0: the log is empty */
    char hash[AUDIT_HASH_HEX + 1]; /* "" when empty */
    char occurred_at[32];          /* "" when empty */
};

struct store_prims {
    /** Whether a transaction is open on c. */
    bool (*tx_open)(struct store_conn *c);
    /** Begins a write transaction; commits; rolls back if one is open. */
    enum gh_err (*tx_begin)(struct store_conn *c) GH_WUR;
    enum gh_err (*tx_commit)(struct store_conn *c) GH_WUR;
    void (*tx_rollback)(struct store_conn *c);
    /** Reads the chain head and locks it until the current write
     *  transaction ends (see above). */
    enum gh_err (*chain_head)(struct store_conn *c, struct store_chain_head *out) GH_WUR;
    /** Inserts one audit row exactly as given. */
    enum gh_err (*chain_insert)(struct store_conn *c, const struct audit_row *row,
                                const char *prev_hash, const char *hash) GH_WUR;
};

/* A write step run by store_write; arg is the caller's. */
typedef enum gh_err (*store_write_fn)(struct store_conn *c, const void *arg);

/** Runs fn (may be NULL) inside a write transaction, its own unless one is
 *  open, with ev (may be NULL) appended to the audit chain in the same
 *  transaction. An owned transaction is committed on success and rolled
 *  back on any failure; a caller's is left to the caller. */
enum gh_err store_write(const struct store_prims *p, struct store_conn *c,
                        const struct store_audit *ev, store_write_fn fn, const void *arg) GH_WUR;

/** Appends ev to the chain. A write transaction must be open (else
 *  GH_ERR_INTERNAL and nothing is written: fail closed). */
enum gh_err store_chain_append(const struct store_prims *p, struct store_conn *c,
                               const struct store_audit *ev) GH_WUR;

#endif
