/* Unit tests for src/backup/backup.c: the interval parser, the backups'
 * file names, the retention choice (and its deletion in a directory), and
 * backup_make / backup_check_file on a real SQLite database: a backup that
 * verifies, with the audit head of the source, and a copy whose audit row
 * was edited, refused. */
#include "testutil.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "backup/backup.h"
#include "core/util.h"
#include "store/sqlite_backup.h"
#include "store/store.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_backup_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static int64_t iv(const char *s, int64_t min)
{
    int64_t v = -1;
    return backup_parse_interval(s, min, &v) == GH_OK ? v : -1;
}

static void test_interval(void **state)
{
    (void)state;
    assert_int_equal(iv("24h", 1), 86400);
    assert_int_equal(iv("30m", 1), 1800);
    assert_int_equal(iv("2s", 1), 2);
    assert_int_equal(iv("7d", 1), 7 * 86400);
    assert_int_equal(iv("3600", 1), 3600); /* plain seconds, like the other intervals */
    assert_int_equal(iv("30d", 1), 30 * 86400);
    assert_int_equal(iv("31d", 1), -1); /* past the 30-day cap */
    assert_int_equal(iv("2s", 60), -1); /* below the minimum (production's 60 s) */
    assert_int_equal(iv("1m", 60), 60);
    assert_int_equal(iv("0", 1), -1);
    const char *bad[] = {
        "", "h", "-1h", "+5m", "5 m", "5mm", "5x", "1.5h", "99999999999999999999", " 5m", "5m "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(iv(bad[i], 1), -1);
    assert_int_equal(iv(NULL, 1), -1);
}

static void test_names(void **state)
{
    (void)state;
    char name[64];
    int64_t t = 1796380629, back = 0; /* 2026-12-04T10:37:09Z */
    backup_file_name(t, 1, name, sizeof name);
    assert_string_equal(name, "gatehouse-20261204T103709Z.db");
    assert_true(backup_name_time(name, &back));
    assert_int_equal(back, t);
    backup_file_name(t, 3, name, sizeof name);
    assert_string_equal(name, "gatehouse-20261204T103709Z-3.db");
    assert_true(backup_name_time(name, &back));
    assert_int_equal(back, t);
    const char *others[] = {"gatehouse.db",
                            "gatehouse-20261204T103709Z.db-wal",
                            ".gatehouse-backup-12-0.tmp",
                            "gatehouse-20261304T103709Z.db", /* month 13 */
                            "gatehouse-20261204T103709Z-0.db",
                            "gatehouse-20261204T103709Z-.db",
                            "gatehouse-20261204T103709.db",
                            "notes.txt"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_false(backup_name_time(others[i], &back));
}

static void test_retention_pick(void **state)
{
    (void)state;
    int64_t now = 1796380629, day = 86400;
    int64_t t[] = {now - 100 * day, now - 91 * day, now - 89 * day, now - day, now};
    bool del[5];
    assert_int_equal(backup_retention_pick(t, 5, now, 90, del), 2);
    assert_true(del[0] && del[1]);
    assert_false(del[2] || del[3] || del[4]);
    /* All old: the newest stays, wherever it is in the list. */
    int64_t old[] = {now - 200 * day, now - 95 * day, now - 300 * day};
    assert_int_equal(backup_retention_pick(old, 3, now, 90, del), 2);
    assert_true(del[0] && !del[1] && del[2]);
    assert_int_equal(backup_retention_pick(old, 1, now, 90, del), 0); /* the only one */
    assert_int_equal(backup_retention_pick(old, 0, now, 90, del), 0);
}

static void touch(const char *d, const char *name)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", d, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static bool exists(const char *d, const char *name)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", d, name);
    return access(p, F_OK) == 0;
}

