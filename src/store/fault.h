/* A store that fails on purpose, for tests of the error paths: a wrapper
 * around any struct store_ops that answers GH_ERR_INTERNAL (a backend
 * failure) at the Nth store call, or at every call of one named operation,
 * and otherwise forwards each call unchanged to the wrapped backend. It
 * counts the calls and remembers their names, so a test first runs a flow
 * in counting mode to learn how many store calls it makes, then runs it
 * again with a failure injected at each call in turn
 * (tests/unit/accounts/test_fault_walk.c).
 *
 * What is counted: every operation on an open connection that returns an
 * enum gh_err. open, close and migrate (setting a connection up), and the
 * operations that cannot fail (rollback, tune_for_scan), pass through
 * uncounted. An injected failure does not reach the backend: nothing is
 * written, as when a transaction fails; an injected commit failure rolls
 * the transaction back first, as the store's commit does on failure.
 *
 * Threads: one wrapper exists per process (store_fault_wrap replaces the
 * previous one) and its settings are process-wide, for a unit test that
 * drives handlers on its own thread. The call counter is atomic, so calls
 * from other threads are numbered exactly, but change the settings only
 * while no call is running. Not for production use: nothing in src/ but
 * this file refers to it. */
#ifndef GH_STORE_FAULT_H
#define GH_STORE_FAULT_H

#include <stdbool.h>

#include "core/err.h"
#include "store/store.h"

/* Names of the first calls are kept for reports (store_fault_call_name). */
#define STORE_FAULT_TRACE_MAX 128

/** Wraps inner (not NULL; it must outlive the wrapper) and returns the
 *  wrapping table (static storage, never freed); its name is "fault".
 *  Resets the counters and turns failures off (counting mode). */
const struct store_ops *store_fault_wrap(const struct store_ops *inner);

/** Counting mode: call count and trace back to 0, no failure injected. */
void store_fault_reset(void);

/** Fails the nth counted call from now on (1-based; 0: none). Resets the
 *  counters. */
void store_fault_fail_nth(unsigned n);

/** Fails every counted call of the operation named name (its member name
 *  in struct store_ops, e.g. "session_create"; NULL: none). Resets the
 *  counters. name must stay valid while it is set. */
void store_fault_fail_name(const char *name);

/** Counted calls since the last reset (failed ones included). */
unsigned store_fault_calls(void);

/** Calls failed on purpose since the last reset. */
unsigned store_fault_injected(void);

/** The operation name of counted call i (1-based), a static string; NULL
 *  when i is 0, past the count, or past STORE_FAULT_TRACE_MAX. */
const char *store_fault_call_name(unsigned i);

#endif
