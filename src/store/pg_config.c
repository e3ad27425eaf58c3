/* The GATEHOUSE_DATABASE_* settings (store/pg.h): which PostgreSQL, as
 * which role, and how many connections. Read at start by cli/startup.c
 * like every module's settings (decision 0022). */
#include "store/pg.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/util.h"

struct store_pg_config store_pg_cfg;

/* A URL secret: NAME or NAME_FILE (a file's trailing newline dropped),
 * postgres:// or postgresql://, and parsable by libpq. Messages name the
 * variable, never the value. */
static enum gh_err load_url(const char *name, char **out, char *err, size_t errlen)
{
    enum gh_err rc = config_env_secret(name, out, err, errlen);
    if (rc || !*out) return rc;
    size_t n = strlen(*out);
    while (n && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
        (*out)[--n] = '\0';
    bool scheme = strncmp(*out, "postgres://", 11) == 0 || strncmp(*out, "postgresql://", 13) == 0;
    if (!scheme) {
        snprintf(err, errlen, "%s(_FILE) must be a postgres:// or postgresql:// URL", name);
    } else if ((rc = store_pg_use(*out, 1)) == GH_ERR_INVALID) { /* a parse check only */
        snprintf(err, errlen, "%s(_FILE) is not a URL libpq can read (check its syntax)", name);
    }
    if (!scheme || rc) {
        gh_free_secret_str(*out);
        *out = NULL;
        return rc == GH_ERR_NOMEM ? rc : GH_ERR_CONFIG;
    }
    return GH_OK;
}

enum gh_err store_pg_config_load(char *err, size_t errlen)
{
    store_pg_config_free();
    int64_t pool = STORE_PG_POOL_DEFAULT;
    enum gh_err rc = config_env_int("GATEHOUSE_DATABASE_POOL", STORE_PG_POOL_DEFAULT, 1,
                                    STORE_PG_POOL_MAX, &pool, err, errlen);
    if (rc) return rc;
    store_pg_cfg.pool = (int)pool;
    if ((rc = load_url("GATEHOUSE_DATABASE_MIGRATE_URL", &store_pg_cfg.migrate_url, err, errlen)) ||
        (rc = load_url("GATEHOUSE_DATABASE_RETENTION_URL", &store_pg_cfg.retention_url, err,
                       errlen)) ||
        (rc = load_url("GATEHOUSE_DATABASE_URL", &store_pg_cfg.url, err, errlen))) {
        store_pg_config_free();
        return rc;
    }
    if (!store_pg_cfg.url && (store_pg_cfg.migrate_url || store_pg_cfg.retention_url)) {
        snprintf(err, errlen,
                 "GATEHOUSE_DATABASE_MIGRATE_URL and GATEHOUSE_DATABASE_RETENTION_URL need "
                 "GATEHOUSE_DATABASE_URL (the role serve runs as)");
        store_pg_config_free();
        return GH_ERR_CONFIG;
    }
    if (!store_pg_cfg.url) {
        store_pg_shutdown(); /* the parse checks above set a URL */
        return GH_OK;
    }
    if ((rc = store_pg_use(store_pg_cfg.url, store_pg_cfg.pool))) {
        snprintf(err, errlen, "GATEHOUSE_DATABASE_URL cannot be used");
        store_pg_config_free();
        return rc == GH_ERR_NOMEM ? rc : GH_ERR_CONFIG;
    }
    return GH_OK;
}

void store_pg_config_free(void)
{
    gh_free_secret_str(store_pg_cfg.url);
    gh_free_secret_str(store_pg_cfg.migrate_url);
    gh_free_secret_str(store_pg_cfg.retention_url);
    memset(&store_pg_cfg, 0, sizeof store_pg_cfg);
    store_pg_shutdown();
}

void store_pg_config_forget_role_urls(void)
{
    gh_free_secret_str(store_pg_cfg.migrate_url);
    gh_free_secret_str(store_pg_cfg.retention_url);
    store_pg_cfg.migrate_url = store_pg_cfg.retention_url = NULL;
}

bool store_pg_selected(void)
{
    return store_pg_cfg.url != NULL;
}
