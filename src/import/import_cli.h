/* `gatehouse import users|authjs|supabase ...`: the arguments, opening the
 * store and the vault as every command does (cli/startup.h), the run
 * (import_run.h) and the exit status. */
#ifndef GH_IMPORT_IMPORT_CLI_H
#define GH_IMPORT_IMPORT_CLI_H

/** The command; returns the exit status (0 nothing refused, 1 some line
 *  refused, 2 usage error or failure). */
int import_cli(int argc, char **argv);

#endif