static void test_prune_dir(void **state)
{
    (void)state;
    char d[700];
    snprintf(d, sizeof d, "%s/prune", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    int64_t now = 1796380629, day = 86400;
    char old1[64], old2[64], young[64];
    backup_file_name(now - 120 * day, 1, old1, sizeof old1);
    backup_file_name(now - 120 * day, 2, old2, sizeof old2);
    backup_file_name(now - 10 * day, 1, young, sizeof young);
    touch(d, old1);
    touch(d, old2);
    touch(d, young);
    touch(d, "notes.txt"); /* not a backup: never touched */
    touch(d, "gatehouse-20200101T000000Z.db-wal");
    assert_int_equal(backup_prune(d, now, 90), 2);
    assert_false(exists(d, old1) || exists(d, old2));
    assert_true(exists(d, young) && exists(d, "notes.txt"));
    assert_true(exists(d, "gatehouse-20200101T000000Z.db-wal"));
    /* Only old ones left: the newest is kept. */
    assert_int_equal(backup_prune(d, now + 1000 * day, 90), 0);
    assert_true(exists(d, young));
    assert_int_equal(backup_prune("/nonexistent/gh-backups", now, 90), -1);
    const char *left[] = {young, "notes.txt", "gatehouse-20200101T000000Z.db-wal"};
    for (size_t i = 0; i < 3; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", d, left[i]);
        unlink(p);
    }
    rmdir(d);
}

static void append(struct store_conn *c, const char *action)
{
    struct store_audit ev = {.actor = "system", .action = action, .details = "{}"};
    assert_int_equal(ops->audit.append(c, &ev), GH_OK);
}

static void sql(const char *db, const char *q)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

/* A backup of a live database (a connection open in WAL mode with
 * uncheckpointed rows) holds every committed row and verifies; an edited
 * audit row in a copy is refused, and so is a file that is no database. */
static void test_make_and_check(void **state)
{
    (void)state;
    struct store_conn *c = NULL;
    assert_int_equal(ops->open(path, &c), GH_OK);
    assert_int_equal(ops->migrate(c), GH_OK);
    for (int i = 0; i < 50; i++)
        append(c, "test.row");
    char bdir[700], err[1400];
    snprintf(bdir, sizeof bdir, "%s/backups", dir);
    struct backup_info info;
    int64_t now = gh_now_s();
    assert_int_equal(backup_make(path, bdir, now, &info, err, sizeof err), GH_OK);
    char name[64];
    backup_file_name(now, 1, name, sizeof name);
    assert_non_null(strstr(info.path, name));
    assert_int_equal(info.rows, 50);
    assert_int_equal(info.head_id, 50);
    struct stat st;
    assert_int_equal(stat(info.path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(info.size, (int64_t)st.st_size);
    /* The same second again: a second name, never a replaced file. */
    struct backup_info again;
    assert_int_equal(backup_make(path, bdir, now, &again, err, sizeof err), GH_OK);
    assert_string_not_equal(again.path, info.path);
    assert_non_null(strstr(again.path, "Z-2.db"));
    /* Sealed: one file, no -wal beside it. */
    char p[1300];
    snprintf(p, sizeof p, "%s-wal", info.path);
    assert_int_not_equal(access(p, F_OK), 0);

    struct backup_info chk;
    assert_int_equal(backup_check_file(info.path, &chk, err, sizeof err), GH_OK);
    assert_string_equal(chk.head_hash, info.head_hash);

    /* An audit row edited in a copy: refused, naming the row. */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/tampered.db", dir);
    assert_int_equal(store_sqlite_copy(info.path, bad, err, sizeof err), GH_OK);
    sql(bad, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'x' WHERE id = 7;");
    assert_int_equal(backup_check_file(bad, &chk, err, sizeof err), GH_ERR_INVALID);
    assert_non_null(strstr(err, "row 7"));
    test_rm_db(bad);
    /* A recorded head past the log's end (its tail was cut): no backup. */
    char head[700];
    snprintf(head, sizeof head, "%s/audit.head", dir);
    FILE *f = fopen(head, "w");
    assert_non_null(f);
    fprintf(f, "60 %s\n", info.head_hash);
    fclose(f);
    struct backup_info none;
    assert_int_equal(backup_make(path, bdir, now, &none, err, sizeof err), GH_ERR_INVALID);
    assert_non_null(strstr(err, "row 60"));
    f = fopen(head, "w"); /* the real head: fine */
    assert_non_null(f);
    fprintf(f, "50 %s\n", info.head_hash);
    fclose(f);
    assert_int_equal(backup_make(path, bdir, now + 1, &none, err, sizeof err), GH_OK);
    backup_remove_db_files(none.path);
    unlink(head);
    /* The copy never overwrites: dst exists. */
    assert_int_not_equal(store_sqlite_copy(path, info.path, err, sizeof err), GH_OK);
    assert_int_equal(store_sqlite_copy("/nonexistent/x.db", bad, err, sizeof err),
                     GH_ERR_NOT_FOUND);
    /* Not a database: the integrity check refuses it. */
    touch(dir, "junk.db");
    snprintf(bad, sizeof bad, "%s/junk.db", dir);
    int fd = open(bad, O_WRONLY);
    assert_int_equal(write(fd, "this is not an SQLite database, not at all......", 48), 48);
    close(fd);
    assert_int_not_equal(backup_check_file(bad, &chk, err, sizeof err), GH_OK);
    unlink(bad);
    ops->close(c);
    backup_remove_db_files(again.path);
    backup_remove_db_files(info.path);
    rmdir(bdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval),       cmocka_unit_test(test_names),
        cmocka_unit_test(test_retention_pick), cmocka_unit_test(test_prune_dir),
        cmocka_unit_test(test_make_and_check),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
