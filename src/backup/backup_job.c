#include "backup/backup_job.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "backup/backup.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

static _Atomic int64_t last_success; /* Unix seconds; 0: none yet */
static atomic_uint_fast64_t successes, failures;

void backup_job(const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    struct backup_info info;
    char err[1400];
    int64_t t0 = gh_mono_us();
    enum gh_err rc =
        backup_make(gh_cfg.db_path, gh_cfg.backup_dir, gh_now_s(), &info, err, sizeof err);
    if (rc) {
        atomic_fetch_add(&failures, 1);
        gh_log(GH_LOG_ERROR, "scheduled backup failed%s: %s",
               rc == GH_ERR_INVALID ? " (the copy did not verify and was removed)" : "", err);
        return; /* retention waits for a success: the old backups are all there is */
    }
    atomic_store(&last_success, gh_now_s());
    atomic_fetch_add(&successes, 1);
    gh_log(GH_LOG_INFO, "backup written: %s, %lld bytes, %lld audit rows, head %lld %s, %.1f s",
           info.path, (long long)info.size, (long long)info.rows, (long long)info.head_id,
           info.head_id ? info.head_hash : "-", (double)(gh_mono_us() - t0) / 1e6);
    if (backup_prune(gh_cfg.backup_dir, gh_now_s(), gh_cfg.backup_keep_days) < 0)
        gh_log(GH_LOG_WARN, "backup retention: cannot read %s", gh_cfg.backup_dir);
}

size_t backup_metrics(char *buf, size_t cap)
{
    if (gh_cfg.backup_interval <= 0) {
        buf[0] = '\0';
        return 0;
    }
    int n = snprintf(
        buf, cap,
        "# HELP gatehouse_backup_last_success_timestamp_seconds When the last scheduled backup "
        "verified and was written (0: none since start).\n"
        "# TYPE gatehouse_backup_last_success_timestamp_seconds gauge\n"
        "gatehouse_backup_last_success_timestamp_seconds %lld\n"
        "# HELP gatehouse_backups_total Scheduled backups by result.\n"
        "# TYPE gatehouse_backups_total counter\n"
        "gatehouse_backups_total{result=\"ok\"} %llu\n"
        "gatehouse_backups_total{result=\"failed\"} %llu\n",
        (long long)atomic_load(&last_success), (unsigned long long)atomic_load(&successes),
        (unsigned long long)atomic_load(&failures));
    if (n < 0) n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}
