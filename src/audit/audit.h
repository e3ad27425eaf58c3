/* The audit trail: what gets recorded (the event helpers), the keyed hash
 * that stands in for an attempted email, and the chain verifier. Rows are
 * written by the store inside the transaction of the change they record
 * (store.h, struct store_audit); the chain format is in chain.h. */
#ifndef GH_AUDIT_AUDIT_H
#define GH_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/chain.h"
#include "core/err.h"
#include "store/store.h"

/** Derives the email-hash key from the vault into guarded memory
 *  (sodium_malloc, no access while unused). Call after the vault is
 *  loaded. enabled=false turns recording off (benchmarks; refused in
 *  production by configuration). */
enum gh_err audit_init(bool enabled) GH_WUR;
/** Wipes and frees the email-hash key. */
void audit_shutdown(void);
bool audit_enabled(void);
/** Appends a row with actor "system" (a command or a periodic job) when
 *  auditing is on; a store failure is logged, not returned (the action it
 *  records has already happened). */
void audit_system(struct store_conn *c, const char *action, const char *details);

/** An audit row about a request, for code that has no HTTP request: base
 *  holds the request's ip, user agent and request id (http's
 *  gh_audit_event fills it), ev gets a copy with action, actor, target and
 *  details (NULL = "{}") set. Returns ev, or NULL when base is NULL
 *  (auditing off: the store writes no row). */
const struct store_audit *audit_event(const struct store_audit *base, struct store_audit *ev,
                                      const char *action, const char *actor, const char *target,
                                      const char *details);

/** hex(HMAC-SHA256(key, email_key)): lets an operator match failures for one
 *  address without the log holding the address. 64 zeros if audit_init has
 *  not succeeded. Thread-safe. */
void audit_email_hmac(const char *email_key, char out[AUDIT_HASH_HEX + 1]);

struct audit_verify_result {
    int64_t rows;
    int64_t head_id; /* newest row seen, and its hash */
    char head_hash[AUDIT_HASH_HEX + 1];
    bool ok;
    int64_t bad_id; /* first broken row when !ok */
    char reason[200];
};

/** Walks the whole chain (see chain.h and docs/audit.md). GH_OK with
 *  res->ok false when it is broken; an error only when the store fails.
 *  anchor_id/anchor_hash (0/NULL: none) is a head seen earlier: the row must
 *  still be there with that hash, which catches a truncated tail. */
enum gh_err audit_verify(const struct store_ops *ops, struct store_conn *c, int64_t anchor_id,
                         const char *anchor_hash, struct audit_verify_result *res) GH_WUR;

/** The same split over 1 + nextra threads, each scanning a range of ids on
 *  its own connection (extra[i], opened by the caller). */
enum gh_err audit_verify_parallel(const struct store_ops *ops, struct store_conn *c,
                                  struct store_conn *const *extra, int nextra, int64_t anchor_id,
                                  const char *anchor_hash, struct audit_verify_result *res) GH_WUR;

/** Last scheduled verification: 1 ok, 0 broken, -1 not run yet. */
int audit_chain_status(void);
void audit_set_chain_status(int ok);

/** The audit lines of /metrics (Prometheus text) into buf; returns the
 *  length written (< cap, NUL-terminated). Any thread. */
size_t audit_metrics(char *buf, size_t cap);

#endif
