#include "store/store_cli.h"

#include <stdio.h>

#include "cli/startup.h"
#include "core/config.h"
#include "store/pg.h"
#include "store/store.h"

int store_cli_migrate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int rc = cli_load_config();
    struct store_conn *c = NULL;
    if (!rc) rc = cli_open_keys(1, &c);
    if (!rc) store_backend()->close(c);
    /* The roles' privileges every time, not only with a migration pending:
     * roles created after the schema get theirs (docs/postgresql.md). */
    if (!rc && store_pg_selected() && store_pg_cfg.migrate_url && store_pg_grant_roles() != GH_OK)
        rc = cli_die("the privileges of the database roles could not be granted; see the log");
    if (!rc) {
        if (store_pg_selected())
            printf("database %s is up to date\n", store_pg_target());
        else
            printf("database %s is up to date\n", gh_cfg.db_path);
    }
    cli_teardown();
    return rc;
}
