/* The backups' settings, parsed and checked into gh_cfg (core/config.h)
 * after core's config_load: GATEHOUSE_BACKUP_DIR (default <data
 * dir>/backups), GATEHOUSE_BACKUP_INTERVAL (unset: no scheduled backups;
 * at least 60 s in production) and GATEHOUSE_BACKUP_KEEP_DAYS (default
 * 90). All three are refused on PostgreSQL (docs/backups.md: pg_dump and
 * point-in-time recovery). */
#ifndef GH_BACKUP_BACKUP_CONFIG_H
#define GH_BACKUP_BACKUP_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/* The shortest schedule in production; development and tests go down to
 * one second. */
#define BACKUP_MIN_INTERVAL_PRODUCTION 60

/** Reads the settings above; GH_ERR_CONFIG with err naming the variable. */
enum gh_err backup_config_load(char *err, size_t errlen) GH_WUR;

/** GH_OK on SQLite; on another backend GH_ERR_CONFIG with err saying that
 *  backups are made with that database's own tools (docs/backups.md). */
enum gh_err backup_backend_check(char *err, size_t errlen) GH_WUR;

#endif
