#include "import/import_cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/startup.h"
#include "import/import_run.h"
#include "import/sources.h"

static const char usage[] =
    "usage: gatehouse import users FILE [--dry-run]\n"
    "       gatehouse import authjs --users FILE [--accounts FILE] [--dry-run]\n"
    "       gatehouse import supabase --users FILE [--identities FILE] [--dry-run]\n";

static int usage_error(const char *msg)
{
    fprintf(stderr, "gatehouse: %s\n%s", msg, usage);
    return 2;
}

struct import_args {
    const char *kind, *file, *users, *links;
    bool dry_run;
};

/* 0: parsed; else the exit status of a usage error. */
static int parse(int argc, char **argv, struct import_args *a)
{
    memset(a, 0, sizeof *a);
    /* --help never reaches here: main.c answers it (core/cli_help.h). */
    if (argc < 3) return usage_error("import what? users, authjs or supabase");
    a->kind = argv[2];
    bool rows = !strcmp(a->kind, "authjs") || !strcmp(a->kind, "supabase");
    if (!rows && strcmp(a->kind, "users") != 0)
        return usage_error("unknown source: users, authjs or supabase");
    const char *links_opt = !strcmp(a->kind, "authjs") ? "--accounts" : "--identities";
    for (int i = 3; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--dry-run")) {
            a->dry_run = true;
        } else if (rows && (!strcmp(s, "--users") || !strcmp(s, links_opt))) {
            if (i + 1 >= argc) return usage_error("an option needs a file");
            const char **dst = !strcmp(s, "--users") ? &a->users : &a->links;
            if (*dst) return usage_error("an option given twice");
            *dst = argv[++i];
        } else if (s[0] == '-' && s[1]) {
            return usage_error("unknown option");
        } else if (rows || a->file) {
            return usage_error("too many arguments");
        } else {
            a->file = s;
        }
    }
    if (!rows && !a->file) return usage_error("which file? gatehouse import users FILE");
    if (rows && !a->users) return usage_error("--users FILE is required");
    return 0;
}

int import_cli(int argc, char **argv)
{
    struct import_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    struct import_source src;
    char why[256];
    enum gh_err e = !strcmp(a.kind, "users") ? import_users_open(a.file, &src, why, sizeof why)
                    : !strcmp(a.kind, "authjs")
                        ? authjs_open(a.users, a.links, &src, why, sizeof why)
                        : supabase_open(a.users, a.links, &src, why, sizeof why);
    if (e) {
        fprintf(stderr, "gatehouse: %s; nothing was imported\n", why);
        return 2;
    }
    struct store_conn *c = NULL;
    /* The backend is known once the configuration is read. */
    if (!(rc = cli_load_config()) && !(rc = cli_open_keys(0, &c)))
        rc = import_run(store_backend(), c, &src, a.dry_run, stdout);
    import_source_close(&src);
    if (c) store_backend()->close(c);
    cli_teardown();
    return rc;
}
