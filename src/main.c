/* gatehouse: the command-line entry point. Only dispatch lives here: each
 * command is a row (name, function, its lines of the usage text) and lives
 * with the capability it serves; the start-up steps they share are in
 * cli/startup.c. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "accounts/users_cli.h"
#include "audit/audit_cli.h"
#include "backup/backup_cli.h"
#include "backup/restore.h"
#include "cli/startup.h"
#include "core/cli_help.h"
#include "core/log.h"
#include "gate/rules_cli.h"
#include "import/import_cli.h"
#include "http/serve.h"
#include "sessions/keys_cli.h"
#include "store/schema.h"
#include "store/store_cli.h"

static int version_cmd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("gatehouse %s (commit %s)\n", GH_VERSION, gh_build_commit);
    /* Which schemas it runs on: docs/upgrades.md. */
    printf("schema: migrations 1-%d\n", store_schema_newest_known());
    return 0;
}

/* args: the command reads its own arguments; the others take none ("too
 * many arguments"). help has no function: cli_help_asked catches it. */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    bool args;
    const char *help; /* its lines of the usage text */
} commands[] = {
    {"serve", serve_cmd, false,
     "  serve                    run the HTTP server (migrates first in development mode)\n"},
    {"migrate", store_cli_migrate, true,
     "  migrate                  apply pending database migrations and exit\n"
     "  migrate --status         list the applied migrations and their compatible flags\n"
     "                           (exit 1 when this release refuses the schema as too new)\n"},
    {"keys", keys_cli, true,
     "  keys list                list encryption and signing keys\n"
     "  keys rotate --encryption add a data key and re-encrypt every sealed value with it\n"
     "  keys rotate --master     re-wrap the data keys under GATEHOUSE_NEW_MASTER_KEY\n"
     "  keys rotate --signing    add an ES256 signing key (published now, signs after\n"
     "                           GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY seconds)\n"
     "  keys retire <kid>        delete a signing key now (a leaked one): its tokens stop\n"
     "                           verifying; refused for the only key that signs\n"},
    {"users", users_cli, true,
     "  users role <email> <role> set an account's role: user or admin (admins are the ones\n"
     "                           GATEHOUSE_MFA_REQUIRED=admins covers)\n"
     "  users mfa-reset <email> --reason TEXT  remove a second factor enrolled before the\n"
     "                           address was proved; ends the sessions (audited)\n"},
    {"audit", audit_cli, true,
     "  audit verify             check the audit log's hash chain (exit 1 on a break)\n"
     "  audit prune --before T   retention: drop rows older than T (RFC 3339) from the oldest\n"
     "                           end, leaving a checkpoint row\n"},
    {"backup", backup_cli, true,
     "  backup [DIR]             an online copy of the SQLite database, verified (integrity and\n"
     "                           audit chain) before it counts, into DIR or "
     "GATEHOUSE_BACKUP_DIR\n"},
    {"restore", restore_cli, true,
     "  restore FILE [--keep-sessions]  put a backup back into the stopped data directory\n"
     "                           (the old database is moved aside); revokes every session\n"
     "                           unless --keep-sessions (docs/backups.md)\n"
     "  restore --in-place [--keep-sessions]  the same for a database put back by other\n"
     "                           means (PostgreSQL: pg_restore, point-in-time recovery)\n"},
    {"import", import_cli, true,
     "  import users FILE [--dry-run]  import accounts from JSON lines (docs/import.md)\n"
     "  import authjs --users FILE [--accounts FILE] [--dry-run]  from an Auth.js database\n"
     "  import supabase --users FILE [--identities FILE] [--dry-run]  from Supabase's auth\n"
     "                           (exit 1 when a line was refused; the rest is imported)\n"},
    {"rules", rules_cli, true,
     "  rules test <url> [--user <email>] [--method M]  which access rule of\n"
     "                           GATEHOUSE_ACCESS_RULES matches, and the gate's answer\n"},
    {"version", version_cmd, true,
     "  version                  print the version and the commit it was built from\n"},
    {"help", NULL, true,
     "  help [command]           show this text, or one command's (also --help, -h,\n"
     "                           and <command> --help)\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The usage text: a header, every command's lines, a footer. */
static void build_usage(char *out, size_t cap)
{
    size_t used = (size_t)snprintf(out, cap, "usage: gatehouse <command>\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s", commands[i].help);
    if (used < cap)
        snprintf(out + used, cap - used,
                 "\nConfiguration comes from GATEHOUSE_* environment variables; see README.md.\n");
}

static const struct command *find_command(const char *name)
{
    if (!strcmp(name, "--version")) name = "version";
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].run && !strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    umask(077);
    if (sodium_init() < 0) return cli_die("libsodium failed to initialise");
    /* OpenSSL keeps private-key numbers (the ES256 keys) in its secure heap
     * when one exists: mlock'd, guard-paged, cleared on free. */
    if (CRYPTO_secure_malloc_init(64 * 1024, 32) != 1)
        gh_log(GH_LOG_WARN, "OpenSSL secure heap unavailable; keys use the normal heap");
    static char usage[4096];
    build_usage(usage, sizeof usage);
    const char *cmd = argc > 1 ? argv[1] : "help";
    const struct command *c = find_command(cmd);
    int rc;
    if (cli_help_asked(argc, argv)) { /* before anything is read or written */
        rc = cli_help_print(argc, argv, usage, stdout);
    } else if (c && c->args) {
        rc = c->run(argc, argv);
    } else if (argc > 2) {
        rc = cli_die("too many arguments; see gatehouse --help");
    } else if (c) {
        rc = c->run(argc, argv);
    } else {
        fprintf(stderr, "gatehouse: unknown command '%s'\n\n%s", cmd, usage);
        rc = 2;
    }
    CRYPTO_secure_malloc_done();
    return rc;
}
