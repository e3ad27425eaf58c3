/* TEMPORARY placeholder (helper branches only, never on main): the
 * functions of pg_audit.c until helper pgaudit writes them; each logs and fails
 * closed. `git rm` this file in the commit that adds the real ones. */
#include "store/pg_internal.h"

#define PG_WIP(name) gh_log(GH_LOG_ERROR, "postgres: %s not written yet", name)

enum gh_err pg_chain_head(struct store_conn *c, struct store_chain_head *out)
{
    (void)c;
    (void)out;
    PG_WIP("pg_chain_head");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_chain_insert(struct store_conn *c, const struct audit_row *row, const char *prev,
                            const char *hash)
{
    (void)c;
    (void)row;
    (void)prev;
    (void)hash;
    PG_WIP("pg_chain_insert");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_audit_append(struct store_conn *c, const struct store_audit *ev)
{
    (void)c;
    (void)ev;
    PG_WIP("pg_audit_append");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_audit_list(struct store_conn *c, const char *subject, int64_t before,
                          struct store_audit_row *out, size_t max, size_t *n)
{
    (void)c;
    (void)subject;
    (void)before;
    (void)out;
    (void)max;
    (void)n;
    PG_WIP("pg_audit_list");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_audit_scan(struct store_conn *c, int64_t after, int64_t upto, store_audit_scan_fn fn,
                          void *arg)
{
    (void)c;
    (void)after;
    (void)upto;
    (void)fn;
    (void)arg;
    PG_WIP("pg_audit_scan");
    return GH_ERR_INTERNAL;
}

void pg_tune_for_scan(struct store_conn *c)
{
    (void)c;
    PG_WIP("pg_tune_for_scan");
}

enum gh_err pg_audit_bounds(struct store_conn *c, int64_t *min, int64_t *max, int64_t *count)
{
    (void)c;
    (void)min;
    (void)max;
    (void)count;
    PG_WIP("pg_audit_bounds");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_audit_prune(struct store_conn *c, const char *before, const struct store_audit *ev,
                           int64_t *deleted)
{
    (void)c;
    (void)before;
    (void)ev;
    (void)deleted;
    PG_WIP("pg_audit_prune");
    return GH_ERR_INTERNAL;
}
