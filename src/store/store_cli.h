/* `gatehouse migrate`: the shared start-up steps with migrations applied
 * (cli/startup.h), then exit. */
#ifndef GH_STORE_STORE_CLI_H
#define GH_STORE_STORE_CLI_H

/** The migrate command (argv is not read: main.c refused extra
 *  arguments). Exit code 0 when the schema is up to date, 2 on failure. */
int store_cli_migrate(int argc, char **argv);

#endif
