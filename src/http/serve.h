/* `gatehouse serve`: the start-up order after the shared steps
 * (cli/startup.h; docs/architecture.md, "Startup"): the instance locks,
 * wiping the key text, each module's init, the periodic jobs of every
 * capability (registered here, defined with the capability they serve),
 * then the loops until a shutdown signal, then the shutdown order. */
#ifndef GH_HTTP_SERVE_H
#define GH_HTTP_SERVE_H

/** The serve command (argv is not read: main.c refused extra arguments).
 *  Returns the exit code: 0 after a clean shutdown, 2 when the start
 *  failed (the message names the cause). */
int serve_cmd(int argc, char **argv);

#endif
