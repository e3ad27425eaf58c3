/* SQLite's copies of a database file (sqlite_backup.h): the online backup
 * API into a new file, the integrity check, and sealing a copy into one
 * self-contained file. The statements are fixed strings without
 * parameters. */
#include "store/sqlite_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

static enum gh_err fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return GH_ERR_INTERNAL;
}

/* The source read-write like any other connection of a server (a WAL
 * database needs its -shm); read-only if that is all the file allows (a
 * backup on a read-only mount). */
static int open_source(const char *src, sqlite3 **db)
{
    int r = sqlite3_open_v2(src, db, SQLITE_OPEN_READWRITE, NULL);
    if (r != SQLITE_OK) {
        sqlite3_close(*db);
        *db = NULL;
        r = sqlite3_open_v2(src, db, SQLITE_OPEN_READONLY, NULL);
    }
    if (*db) sqlite3_busy_timeout(*db, 10000);
    return r;
}

static enum gh_err copy_pages(sqlite3 *from, sqlite3 *to, char *err, size_t errlen)
{
    /* One read transaction over the whole copy: every step reads the same
     * snapshot, so a commit by the server does not restart the copy (which
     * under steady sign-ups might never finish), and in WAL mode a reader
     * never blocks a writer. */
    if (sqlite3_exec(from, "BEGIN; SELECT count(*) FROM sqlite_master;", NULL, NULL, NULL) !=
        SQLITE_OK)
        return fail(from, "cannot read the database", err, errlen);
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) {
        enum gh_err rc = fail(to, "backup", err, errlen);
        sqlite3_exec(from, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    int r;
    do {
        r = sqlite3_backup_step(b, STORE_BACKUP_STEP_PAGES);
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED) sqlite3_sleep(10);
    } while (r == SQLITE_OK || r == SQLITE_BUSY || r == SQLITE_LOCKED);
    int fr = sqlite3_backup_finish(b);
    sqlite3_exec(from, "ROLLBACK", NULL, NULL, NULL);
    if (r != SQLITE_DONE || fr != SQLITE_OK) {
        snprintf(err, errlen, "backup: %s", sqlite3_errstr(r != SQLITE_DONE ? r : fr));
        return GH_ERR_INTERNAL;
    }
    return GH_OK;
}

enum gh_err store_sqlite_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    struct stat st;
    errno = 0;
    if (stat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", src, errno ? strerror(errno) : "not a regular file");
        return GH_ERR_NOT_FOUND;
    }
    /* The file exists (and is 0600) before SQLite opens it: an empty file
     * is an empty database, and O_EXCL never overwrites one. */
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dst, strerror(errno));
        return GH_ERR_INTERNAL;
    }
    close(fd);
    sqlite3 *from = NULL, *to = NULL;
    enum gh_err rc = GH_OK;
    if (open_source(src, &from) != SQLITE_OK)
        rc = fail(from, "cannot open the database", err, errlen);
    else if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        rc = fail(to, "cannot open the copy", err, errlen);
    else
        rc = copy_pages(from, to, err, errlen);
    sqlite3_close(to);
    sqlite3_close(from);
    if (rc) unlink(dst);
    return rc;
}

enum gh_err store_sqlite_integrity(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    enum gh_err rc = GH_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK) {
        rc = fail(db, "cannot read the copy", err, errlen);
    } else {
        int r = sqlite3_step(s);
        const char *v = r == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
        if (r != SQLITE_ROW) {
            rc = fail(db, "integrity check", err, errlen);
        } else if (!v || strcmp(v, "ok") != 0) {
            snprintf(err, errlen, "integrity check: %s", v ? v : "no answer");
            rc = GH_ERR_INVALID;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}

enum gh_err store_sqlite_seal(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    enum gh_err rc = GH_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(db, "cannot seal the copy", err, errlen);
    sqlite3_close(db);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        rc = GH_ERR_INTERNAL;
    }
    if (fd >= 0) close(fd);
    return rc;
}
