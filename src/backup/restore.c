#include "backup/restore.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "audit/audit_head.h"
#include "backup/backup.h"
#include "backup/backup_config.h"
#include "cli/startup.h"
#include "core/config.h"
#include "core/instance_lock.h"
#include "core/util.h"
#include "store/sqlite_backup.h"
#include "store/store.h"
#include "vault/vault.h"

#define USAGE                                                                                      \
    "usage: gatehouse restore FILE [--keep-sessions] | restore --in-place [--keep-sessions]"

/* Refused (exit 1): nothing was changed. */
static int refuse(const char *tmp, const char *why)
{
    if (tmp) backup_remove_db_files(tmp);
    fprintf(stderr, "gatehouse: refused: %s; nothing was changed\n", why);
    return 1;
}

/* The key of the server the backup came from must open the data keys
 * sealed in it, or the restored server could not start (or decrypt). */
static int check_key(const struct store_ops *ops, struct store_conn *c)
{
    char *dev = NULL;
    const char *text = gh_cfg.master_key;
    if (!text) {
        char path[1200];
        snprintf(path, sizeof path, "%s/master.key", gh_cfg.data_dir);
        if (access(path, F_OK) != 0)
            return cli_die("no master key: set GATEHOUSE_MASTER_KEY (or _FILE) to the key of the "
                           "server the backup was made from; no backup holds it "
                           "(docs/backups.md)");
        if (vault_dev_master_key(gh_cfg.data_dir, &dev) != GH_OK)
            return cli_die("cannot read the development master key");
        text = dev;
    }
    uint8_t mk[VAULT_KEYBYTES];
    char err[512];
    enum gh_err rc = vault_parse_master_key(text, mk, err, sizeof err);
    gh_free_secret_str(dev);
    if (rc) return cli_die(err);
    rc = vault_init(mk);
    gh_wipe(mk, sizeof mk);
    if (rc) return cli_die("cannot set up guarded memory for the keys");
    rc = vault_load(ops, c, false);
    if (rc == GH_ERR_DENIED)
        return refuse(NULL, "the master key does not open the keys sealed in this backup (the "
                            "key of the server it was made from is needed)");
    return rc ? cli_die("cannot read the keys sealed in the backup") : 0;
}

/* The details of the backup.restored row (the file name may hold any
 * byte: jansson escapes it, and one that is not UTF-8 is not named). */
static char *details_json(const char *name, const struct backup_info *from, bool keep,
                          int64_t revoked, const struct store_single_use_cleared *cl)
{
    const char *source = name ? "file" : "in_place";
    json_t *file = json_string(name ? name : ""); /* NULL when not UTF-8 */
    if (!file) file = json_string("(not UTF-8)");
    json_t *d =
        json_pack("{s:s, s:o, s:s, s:I, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "source", source,
                  "file", file, "head_hash", from->head_hash, "rows", (json_int_t)from->rows,
                  "sessions", keep ? "kept" : "revoked", "revoked", (json_int_t)revoked, "cleared",
                  "links", (json_int_t)cl->links, "challenges", (json_int_t)cl->challenges,
                  "nonces", (json_int_t)cl->nonces, "idempotency", (json_int_t)cl->idem,
                  "unsent_mail", (json_int_t)cl->mail);
    char *s = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return s;
}

/* In the copy, in one transaction: the revocations, the clearing of the
 * single-use items (one spent since the backup would work again: kept
 * sessions or not) and the audit row that counts them. */
static enum gh_err record(const struct store_ops *ops, struct store_conn *c, const char *name,
                          const struct backup_info *from, bool keep, int64_t *revoked,
                          struct store_single_use_cleared *cleared)
{
    int64_t now = gh_now_s();
    *revoked = 0;
    enum gh_err rc = ops->tx.begin_write(c);
    if (rc) return rc;
    if (!keep) rc = ops->sessions.revoke_all(c, now, now, NULL, revoked);
    if (!rc) rc = ops->upkeep.clear_single_use(c, cleared);
    char *details = rc ? NULL : details_json(name, from, keep, *revoked, cleared);
    if (!rc && !details) rc = GH_ERR_NOMEM;
    struct store_audit ev = {.actor = "system", .action = "backup.restored", .details = details};
    if (!rc) rc = ops->audit.append(c, &ev);
    free(details);
    if (rc) {
        ops->tx.rollback(c);
        return rc;
    }
    return ops->tx.commit(c);
}

