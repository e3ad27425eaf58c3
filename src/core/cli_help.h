/* `--help` for every command (issue 9, item 19): `gatehouse help`,
 * `gatehouse --help`, `gatehouse <command> [...] --help` and `gatehouse help
 * <command>` print help and exit 0 before anything is read, opened or
 * written. A command's help is its lines of the general usage text, so the
 * two cannot disagree. Pure: prints only. */
#ifndef GH_CORE_CLI_HELP_H
#define GH_CORE_CLI_HELP_H

#include <stdbool.h>
#include <stdio.h>

/* The commit the binary was built from (generated at build time by
 * cmake/commit.cmake; "unknown" outside a git checkout). */
extern const char gh_build_commit[];

/** True when the arguments ask for help: no command, "help", "--help" or
 *  "-h" as the command, or "--help"/"-h" anywhere after it. */
bool cli_help_asked(int argc, char **argv);
/** Prints the help asked for, from usage (the general text: "  <command>
 *  ..." lines, continuations indented further). Returns the exit status:
 *  0, or 2 for an unknown command (then on stderr). */
int cli_help_print(int argc, char **argv, const char *usage, FILE *out);

#endif
