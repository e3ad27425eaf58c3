/* Scheduled backups while serving (GATEHOUSE_BACKUP_INTERVAL): serve
 * registers backup_job with server_add_periodic, so it runs on a worker,
 * never on an event loop (a backup takes seconds), and never two at once.
 * Each run makes a backup into GATEHOUSE_BACKUP_DIR (backup.h) and then
 * applies the rolling retention (GATEHOUSE_BACKUP_KEEP_DAYS, never the
 * newest backup); both are logged, and /metrics shows the last success. */
#ifndef GH_BACKUP_BACKUP_JOB_H
#define GH_BACKUP_BACKUP_JOB_H

#include <stddef.h>

#include "store/store.h"

/** One scheduled backup and retention run. ops and c (the worker's
 *  connection) are not used: the copy opens its own connections. */
void backup_job(const struct store_ops *ops, struct store_conn *c);

/** The backup lines of /metrics (Prometheus text) into buf; returns the
 *  length written (< cap, NUL-terminated). Any thread. */
size_t backup_metrics(char *buf, size_t cap);

#endif
