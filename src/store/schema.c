#include "store/schema.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/migrations.h"

_Static_assert(STORE_MIGRATION_COUNT <= STORE_SCHEMA_KNOWN_MAX, "raise STORE_SCHEMA_KNOWN_MAX");

void store_schema_init(struct store_schema *s)
{
    memset(s, 0, sizeof *s);
}

static int known_index(int version)
{
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++)
        if (store_migrations[i].version == version) return (int)i;
    return -1;
}

void store_schema_add(struct store_schema *s, int version, int compatible, int64_t applied_at)
{
    s->table = true;
    int i = known_index(version);
    if (i >= 0) {
        /* applied_at 0 would read as pending: a row is applied whatever its time. */
        if (!s->applied_at[i]) s->known_applied++;
        s->applied_at[i] = applied_at > 0 ? applied_at : 1;
        return;
    }
    if (s->unknown < STORE_SCHEMA_UNKNOWN_MAX)
        s->unknowns[s->unknown] =
            (struct store_schema_unknown){version, compatible ? 1 : 0, applied_at};
    s->unknown++;
    if (!compatible) s->unknown_incompatible++;
}

int store_schema_newest_known(void)
{
    int v = 0;
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++)
        if (store_migrations[i].version > v) v = store_migrations[i].version;
    return v;
}

int store_schema_pending_count(const struct store_schema *s)
{
    return (int)STORE_MIGRATION_COUNT - s->known_applied;
}

void store_schema_unknown_list(const struct store_schema *s, bool incompatible_only, char *out,
                               size_t outlen)
{
    size_t used = 0;
    int listed = 0, total = incompatible_only ? s->unknown_incompatible : s->unknown;
    if (outlen) out[0] = '\0';
    int kept = s->unknown < STORE_SCHEMA_UNKNOWN_MAX ? s->unknown : STORE_SCHEMA_UNKNOWN_MAX;
    for (int i = 0; i < kept && used < outlen; i++) {
        if (incompatible_only && s->unknowns[i].compatible) continue;
        int n =
            snprintf(out + used, outlen - used, "%s%d", listed ? ", " : "", s->unknowns[i].version);
        if (n < 0) break;
        used += (size_t)n;
        listed++;
    }
    if (listed < total && used < outlen)
        snprintf(out + used, outlen - used, " (%d more)", total - listed);
}

enum gh_err store_schema_judge(const struct store_schema *s)
{
    if (!s->unknown) return GH_OK;
    char list[256];
    int newest = store_schema_newest_known();
    if (s->unknown_incompatible) {
        store_schema_unknown_list(s, true, list, sizeof list);
        gh_log(GH_LOG_ERROR,
               "the database schema is newer than this release (it knows migrations up to %d): "
               "migration(s) %s applied by a newer release are not marked compatible",
               newest, list);
        return GH_ERR_CONFLICT;
    }
    store_schema_unknown_list(s, false, list, sizeof list);
    gh_log(GH_LOG_WARN,
           "the database schema is newer than this release (it knows migrations up to %d): "
           "migration(s) %s, applied by a newer release, are marked compatible; running",
           newest, list);
    return GH_OK;
}

enum gh_err store_schema_pending(const struct store_ops *ops, struct store_conn *c, int *n)
{
    struct store_schema s;
    store_schema_init(&s);
    *n = 0;
    enum gh_err rc = ops->schema_read(c, &s);
    if (rc) return rc;
    if ((rc = store_schema_judge(&s))) return rc;
    *n = store_schema_pending_count(&s);
    return GH_OK;
}
