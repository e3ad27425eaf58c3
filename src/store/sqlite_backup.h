/* SQLite's own copies of a database file, for `gatehouse backup` and
 * `gatehouse restore` (src/backup/): an online copy through the SQLite
 * backup API, the integrity check, and sealing a copy into one
 * self-contained file. SQLite only (PostgreSQL has pg_dump). Any thread:
 * each call opens and closes its own connections; nothing is kept. */
#ifndef GH_STORE_SQLITE_BACKUP_H
#define GH_STORE_SQLITE_BACKUP_H

#include <stddef.h>

#include "core/err.h"

/* Pages copied per backup step: 4 MiB at the default page size. */
#define STORE_BACKUP_STEP_PAGES 1024

/** Copies the database at src into dst, a file that must not exist yet
 *  (created 0600), with the SQLite backup API: never a file copy, so a
 *  running server's WAL database (its -wal file included) is read as of one
 *  committed moment. The source stays in one read transaction for the whole
 *  copy, so the copy is consistent and does not restart when a server
 *  commits meanwhile; in WAL mode that read transaction does not block the
 *  server's writers. The copy goes STORE_BACKUP_STEP_PAGES at a time.
 *  On failure dst is removed and err says why (GH_ERR_INTERNAL, or
 *  GH_ERR_NOT_FOUND when src does not exist). */
enum gh_err store_sqlite_copy(const char *src, const char *dst, char *err, size_t errlen) GH_WUR;

/** PRAGMA integrity_check on the file at path: GH_OK when it answers "ok",
 *  GH_ERR_INVALID with its first finding in err otherwise (GH_ERR_INTERNAL
 *  if the file cannot be read as a database). */
enum gh_err store_sqlite_integrity(const char *path, char *err, size_t errlen) GH_WUR;

/** Makes the file at path one self-contained database (rollback-journal
 *  mode: no -wal or -shm beside it is needed to read it, and a read-only
 *  copy opens anywhere) and fsyncs it. */
enum gh_err store_sqlite_seal(const char *path, char *err, size_t errlen) GH_WUR;

#endif
