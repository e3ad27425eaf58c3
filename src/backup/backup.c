/* Backups of the SQLite database (backup.h): make one, check one, name
 * them, and choose which retention deletes. */
#include "backup/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/util.h"
#include "store/sqlite_backup.h"
#include "store/store.h"

/* anchor_id/anchor_hash (0/NULL: none): a head recorded earlier, which the
 * copy's chain must still hold (audit_verify). */
static enum gh_err check_file(const char *path, int64_t anchor_id, const char *anchor_hash,
                              struct backup_info *info, char *err, size_t errlen)
{
    enum gh_err rc = store_sqlite_integrity(path, err, errlen);
    if (rc) return rc;
    const struct store_ops *ops = &store_sqlite; /* a file, whatever serves */
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK) {
        snprintf(err, errlen, "cannot open %s", path);
        return GH_ERR_INTERNAL;
    }
    ops->audit.tune_for_scan(c);
    struct audit_verify_result res;
    rc = audit_verify(ops, c, anchor_id, anchor_hash, &res);
    ops->close(c);
    if (rc) {
        snprintf(err, errlen, "cannot read the audit log of %s", path);
        return rc;
    }
    if (!res.ok) {
        snprintf(err, errlen, "the audit chain does not verify: %s", res.reason);
        return GH_ERR_INVALID;
    }
    snprintf(info->path, sizeof info->path, "%s", path);
    info->rows = res.rows;
    info->head_id = res.head_id;
    snprintf(info->head_hash, sizeof info->head_hash, "%s", res.head_id ? res.head_hash : "");
    struct stat st;
    info->size = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
    return GH_OK;
}

enum gh_err backup_check_file(const char *path, struct backup_info *info, char *err, size_t errlen)
{
    return check_file(path, 0, NULL, info, err, errlen);
}

/* The head the server or `audit verify` recorded beside db_path
 * (audit/audit_head.h), read from the file: a scheduled backup runs beside
 * the server's own verification, whose in-memory head is not shared. 0 when
 * there is none. */
static int64_t recorded_head(const char *db_path, char hash[AUDIT_HASH_HEX + 1])
{
    char path[1300];
    const char *slash = strrchr(db_path, '/');
    snprintf(path, sizeof path, "%.*s/audit.head", slash ? (int)(slash - db_path) : 1,
             slash ? db_path : ".");
    FILE *f = fopen(path, "r");
    long long id = 0;
    char h[AUDIT_HASH_HEX + 1] = "";
    if (f && (fscanf(f, "%lld %64s", &id, h) != 2 || strlen(h) != AUDIT_HASH_HEX)) id = 0;
    if (f) fclose(f);
    snprintf(hash, AUDIT_HASH_HEX + 1, "%s", id > 0 ? h : "");
    return id > 0 ? (int64_t)id : 0;
}

void backup_file_name(int64_t t, int seq, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if (seq > 1)
        snprintf(out, cap, "gatehouse-%s-%d.db", stamp, seq);
    else
        snprintf(out, cap, "gatehouse-%s.db", stamp);
}

