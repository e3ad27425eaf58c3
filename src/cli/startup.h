/* The start-up steps every command shares (docs/architecture.md,
 * "Startup"): reading the configuration (core's part, then each module's),
 * opening the database with the keys, and tearing it all down again. The
 * commands themselves live with the capability they serve (serve in
 * http/serve.c, migrate in store/store_cli.c, keys in sessions/keys_cli.c,
 * audit in audit/audit_cli.c, users in accounts/users_cli.c); main.c only
 * dispatches. Main thread only, before any other thread starts. */
#ifndef GH_CLI_STARTUP_H
#define GH_CLI_STARTUP_H

#include "store/store.h"

/** Prints "gatehouse: <msg>" to stderr; returns the exit code 2. */
int cli_die(const char *msg);

/** Reads the configuration: core/config.c, then each module's settings,
 *  then the production rules. GH_OK, or an error with err naming the
 *  setting at fault. Nothing else (tests call it). */
enum gh_err cli_config_read(char *err, size_t errlen) GH_WUR;

/** Reads the configuration (cli_config_read) and creates the data directory (mode 0700). 0, or the
 * exit code after printing the message that names the setting at fault. */
int cli_load_config(void);

/** Opens the database, checks the master key against the keys already
 *  sealed in it (before anything is written), migrates (apply_migrations)
 *  (on PostgreSQL as GATEHOUSE_DATABASE_MIGRATE_URL's owner role when it is
 *  set) or checks that no migration is pending, and loads the vault, the audit
 *  key and the signing keys (creating the first one). 0 with *out an open
 *  connection the caller closes, or the exit code after printing why. */
int cli_open_keys(int apply_migrations, struct store_conn **out);

/** Undoes what cli_load_config and cli_open_keys set up (and the rate
 *  limits, the auth cache and the cookie keys serve sets up); wipes every
 *  secret. Safe to call after a partial start. */
void cli_teardown(void);

#endif
