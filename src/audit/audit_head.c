#include "audit/audit_head.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

/* The newest row the audit verifier has seen (by the server, and in
 * <data dir>/audit.head across commands): a log that later ends before it,
 * or holds another row there, lost its tail. */
static int64_t head_id;
static char head_hash[AUDIT_HASH_HEX + 1];

static void head_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/audit.head", gh_cfg.data_dir);
}

void audit_head_load(void)
{
    char path[1200], *text = NULL;
    head_path(path, sizeof path);
    if (config_read_file(path, 256, &text) != GH_OK) return;
    long long id = 0;
    char h[AUDIT_HASH_HEX + 1];
    if (sscanf(text, "%lld %64s", &id, h) == 2 && strlen(h) == AUDIT_HASH_HEX) {
        head_id = id;
        memcpy(head_hash, h, sizeof head_hash);
    }
    free(text);
}

static void head_save(const struct audit_verify_result *res)
{
    if (res->head_id <= 0) return;
    head_id = res->head_id;
    memcpy(head_hash, res->head_hash, sizeof head_hash);
    char path[1200], tmp[1210];
    head_path(path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%lld %s\n", (long long)head_id, head_hash);
    if (fclose(f) == 0) rename(tmp, path);
}

enum gh_err audit_verify_with_head(const struct store_ops *ops, struct store_conn *c, int threads,
                                   struct audit_verify_result *res)
{
    struct store_conn *extra[7] = {NULL};
    int n = 0;
    for (; n < threads - 1 && n < 7; n++)
        if (ops->open(gh_cfg.db_path, &extra[n]) != GH_OK) break;
    if (threads > 1) { /* the command, not the server: read the file as fast as it goes */
        ops->audit.tune_for_scan(c);
        for (int i = 0; i < n; i++)
            ops->audit.tune_for_scan(extra[i]);
    }
    enum gh_err rc =
        audit_verify_parallel(ops, c, extra, n, head_id, head_id ? head_hash : NULL, res);
    for (int i = 0; i < n; i++)
        ops->close(extra[i]);
    if (rc == GH_OK && res->ok) head_save(res);
    return rc;
}

/* Partitions ahead of the log (store.h, audit.extend). Only an INSERT past
 * the last one fails, two blocks (20 million ids) later: an error, not a
 * reason to stop serving. */
void audit_job_extend(const struct store_ops *ops, struct store_conn *c)
{
    static _Atomic bool failing;
    int created = 0;
    if (ops->audit.extend(c, &created) != GH_OK) {
        if (!atomic_exchange(&failing, true))
            gh_log(GH_LOG_ERROR, "audit: could not create the audit log's next partitions "
                                 "(audit_log_extend); retrying every 10 minutes");
        return;
    }
    if (atomic_exchange(&failing, false))
        gh_log(GH_LOG_INFO, "audit: the audit log's partitions are ready again");
    if (created > 0) gh_log(GH_LOG_INFO, "audit: %d audit log partitions created", created);
}

/* Re-walks the audit chain on a schedule; a break is critical. */
void audit_job_verify(const struct store_ops *ops, struct store_conn *c)
{
    struct audit_verify_result res;
    /* In the server: one thread, in the background. */
    if (audit_verify_with_head(ops, c, 1, &res) != GH_OK) {
        gh_log(GH_LOG_ERROR, "audit verification could not run (store error)");
        return;
    }
    if (!res.ok) {
        if (audit_chain_status() != 0)
            gh_log(GH_LOG_CRIT, "audit chain broken at row %lld: %s", (long long)res.bad_id,
                   res.reason);
        audit_set_chain_status(0);
    } else {
        /* The head in the log lets a shipped copy anchor the chain too. */
        if (res.rows)
            gh_log(GH_LOG_INFO, "audit chain ok: %lld rows, head %lld %s", (long long)res.rows,
                   (long long)res.head_id, res.head_hash);
        else
            gh_log(GH_LOG_INFO, "audit chain ok: empty");
        audit_set_chain_status(1);
    }
}