/* audit.head names the old log's head: kept as audit.head.pre-restore-<stamp>. */
static int move_head_aside(const char *stamp)
{
    char from[1300], to[1400];
    snprintf(from, sizeof from, "%s/audit.head", gh_cfg.data_dir);
    snprintf(to, sizeof to, "%s/audit.head.pre-restore-%s", gh_cfg.data_dir, stamp);
    if (access(from, F_OK) == 0 && rename(from, to) != 0)
        return cli_die("cannot move the old audit.head aside");
    return 0;
}

/* "20261204T103512Z": the time the moved-aside files are named after. */
static void now_stamp(char out[32])
{
    char name[64];
    backup_file_name(gh_now_s(), 1, name, sizeof name); /* gatehouse-<stamp>.db */
    snprintf(out, 32, "%.*s", (int)strlen(name) - 13, name + 10);
}

/* The old database, its -wal and -shm, and audit.head, renamed
 * <name>.pre-restore-<stamp>[-wal|-shm]: SQLite finds the moved WAL
 * beside the moved file, so the old database still opens. */
static int move_aside(const char *stamp, char *moved, size_t cap)
{
    static const char *const ext[] = {"", "-wal", "-shm"};
    char from[1300], to[1400];
    moved[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s%s", gh_cfg.db_path, ext[i]);
        snprintf(to, sizeof to, "%s.pre-restore-%s%s", gh_cfg.db_path, stamp, ext[i]);
        if (access(from, F_OK) != 0) continue;
        if (rename(from, to) != 0) return cli_die("cannot move the old database aside");
        if (i == 0) snprintf(moved, cap, "%s", to);
    }
    return move_head_aside(stamp);
}

/* The new database's head becomes the recorded one (no head is loaded:
 * the verification starts from nothing and records what it finds). */
static int reset_head(const struct store_ops *ops, struct store_conn *c,
                      struct audit_verify_result *res)
{
    enum gh_err rc = audit_verify_with_head(ops, c, 1, res);
    int pending = 0;
    if (rc == GH_OK && ops->pending_migrations(c, &pending) == GH_OK && pending)
        printf("its schema is %d migration(s) behind: run `gatehouse migrate` (a development "
               "server migrates at start)\n",
               pending);
    if (rc || !res->ok) return cli_die("the restored database's audit chain does not verify");
    return 0;
}

static void print_sessions(bool keep, int64_t revoked, const struct store_single_use_cleared *cl)
{
    if (keep)
        printf("sessions: kept (--keep-sessions)\n");
    else
        printf("sessions: %lld revoked; every access token issued before now is refused\n",
               (long long)revoked);
    printf("single-use items cleared: %lld links, %lld sign-in challenges, %lld nonces, %lld "
           "idempotency records, %lld unsent mails\n",
           (long long)cl->links, (long long)cl->challenges, (long long)cl->nonces,
           (long long)cl->idem, (long long)cl->mail);
}

