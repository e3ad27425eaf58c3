#include "backup/backup_cli.h"

#include <stdio.h>

#include "backup/backup.h"
#include "backup/backup_config.h"
#include "cli/startup.h"
#include "core/config.h"
#include "core/util.h"

int backup_cli(int argc, char **argv)
{
    if (argc > 3) return cli_die("usage: gatehouse backup [DIR]");
    int rc = cli_load_config();
    char err[1400];
    if (!rc && backup_backend_check(err, sizeof err) != GH_OK) rc = cli_die(err);
    if (rc) {
        cli_teardown();
        return rc;
    }
    const char *dir = argc == 3 ? argv[2] : gh_cfg.backup_dir;
    struct backup_info info;
    enum gh_err e = backup_make(gh_cfg.db_path, dir, gh_now_s(), &info, err, sizeof err);
    if (e == GH_ERR_INVALID) {
        fprintf(stderr, "gatehouse: the copy does not verify and was removed: %s\n", err);
        rc = 1;
    } else if (e == GH_ERR_NOT_FOUND) {
        fprintf(stderr, "gatehouse: no database to back up: %s\n", err);
        rc = 2;
    } else if (e) {
        rc = cli_die(err);
    } else {
        printf("backup written: %s\n", info.path);
        printf("size: %lld bytes\n", (long long)info.size);
        printf("audit rows: %lld\n", (long long)info.rows);
        printf("head: %lld %s\n", (long long)info.head_id, info.head_id ? info.head_hash : "-");
        printf("(the master key is not in it: keep it elsewhere, see docs/backups.md)\n");
    }
    cli_teardown();
    return rc;
}
