/* Failure and refusal rows a client can cause at will (a made-up link
 * token, a wrong password, another user's session, a bad CSRF token),
 * kept bounded: per kind (the row's action) and client (its per-IP budget
 * key, so IPv6 by /64), the first gh_cfg.audit_failure_rows rows of each
 * window of gh_cfg.audit_failure_window seconds are written as usual; the
 * rest are only counted in memory, and when the window ends one row
 * `audit.suppressed` records how many (docs/audit.md). The summary is
 * written by the next failure of that kind and client, by the periodic
 * flush (server_add_periodic), or at shutdown, whichever comes first.
 *
 * The table is process memory (4096 windows; when full, further clients
 * share one overflow window, kind "*" and client "*"), one mutex, any
 * thread; it owns everything it holds. */
#ifndef GH_AUDIT_FAILURES_H
#define GH_AUDIT_FAILURES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define AUDIT_FAILURE_ACTION_MAX 47
#define AUDIT_FAILURE_CLIENT_MAX 64 /* a budget key (guard/proxy.h), or an address */

/** One ended window that had rows left out. */
struct audit_failure_summary {
    char action[AUDIT_FAILURE_ACTION_MAX + 1]; /* the kind, or "*" */
    char client[AUDIT_FAILURE_CLIENT_MAX];     /* the budget key, or "*" */
    int64_t started_at;                        /* wall clock, seconds */
    uint64_t suppressed;                       /* rows not written */
};

/** Appends ev like ops->audit.append, unless its kind and client already
 *  used up their rows in this window: then counts it (GH_OK, nothing
 *  written). A summary of the same kind and client's previous window is
 *  written first when one is due. ev NULL (auditing off): GH_OK. */
enum gh_err audit_failure_append(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_audit *ev) GH_WUR;

/** The same bound for a row written inside the caller's own transaction
 *  (ev handed to a store function): *write true when ev gets its row,
 *  false when it is only counted (hand the store NULL). A due summary is
 *  written first, on its own. ev NULL: GH_OK, *write false. */
enum gh_err audit_failure_admit(const struct store_ops *ops, struct store_conn *c,
                                const struct store_audit *ev, bool *write) GH_WUR;

/** Writes the summary of every window that has ended (periodic job). A
 *  summary that cannot be written (the store fails) is logged with its
 *  count instead and not retried: the table has already let it go. */
void audit_failures_flush(const struct store_ops *ops, struct store_conn *c);

/** At shutdown: writes every pending summary, ended or not, on a
 *  connection of its own. */
void audit_failures_flush_all(void);

/* The counting alone, with the clock passed in (unit tests). now_s is
 * monotonic, wall_s the time a new window is said to start at. */

/** Counts one failure; true when it gets its own row. *due (not NULL)
 *  receives the previous window's summary when it ended with rows left
 *  out (due->suppressed 0: none); the caller writes it. */
bool audit_failures_note(const char *action, const char *client, int64_t now_s, int64_t wall_s,
                         struct audit_failure_summary *due);

/** Removes up to max ended windows (all: every window) and copies into
 *  out those that left rows out. Returns how many were copied; *more is
 *  true when some had to stay for a later call. */
int audit_failures_take(int64_t now_s, bool all, struct audit_failure_summary *out, int max,
                        bool *more);

/** Forgets everything (tests). */
void audit_failures_reset(void);

#endif
