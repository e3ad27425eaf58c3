/* gatehouse: command-line entry point (serve, migrate, version). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "credentials/password.h"
#include "http/routes.h"
#include "http/server.h"
#include "sessions/authcache.h"
#include "sessions/jwt.h"
#include "store/store.h"

static const char usage[] =
    "usage: gatehouse <command>\n"
    "\n"
    "Commands:\n"
    "  serve     run the HTTP server (migrates the database first in development mode)\n"
    "  migrate   apply pending database migrations and exit\n"
    "  version   print the version\n"
    "  help      show this text (also --help, -h)\n"
    "\n"
    "Configuration comes from GATEHOUSE_* environment variables; see README.md.\n";

static int die(const char *msg)
{
    fprintf(stderr, "gatehouse: %s\n", msg);
    return 2;
}

static int load_config(void)
{
    char err[1400];
    if (config_load(err, sizeof err) != GH_OK) return die(err);
    if (mkdir(gh_cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, sizeof err, "cannot create GATEHOUSE_DATA_DIR %s: %s", gh_cfg.data_dir,
                 strerror(errno));
        return die(err);
    }
    struct stat st;
    if (stat(gh_cfg.data_dir, &st) == 0 && (st.st_mode & 077))
        gh_log(GH_LOG_WARN, "GATEHOUSE_DATA_DIR %s is readable by other users; chmod 700 it",
               gh_cfg.data_dir);
    return 0;
}

/* Applies migrations (apply=1) or checks that none are pending. */
static int migrate(int apply)
{
    const struct store_ops *ops = store_backend();
    struct store_conn *c = NULL;
    if (ops->open(gh_cfg.db_path, &c) != GH_OK) return die("cannot open the database");
    int pending = 0;
    enum gh_err rc = apply ? ops->migrate(c) : ops->pending_migrations(c, &pending);
    ops->close(c);
    if (rc) return die("database migration failed");
    if (pending) return die("the database schema is out of date: run `gatehouse migrate` first");
    return 0;
}

/* Drops sessions and refresh tokens a day after they expired: nothing can
 * use them any more, and reuse detection has no need for them by then. */
static void prune(const struct store_ops *ops, struct store_conn *c)
{
    if (ops->prune(c, gh_now_s() - 86400) != GH_OK) gh_log(GH_LOG_WARN, "prune failed");
}

static int cmd_serve(void)
{
    int rc = load_config();
    if (rc) return rc;
    if (!gh_cfg.signing_key_pem) {
        /* config_load already refused this in production. */
        if (jwt_dev_key(gh_cfg.data_dir, &gh_cfg.signing_key_pem) != GH_OK)
            return die("cannot create the development signing key in GATEHOUSE_DATA_DIR");
    }
    if (jwt_init(gh_cfg.signing_key_pem) != GH_OK)
        return die("GATEHOUSE_SIGNING_KEY is not a usable EC P-256 private key (PEM)");
    if ((rc = migrate(!gh_cfg.production))) goto out;
    if (password_init() != GH_OK) {
        rc = die("cannot hash with the configured Argon2id parameters (memory?)");
        goto out;
    }
    if (authcache_init(20000, 50000, 50000) != GH_OK) {
        rc = die("out of memory");
        goto out;
    }
    if (gh_cfg.production && gh_cfg.issuer_defaulted)
        gh_log(GH_LOG_WARN,
               "GATEHOUSE_ISSUER is not set: tokens name %s as their issuer; set it "
               "to the public base URL apps will verify against",
               gh_cfg.issuer);
    if (!gh_cfg.production)
        gh_log(GH_LOG_WARN,
               "development mode: secrets are generated under %s; set "
               "GATEHOUSE_ENV=production for real use",
               gh_cfg.data_dir);
    server_set_housekeeping(prune, 3600);
    if (server_run(gh_routes, gh_routes_count) != GH_OK) rc = die("server failed; see log");
out:
    authcache_shutdown();
    jwt_shutdown();
    config_free();
    return rc;
}

int main(int argc, char **argv)
{
    umask(077);
    if (sodium_init() < 0) return die("libsodium failed to initialise");
    const char *cmd = argc > 1 ? argv[1] : "help";
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("gatehouse %s\n", GH_VERSION);
        return 0;
    }
    if (argc > 2) return die("too many arguments; see gatehouse --help");
    if (!strcmp(cmd, "serve")) return cmd_serve();
    if (!strcmp(cmd, "migrate")) {
        int rc = load_config();
        if (!rc) rc = migrate(1);
        config_free();
        if (!rc) printf("database %s is up to date\n", gh_cfg.db_path);
        return rc;
    }
    fprintf(stderr, "gatehouse: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
