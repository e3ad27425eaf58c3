/* `gatehouse users role <email> <user|admin>` and `users mfa-reset` (its
 * logic in mfa/mfa_cli.c): the operator's account commands. They run the
 * shared start-up steps (cli/startup.h) with the keys loaded, so that
 * their audit rows can be written. */
#ifndef GH_ACCOUNTS_USERS_CLI_H
#define GH_ACCOUNTS_USERS_CLI_H

/** argv is "users", the subcommand, its arguments. Exit code: 0 done, 1
 *  nothing to reset (mfa-reset), 2 a usage error or a failure (nothing
 *  changed). */
int users_cli(int argc, char **argv);

#endif
