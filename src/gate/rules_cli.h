/* `gatehouse rules test <url> [--user <email>] [--method M]`: which access
 * rule the gate would match for a URL, and what it would answer, for an
 * anonymous visitor or one account (its role read from the store). Reads
 * GATEHOUSE_ACCESS_RULES as the server would at start. */
#ifndef GH_GATE_RULES_CLI_H
#define GH_GATE_RULES_CLI_H

/** argv is "rules", "test", the URL and the options. Exit code: 0
 *  answered, 2 a usage error, a bad rules file (file:line), a URL the gate
 *  would refuse, an unknown account or a store failure. */
int rules_cli(int argc, char **argv);

#endif
