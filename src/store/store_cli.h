/* `gatehouse migrate`: the shared start-up steps with migrations applied
 * (cli/startup.h), then exit; `migrate --status`: what is applied. */
#ifndef GH_STORE_STORE_CLI_H
#define GH_STORE_STORE_CLI_H

/** The migrate command. Exit code 0 when the schema is up to date, 2 on
 *  failure (a schema newer than this release that is not marked
 *  compatible is one: it is never downgraded). `migrate --status` lists
 *  the applied migrations and their compatible flags, writes nothing, and
 *  exits 0 when this release can run on the database, 1 when it refuses
 *  it (docs/upgrades.md). */
int store_cli_migrate(int argc, char **argv);

#endif
