/* Backups of the SQLite database (docs/backups.md): making one that counts
 * (an online copy through the SQLite backup API, checked for integrity and
 * for an audit chain that verifies, then synced and renamed into place),
 * checking any database file the same way (restore does before it copies
 * one in), the backups' file names, and the rolling retention. The master
 * key is not in the database, so it is in no backup. SQLite only:
 * PostgreSQL is backed up with its own tools. Any thread; nothing here
 * keeps state between calls. */
#ifndef GH_BACKUP_BACKUP_H
#define GH_BACKUP_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/chain.h"
#include "core/err.h"

/* What a backup (or a checked database file) holds. */
struct backup_info {
    char path[1200];
    int64_t size;    /* bytes */
    int64_t rows;    /* audit rows */
    int64_t head_id; /* its newest audit row (0: none), and that row's hash */
    char head_hash[AUDIT_HASH_HEX + 1];
};

/** Checks the database file at path: PRAGMA integrity_check, then its
 *  audit chain from the first row it holds (no recorded head: a backup is
 *  older than the heads a server recorded since). GH_OK and info's rows
 *  and head; GH_ERR_INVALID when it does not verify (err says where);
 *  another error when it cannot be read. The file is opened through the
 *  SQLite store, which puts it in WAL mode (store_sqlite_seal undoes it). */
enum gh_err backup_check_file(const char *path, struct backup_info *info, char *err,
                              size_t errlen) GH_WUR;

/** Makes a backup of the database db_path in dir (created 0700 if
 *  missing): an online copy into a temporary file in dir, checked
 *  (backup_check_file, and against the head recorded in audit.head beside
 *  db_path, if any: a log whose tail was cut is not backed up as whole),
 *  sealed into one file and fsynced, then renamed to
 *  backup_file_name(now) (0600) and the directory fsynced. A copy that
 *  does not verify is removed: GH_ERR_INVALID and nothing counts. */
enum gh_err backup_make(const char *db_path, const char *dir, int64_t now, struct backup_info *info,
                        char *err, size_t errlen) GH_WUR;

/** The file name of a backup made at t (UTC): "gatehouse-20261204T103512Z.db";
 *  seq > 1 (a second backup in the same second): "...Z-2.db". */
void backup_file_name(int64_t t, int seq, char *out, size_t cap);

/** The time in a backup's file name (as backup_file_name writes it); false
 *  for any other name, which retention never touches. */
bool backup_name_time(const char *name, int64_t *t);

/** Retention's choice over n backups made at t[i]: del[i] is set for each
 *  made before now - keep_days days, except the newest of all, which is
 *  never deleted (a server that stopped backing up still has its last
 *  one). Returns how many are marked. */
size_t backup_retention_pick(const int64_t *t, size_t n, int64_t now, int64_t keep_days, bool *del);

/** Deletes the backups in dir that backup_retention_pick marks (only
 *  files named like a backup). Returns how many it deleted, or -1 when dir
 *  cannot be read. */
int backup_prune(const char *dir, int64_t now, int64_t keep_days);

/** fsyncs a directory (a renamed file's entry reaches the disk). */
enum gh_err backup_sync_dir(const char *dir) GH_WUR;

/** Removes path and its -wal and -shm files, those that exist. */
void backup_remove_db_files(const char *path);

/** Parses an interval: a whole number of seconds, or one followed by s, m,
 *  h or d ("30m", "24h"), within [min_s, 30 days]. */
enum gh_err backup_parse_interval(const char *s, int64_t min_s, int64_t *out) GH_WUR;

#endif