bool backup_name_time(const char *name, int64_t *t)
{
    int y, mo, d, h, mi, s, n = 0;
    if (strncmp(name, "gatehouse-", 10) != 0 ||
        sscanf(name + 10, "%4d%2d%2dT%2d%2d%2dZ%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 16)
        return false;
    const char *rest = name + 10 + n;
    if (*rest == '-') { /* a second backup in the same second: -<seq> */
        rest++;
        if (*rest < '1' || *rest > '9') return false;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    if (strcmp(rest, ".db") != 0) return false;
    return gh_utc_time(y, mo, d, h, mi, s, t);
}

size_t backup_retention_pick(const int64_t *t, size_t n, int64_t now, int64_t keep_days, bool *del)
{
    size_t newest = 0, marked = 0;
    for (size_t i = 1; i < n; i++)
        if (t[i] > t[newest]) newest = i;
    for (size_t i = 0; i < n; i++) {
        del[i] = n > 0 && i != newest && t[i] < now - keep_days * 86400;
        if (del[i]) marked++;
    }
    return marked;
}

#define PRUNE_MAX 4096 /* backups looked at per run; more wait for the next */

int backup_prune(const char *dir, int64_t now, int64_t keep_days)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char(*names)[64] = calloc(PRUNE_MAX, sizeof *names);
    int64_t *when = calloc(PRUNE_MAX, sizeof *when);
    bool *del = calloc(PRUNE_MAX, sizeof *del);
    if (!names || !when || !del) {
        free(names);
        free(when);
        free(del);
        closedir(d);
        return -1;
    }
    size_t n = 0;
    struct dirent *e;
    while (n < PRUNE_MAX && (e = readdir(d)) != NULL) {
        if (strlen(e->d_name) >= sizeof names[0] || !backup_name_time(e->d_name, &when[n]))
            continue;
        memcpy(names[n], e->d_name, strlen(e->d_name) + 1); /* fits: checked above */
        n++;
    }
    backup_retention_pick(when, n, now, keep_days, del);
    int deleted = 0;
    for (size_t i = 0; i < n; i++) {
        if (!del[i]) continue;
        if (unlinkat(dirfd(d), names[i], 0) == 0) {
            deleted++;
            gh_log(GH_LOG_INFO, "backup %s/%s deleted: older than %lld days", dir, names[i],
                   (long long)keep_days);
        } else {
            gh_log(GH_LOG_WARN, "cannot delete the old backup %s/%s: %s", dir, names[i],
                   strerror(errno));
        }
    }
    closedir(d);
    free(names);
    free(when);
    free(del);
    return deleted;
}

enum gh_err backup_parse_interval(const char *s, int64_t min_s, int64_t *out)
{
    if (!s || *s < '0' || *s > '9') return GH_ERR_INVALID;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0 || v > 30LL * 86400) return GH_ERR_INVALID;
    int64_t mult = 1;
    if (*end) {
        if (end[1] != '\0') return GH_ERR_INVALID;
        switch (*end) {
        case 's':
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            return GH_ERR_INVALID;
        }
    }
    int64_t secs = (int64_t)v * mult;
    if (secs < min_s || secs > 30LL * 86400) return GH_ERR_INVALID;
    *out = secs;
    return GH_OK;
}

/* The directory entry of a renamed file reaches the disk too. */
enum gh_err backup_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return GH_ERR_INTERNAL;
    int r = fsync(fd);
    close(fd);
    return r == 0 ? GH_OK : GH_ERR_INTERNAL;
}

void backup_remove_db_files(const char *path)
{
    char p[1300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* Moves tmp to the first free backup name of now; never replaces one. */
static enum gh_err publish(const char *dir, const char *tmp, int64_t now, char *final, size_t cap)
{
    for (int seq = 1; seq < 100; seq++) {
        char name[64];
        backup_file_name(now, seq, name, sizeof name);
        snprintf(final, cap, "%s/%s", dir, name);
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0) return GH_OK;
        if (errno == EEXIST) continue;
        /* A file system without RENAME_NOREPLACE: look first. */
        struct stat st;
        if (errno == EINVAL && stat(final, &st) != 0 && rename(tmp, final) == 0) return GH_OK;
        if (errno != EINVAL) return GH_ERR_INTERNAL;
    }
    return GH_ERR_CONFLICT;
}

enum gh_err backup_make(const char *db_path, const char *dir, int64_t now, struct backup_info *info,
                        char *err, size_t errlen)
{
    static atomic_int counter;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the backup directory %s: %s", dir, strerror(errno));
        return GH_ERR_INTERNAL;
    }
    char tmp[1200];
    if (snprintf(tmp, sizeof tmp, "%s/.gatehouse-backup-%ld-%d.tmp", dir, (long)getpid(),
                 atomic_fetch_add(&counter, 1)) >= (int)sizeof tmp) {
        snprintf(err, errlen, "the backup directory's path is too long");
        return GH_ERR_CONFIG;
    }
    /* Read before the copy begins: that head is in the copy's snapshot, so
     * a live log cut short since it was recorded is not backed up as whole. */
    char head[AUDIT_HASH_HEX + 1];
    int64_t head_id = recorded_head(db_path, head);
    enum gh_err rc = store_sqlite_copy(db_path, tmp, err, errlen);
    if (rc) return rc; /* the copy removed what it began */
    rc = check_file(tmp, head_id, head_id ? head : NULL, info, err, errlen);
    if (!rc) rc = store_sqlite_seal(tmp, err, errlen);
    if (!rc && (rc = publish(dir, tmp, now, info->path, sizeof info->path)))
        snprintf(err, errlen, "cannot rename the backup into place in %s: %s", dir,
                 strerror(errno));
    if (rc) {
        backup_remove_db_files(tmp); /* a copy that does not verify never counts */
        return rc;
    }
    chmod(info->path, 0600);
    if (backup_sync_dir(dir) != GH_OK) {
        snprintf(err, errlen, "cannot sync the backup directory %s", dir);
        return GH_ERR_INTERNAL;
    }
    struct stat st;
    info->size = stat(info->path, &st) == 0 ? (int64_t)st.st_size : 0;
    return GH_OK;
}
