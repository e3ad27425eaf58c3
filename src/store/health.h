/* Whether database writes work (issue 9, item 16). The SQLite backend
 * reports every failure of the disk class (full, read-only, I/O error,
 * cannot open, corrupt) here; while one is unresolved /readyz answers 503,
 * and the periodic probe (store_health_probe, on a worker every 2 s) tries
 * one small real write and clears the state when it commits. The reason is
 * logged once per episode and shown only on the /metrics allowlist.
 * Process-wide state behind a mutex; any thread. Nothing to free. */
#ifndef GH_STORE_HEALTH_H
#define GH_STORE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/** Called once by `serve` before the loops start: from then on failures
 *  are tracked and logged once per episode (CLI commands stop instead). */
void store_health_watch(void);
/** A write (or read) failed for a disk reason; why is a one-line text with
 *  the backend's message, the system error and the file. True when the
 *  episode's log line took care of it (the caller need not log it). */
bool store_health_failed(const char *why);
/** True unless a disk-class failure is unresolved. */
bool store_health_writes_ok(void);
/** Copies the current reason ("" when healthy) into out. */
void store_health_reason(char *out, size_t outlen);
/** Disk-class failures since start (a /metrics counter). */
uint64_t store_health_failures_total(void);
/** One database statement run (SQLite: each statement start, via its
 *  trace hook; PostgreSQL: each statement sent). A /metrics counter that
 *  proves a cache hit reads nothing (bench/scale.sh). Any thread. */
void store_count_statement(void);
uint64_t store_statements_total(void);
/** The store lines of /metrics (Prometheus text) into buf; returns the
 *  length written (< cap, NUL-terminated). Any thread. */
size_t store_health_metrics(char *buf, size_t cap);
/** The periodic job: while failing, one real write (ops->health.probe);
 *  when it commits, the state clears and that is logged. */
void store_health_probe(const struct store_ops *ops, struct store_conn *c);

/* ---- SQLite helpers (health.c), used by store/sqlite.c ---- */
struct sqlite3;
/** "message (system error): path" for the connection's last error, into
 *  out; also kept per thread for store_start_error(). Returns true when
 *  the error is of the disk class. */
bool store_sqlite_describe(struct sqlite3 *db, const char *path, char *out, size_t outlen);
/** "msg: <this thread's last store error>" (or msg alone), for the
 *  messages that stop a start. Thread-local buffer. */
const char *store_start_error(const char *msg);

#endif
