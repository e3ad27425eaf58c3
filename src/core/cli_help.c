#include "core/cli_help.h"

#include <string.h>

static bool is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

bool cli_help_asked(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "help") || is_help(argv[1])) return true;
    for (int i = 2; i < argc; i++)
        if (is_help(argv[i])) return true;
    return false;
}

/* Prints the usage lines of cmd ("  cmd ..." and their continuation lines,
 * which start with more spaces) to out (NULL: only count); returns how many
 * command lines matched. */
static int print_lines(const char *usage, const char *cmd, FILE *out)
{
    size_t cl = strlen(cmd);
    int n = 0;
    bool in = false;
    for (const char *p = usage; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        bool cont = len > 3 && !strncmp(p, "   ", 3);
        if (!cont)
            in = len > 2 + cl && !strncmp(p, "  ", 2) && !strncmp(p + 2, cmd, cl) &&
                 (p[2 + cl] == ' ' || p[2 + cl] == '\0');
        if (in) {
            if (out) fprintf(out, "%.*s\n", (int)len, p);
            if (!cont) n++;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

int cli_help_print(int argc, char **argv, const char *usage, FILE *out)
{
    /* the command asked about: "gatehouse help serve" or "gatehouse serve --help" */
    const char *cmd = NULL;
    if (argc > 2 && !strcmp(argv[1], "help"))
        cmd = argv[2];
    else if (argc > 1 && strcmp(argv[1], "help") != 0 && !is_help(argv[1]))
        cmd = argv[1];
    if (!cmd || is_help(cmd)) {
        fputs(usage, out);
        return 0;
    }
    if (print_lines(usage, cmd, NULL) == 0) {
        fprintf(stderr, "gatehouse: unknown command '%s'\n\n%s", cmd, usage);
        return 2;
    }
    fprintf(out, "usage: gatehouse %s ...\n\n", cmd);
    print_lines(usage, cmd, out);
    fputs("\nNothing is started or written by --help. Configuration comes from GATEHOUSE_*\n"
          "environment variables; see README.md.\n",
          out);
    return 0;
}