static int restore(const char *file, bool keep)
{
    const struct store_ops *ops = &store_sqlite;
    char tmp[1200], err[1400];
    snprintf(tmp, sizeof tmp, "%s.restoring", gh_cfg.db_path);
    backup_remove_db_files(tmp); /* a restore that died: the lock says none runs */
    struct stat a, b;
    if (stat(file, &a) == 0 && stat(gh_cfg.db_path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return cli_die("FILE is the data directory's own database");
    enum gh_err e = store_sqlite_copy(file, tmp, err, sizeof err);
    if (e) return cli_die(err);
    struct backup_info from, now_info;
    e = backup_check_file(tmp, &from, err, sizeof err);
    if (e == GH_ERR_INVALID) {
        char why[1500];
        snprintf(why, sizeof why, "%s does not verify: %s", file, err);
        return refuse(tmp, why);
    }
    if (e) {
        backup_remove_db_files(tmp);
        return cli_die(err);
    }
    struct store_conn *c = NULL;
    if (ops->open(tmp, &c) != GH_OK) {
        backup_remove_db_files(tmp);
        return cli_die("cannot open the copy");
    }
    int rc = check_key(ops, c);
    const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    int64_t revoked = 0;
    struct store_single_use_cleared cleared = {0};
    if (!rc && record(ops, c, name, &from, keep, &revoked, &cleared) != GH_OK)
        rc = cli_die("cannot record the restore in the copy");
    ops->close(c);
    if (!rc && backup_check_file(tmp, &now_info, err, sizeof err) != GH_OK) rc = cli_die(err);
    if (!rc && store_sqlite_seal(tmp, err, sizeof err) != GH_OK) rc = cli_die(err);
    char stamp[32], moved[1400];
    now_stamp(stamp);
    if (!rc) rc = move_aside(stamp, moved, sizeof moved);
    if (rc) {
        backup_remove_db_files(tmp);
        return rc;
    }
    if (rename(tmp, gh_cfg.db_path) != 0 || backup_sync_dir(gh_cfg.data_dir) != GH_OK)
        return cli_die("cannot move the restored database into place");
    struct audit_verify_result res;
    if (ops->open(gh_cfg.db_path, &c) != GH_OK) return cli_die("cannot open the restored database");
    rc = reset_head(ops, c, &res);
    ops->close(c);
    if (rc) return rc;
    printf("restored %s (%lld audit rows, head %lld %s)\n", file, (long long)from.rows,
           (long long)from.head_id, from.head_id ? from.head_hash : "-");
    printf("database: %s\n", gh_cfg.db_path);
    if (moved[0]) printf("the previous database was moved to %s\n", moved);
    print_sessions(keep, revoked, &cleared);
    printf("audit head: %lld %s (backup.restored recorded)\n", (long long)res.head_id,
           res.head_hash);
    return 0;
}

/* --in-place: the database was put back by other means (PostgreSQL:
 * pg_restore or point-in-time recovery; docs/backups.md). The same checks
 * and steps as from a file, on the configured database as it is: its
 * chain must verify, the master key must open it, then the revocations,
 * the backup.restored row and the head. */
static int restore_in_place(bool keep)
{
    const struct store_ops *ops = store_backend();
    struct store_conn *c = NULL;
    int rc = cli_open_keys(0, &c);
    if (rc) return rc;
    struct audit_verify_result res = {.rows = 0};
    struct backup_info from = {.size = 0};
    if (audit_verify(ops, c, 0, NULL, &res) != GH_OK) {
        rc = cli_die("cannot read the audit log");
    } else if (!res.ok) {
        char why[400];
        snprintf(why, sizeof why, "the database's audit chain does not verify: %s", res.reason);
        rc = refuse(NULL, why);
    }
    from.rows = res.rows;
    from.head_id = res.head_id;
    snprintf(from.head_hash, sizeof from.head_hash, "%s", res.head_id ? res.head_hash : "");
    int64_t revoked = 0;
    struct store_single_use_cleared cleared = {0};
    if (!rc && record(ops, c, NULL, &from, keep, &revoked, &cleared) != GH_OK)
        rc = cli_die("cannot record the restore");
    char stamp[32];
    now_stamp(stamp);
    if (!rc) rc = move_head_aside(stamp);
    if (!rc) rc = reset_head(ops, c, &res);
    ops->close(c);
    if (rc) return rc;
    printf("recorded the restore of the database (%lld audit rows, head %lld %s)\n",
           (long long)from.rows, (long long)from.head_id, from.head_id ? from.head_hash : "-");
    print_sessions(keep, revoked, &cleared);
    printf("audit head: %lld %s (backup.restored recorded)\n", (long long)res.head_id,
           res.head_hash);
    return 0;
}

int restore_cli(int argc, char **argv)
{
    const char *file = NULL;
    bool keep = false, in_place = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--keep-sessions") == 0 && !keep)
            keep = true;
        else if (strcmp(argv[i], "--in-place") == 0 && !in_place)
            in_place = true;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else
            return cli_die(USAGE);
    }
    if (!file == !in_place) return cli_die(USAGE);
    int rc = cli_load_config();
    char err[1400];
    bool sqlite = store_backend() == &store_sqlite;
    if (!rc && file && backup_backend_check(err, sizeof err) != GH_OK) rc = cli_die(err);
    /* The server's own lock, held until this process exits: no server
     * runs on the directory now, and none starts during the restore.
     * (PostgreSQL has no such lock: docs/backups.md says to stop them.) */
    enum gh_err lrc = rc || !sqlite ? GH_OK : instance_lock(gh_cfg.listen_host, 0, gh_cfg.db_path);
    if (lrc == GH_ERR_CONFIG)
        rc = cli_die("a gatehouse server is running on this data directory; stop it first");
    else if (lrc)
        rc = cli_die("cannot lock the database; see the log");
    if (!rc) rc = in_place ? restore_in_place(keep) : restore(file, keep);
    cli_teardown();
    return rc;
}
