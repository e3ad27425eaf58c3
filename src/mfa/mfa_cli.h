/* `gatehouse users mfa-reset <email> --reason TEXT`: the operator's way out
 * of a lockout by a factor that someone who never proved the address
 * enrolled (issue 9, decision 0006). Removes the account's TOTP factor and
 * backup codes, ends every session of the account and appends an
 * `mfa.reset` audit row with the reason, in one transaction. accounts/users_cli.c
 * opens the store between the two calls; nothing here owns it. */
#ifndef GH_MFA_MFA_CLI_H
#define GH_MFA_MFA_CLI_H

#include "store/store.h"

#define MFA_CLI_REASON_MAX 500 /* bytes */

struct mfa_cli_reset {
    char email[STORE_EMAIL_MAX + 1];
    char key[STORE_EMAIL_MAX + 1];
    const char *reason; /* points into argv */
};

/** Parses argv ("users", "mfa-reset", ...). Returns -1 when the command
 *  should run (a filled in), else the exit code after printing help (0)
 *  or a usage error (2). */
int mfa_cli_reset_parse(int argc, char **argv, struct mfa_cli_reset *a);

/** Runs the reset on an open store. Exit code: 0 reset, 1 the account has
 *  no second factor (nothing changed), 2 no such account or a failure
 *  (nothing changed). Messages go to stdout (done) or stderr. */
int mfa_cli_reset_run(const struct store_ops *ops, struct store_conn *c,
                      const struct mfa_cli_reset *a);

#endif
