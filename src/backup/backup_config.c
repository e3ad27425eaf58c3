#include "backup/backup_config.h"

#include <stdio.h>

#include "backup/backup.h"
#include "core/config.h"
#include "store/store.h"

enum gh_err backup_backend_check(char *err, size_t errlen)
{
    if (store_backend() == &store_sqlite) return GH_OK;
    snprintf(err, errlen,
             "gatehouse backup, gatehouse restore and GATEHOUSE_BACKUP_* are for the SQLite "
             "database; on PostgreSQL use pg_dump or point-in-time recovery (docs/backups.md)");
    return GH_ERR_CONFIG;
}

enum gh_err backup_config_load(char *err, size_t errlen)
{
    const char *dir = config_env("GATEHOUSE_BACKUP_DIR");
    const char *every = config_env("GATEHOUSE_BACKUP_INTERVAL");
    const char *keep = config_env("GATEHOUSE_BACKUP_KEEP_DAYS");
    if ((dir || every || keep) && backup_backend_check(err, errlen) != GH_OK) return GH_ERR_CONFIG;
    if (dir) {
        if (config_env_str(gh_cfg.backup_dir, sizeof gh_cfg.backup_dir, "GATEHOUSE_BACKUP_DIR",
                           NULL, err, errlen) != GH_OK)
            return GH_ERR_CONFIG;
    } else if (snprintf(gh_cfg.backup_dir, sizeof gh_cfg.backup_dir, "%s/backups",
                        gh_cfg.data_dir) >= (int)sizeof gh_cfg.backup_dir) {
        snprintf(err, errlen, "GATEHOUSE_DATA_DIR is too long for its backups directory");
        return GH_ERR_CONFIG;
    }
    gh_cfg.backup_interval = 0;
    int64_t min = gh_cfg.production ? BACKUP_MIN_INTERVAL_PRODUCTION : 1;
    if (every && backup_parse_interval(every, min, &gh_cfg.backup_interval) != GH_OK) {
        snprintf(err, errlen,
                 "GATEHOUSE_BACKUP_INTERVAL must be a duration such as 24h, 30m or 3600 (seconds), "
                 "from %llds to 30d",
                 (long long)min);
        return GH_ERR_CONFIG;
    }
    return config_env_int("GATEHOUSE_BACKUP_KEEP_DAYS", 90, 1, 36500, &gh_cfg.backup_keep_days, err,
                          errlen);
}
