/* The recorded audit head: the newest row the verifier has seen, kept by
 * the server in memory and across commands in <data dir>/audit.head. A log
 * that later ends before it, or holds another row there, lost its tail
 * (docs/audit.md). Also the periodic re-verification the server runs, and
 * the job that keeps PostgreSQL's partitions ahead of the log. The
 * head is process state without a lock: load it and verify from one thread
 * at a time (the main thread, or the one periodic job). */
#ifndef GH_AUDIT_AUDIT_HEAD_H
#define GH_AUDIT_AUDIT_HEAD_H

#include "audit/audit.h"
#include "core/err.h"
#include "store/store.h"

/** Reads audit.head from the data directory (gh_cfg.data_dir); a missing or
 *  malformed file leaves no recorded head. */
void audit_head_load(void);

/** Verifies the whole chain against the recorded head with up to threads
 *  connections (threads > 1: the command, which also tunes them for a fast
 *  scan; extra connections are opened on gh_cfg.db_path and closed). A
 *  chain that verifies becomes the new recorded head (and the file). */
enum gh_err audit_verify_with_head(const struct store_ops *ops, struct store_conn *c, int threads,
                                   struct audit_verify_result *res) GH_WUR;

/** The periodic job (GATEHOUSE_AUDIT_VERIFY_INTERVAL): re-walks the chain
 *  on one thread; a break is logged as critical and readiness reports it. */
void audit_job_verify(const struct store_ops *ops, struct store_conn *c);

/** The periodic job (every 10 minutes and at start): audit.extend, so that
 *  PostgreSQL's audit_log has partitions ready two blocks of ids ahead. A
 *  failure is logged once until it works again; serving goes on. */
void audit_job_extend(const struct store_ops *ops, struct store_conn *c);

#endif
