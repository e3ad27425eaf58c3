/* `gatehouse audit verify | prune --before T` (and the development-only
 * `audit fill N` benchmark helper). They need the database only: no keys
 * are loaded or created, so verify is read-only and runs on a copied file
 * too. verify checks against the recorded head (audit_head.h). */
#ifndef GH_AUDIT_AUDIT_CLI_H
#define GH_AUDIT_AUDIT_CLI_H

/** argv is "audit", the subcommand, its arguments. Exit code: 0 done, 1 the
 *  chain is broken (verify), 2 a usage error or a failure. */
int audit_cli(int argc, char **argv);

#endif
