#include "store/store_cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/startup.h"
#include "core/config.h"
#include "core/util.h"
#include "store/health.h"
#include "store/migrations.h"
#include "store/pg.h"
#include "store/schema.h"
#include "store/store.h"

/* The table of --status: every migration this release knows, then the
 * applied ones it does not know, with their flags. */
static void print_status(const struct store_schema *s)
{
    char when[GH_RFC3339_LEN + 1];
    printf("this release knows migrations 1-%d\n", store_schema_newest_known());
    printf("%8s  %-10s  %-20s  %s\n", "version", "compatible", "applied", "name");
    for (size_t i = 0; i < STORE_MIGRATION_COUNT; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (s->applied_at[i]) gh_rfc3339(when, s->applied_at[i]);
        printf("%8d  %-10d  %-20s  %s\n", m->version, m->compatible,
               s->applied_at[i] ? when : "pending", m->name);
    }
    int kept = s->unknown < STORE_SCHEMA_UNKNOWN_MAX ? s->unknown : STORE_SCHEMA_UNKNOWN_MAX;
    for (int i = 0; i < kept; i++) {
        gh_rfc3339(when, s->unknowns[i].applied_at);
        printf("%8d  %-10d  %-20s  %s\n", s->unknowns[i].version, s->unknowns[i].compatible, when,
               "(not known to this release)");
    }
    if (s->unknown > kept) printf("... and %d more not known to this release\n", s->unknown - kept);
}

/* Read-only: no keys are loaded and nothing is written. Exit 0 when this
 * release can run on the database (after `gatehouse migrate` if some are
 * pending), 1 when it refuses it (a newer, incompatible schema). */
static int migrate_status(void)
{
    const struct store_ops *ops = store_backend();
    struct store_conn *c = NULL;
    if (ops->open(gh_cfg.db_path, &c) != GH_OK)
        return cli_die(store_start_error("cannot open the database"));
    struct store_schema s;
    store_schema_init(&s);
    enum gh_err rc = ops->schema_read(c, &s);
    ops->close(c);
    if (rc) return cli_die(store_start_error("cannot read schema_migrations"));
    printf("database %s (%s): ", store_pg_selected() ? store_pg_target() : gh_cfg.db_path,
           ops->name);
    int pending = store_schema_pending_count(&s);
    char list[256];
    store_schema_unknown_list(&s, false, list, sizeof list);
    if (s.unknown_incompatible)
        printf("newer than this release: %s not known here and not all marked compatible; this "
               "release refuses to run on it\n",
               list);
    else if (s.unknown)
        printf("newer than this release: %s not known here, all marked compatible; this release "
               "runs on it\n",
               list);
    else if (pending)
        printf("%d migration(s) pending: run `gatehouse migrate`\n", pending);
    else
        printf("up to date\n");
    print_status(&s);
    return s.unknown_incompatible ? 1 : 0;
}

int store_cli_migrate(int argc, char **argv)
{
    int status = argc == 3 && !strcmp(argv[2], "--status");
    if (argc > 2 && !status)
        return cli_die("usage: gatehouse migrate [--status]; see gatehouse migrate --help");
    int rc = cli_load_config();
    if (!rc && status) {
        rc = migrate_status();
        cli_teardown();
        return rc;
    }
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
