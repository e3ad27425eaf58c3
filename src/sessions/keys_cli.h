/* `gatehouse keys ...`: list the encryption and signing keys, rotate
 * (--signing here; --encryption and --master in vault/vault_cli.c) and
 * retire a signing key. Parses the arguments before anything is read, then
 * runs the shared start-up steps (cli/startup.h) with the keys loaded.
 * Every change is audited with actor "system". */
#ifndef GH_SESSIONS_KEYS_CLI_H
#define GH_SESSIONS_KEYS_CLI_H

/** argv is "keys", the subcommand, its option. Exit code: 0 done, 2 a
 *  usage error (nothing read) or a failure (nothing changed). */
int keys_cli(int argc, char **argv);

#endif
