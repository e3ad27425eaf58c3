#include "http/serve.h"

#include <signal.h>
#include <stdio.h>

#include "audit/audit_head.h"
#include "audit/failures.h"
#include "backup/backup_job.h"
#include "cli/startup.h"
#include "core/config.h"
#include "core/instance_lock.h"
#include "core/log.h"
#include "core/util.h"
#include "credentials/password.h"
#include "gate/gate.h"
#include "gate/gate_http.h"
#include "guard/limit.h"
#include "http/routes.h"
#include "http/server.h"
#include "mail/mail.h"
#include "mfa/totp.h"
#include "pages/form_token.h"
#include "pages/pages_config.h"
#include "sessions/authcache.h"
#include "sessions/changes.h"
#include "sessions/cookie.h"
#include "sessions/discovery.h"
#include "sessions/sessions_jobs.h"
#include "store/health.h"
#include "store/pg.h"
#include "store/store.h"

int serve_cmd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int rc = cli_load_config();
    if (rc) return rc;
    struct store_conn *c = NULL;
    enum gh_err lrc = instance_lock(gh_cfg.listen_host, gh_cfg.listen_port, NULL);
    if (lrc != GH_OK) {
        rc = cli_die(lrc == GH_ERR_CONFIG ? "another process holds the listen address; see the log"
                                          : "cannot lock the listen address; see the log");
        goto out;
    }
    /* The database's lock before anything touches it. One that cannot be
     * taken for a reason of its own (a read-only or full disk) waits for
     * the database's open, whose error names the file and the cause. */
    /* PostgreSQL is shared by design: replicas serve it together. */
    lrc = store_pg_selected()
              ? GH_OK
              : instance_lock(gh_cfg.listen_host, gh_cfg.listen_port, gh_cfg.db_path);
    if (lrc == GH_ERR_CONFIG) {
        rc = cli_die("another gatehouse serves this database; see the log");
        goto out;
    }
    /* Pending migrations: applied in development, and in production on
     * PostgreSQL when the owner role's URL is given (replicas starting
     * together migrate once, under an advisory lock); else refused. */
    bool migrate = !gh_cfg.production || (store_pg_selected() && store_pg_cfg.migrate_url);
    rc = cli_open_keys(migrate, &c);
    /* The owner's URL served the migration just run; the retention role's
     * is only for `gatehouse audit prune`: neither stays in a serving
     * process's memory (nothing below reads them). */
    store_pg_config_forget_role_urls();
    if (rc) goto out;
    /* On PostgreSQL, never as a role that could rewrite the audit log
     * (the owner, a superuser: docs/postgresql.md, "Roles"). */
    char role_err[512];
    if (store_pg_selected() && store_pg_check_runtime_role(c, role_err, sizeof role_err)) {
        store_backend()->close(c);
        rc = cli_die(role_err);
        goto out;
    }
    /* The change feed's position before anything is cached: no change made
     * from now on by another process is missed. */
    enum gh_err frc = changes_init(store_backend(), c);
    store_backend()->close(c);
    if (frc != GH_OK) {
        rc = cli_die("cannot read the change events; see the log");
        goto out;
    }
    if (lrc != GH_OK) {
        rc = cli_die("cannot lock the database; see the log");
        goto out;
    }
    /* The keys now live in the vault and OpenSSL's secure heap; the text
     * they came from is not needed while serving. */
    gh_free_secret_str(gh_cfg.master_key);
    gh_free_secret_str(gh_cfg.signing_key_pem);
    gh_cfg.master_key = gh_cfg.signing_key_pem = NULL;
    if (mail_init() != GH_OK) {
        rc = cli_die("libcurl failed to initialise");
        goto out;
    }
    if (totp_init() != GH_OK) {
        rc = cli_die("liboath failed to initialise");
        goto out;
    }
    if (password_init() != GH_OK) {
        rc = cli_die("cannot hash with the configured Argon2id parameters (memory?)");
        goto out;
    }
    if (authcache_init((size_t)gh_cfg.auth_cache_mb << 20) != GH_OK) {
        rc = cli_die("out of memory");
        goto out;
    }
    lrc = limit_init();
    if (lrc) {
        rc = cli_die(lrc == GH_ERR_CONFIG ? "the rate limits cannot use Redis (see the log above)"
                                          : "cannot set up the rate limits (out of memory?)");
        goto out;
    }
    char cerr[512] = "";
    if (cookie_init(cerr, sizeof cerr) != GH_OK || pages_form_token_init(cerr, sizeof cerr)) {
        rc = cli_die(cerr);
        goto out;
    }
    if (gate_init(cerr, sizeof cerr) != GH_OK) { /* a bad rules file names file:line */
        rc = cli_die(cerr);
        goto out;
    }
    if (pages_assets_init(cerr, sizeof cerr) != GH_OK) { /* the logo, the stylesheet */
        rc = cli_die(cerr);
        goto out;
    }
    server_on_reload(gate_http_reload);
    if (!gh_cfg.rate_limits)
        gh_log(GH_LOG_WARN, "GATEHOUSE_RATE_LIMITS=off: no rate limits (load tests only)");
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
    server_add_periodic(sessions_job_prune, 3600,
                        true); /* at start too: restarts must not starve it */
    audit_head_load();
    server_add_periodic(sessions_job_reload_keys, 2, false);
    server_add_periodic(changes_job_poll, 1, false); /* the CLI's changes reach the cache */
    server_add_periodic(mail_deliver, 1, true);
    if (gh_cfg.audit_verify_interval > 0)
        server_add_periodic(audit_job_verify, (int)gh_cfg.audit_verify_interval, true);
    discovery_set_routes(gh_routes, gh_routes_count);
    discovery_log_start();
    store_health_watch();
    server_add_periodic(store_health_probe, 2, false);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a failed write (EFBIG), not death */
    server_add_periodic(audit_job_extend, 600, true); /* partitions ahead (PostgreSQL) */
    server_add_periodic(audit_failures_flush, gh_cfg.audit_failure_window < 10 ? 1 : 5, false);
    if (gh_cfg.backup_interval > 0) { /* on a worker: a backup takes seconds */
        server_add_periodic(backup_job, (int)gh_cfg.backup_interval, false);
        gh_log(GH_LOG_INFO, "scheduled backups every %lld s into %s, kept %lld days",
               (long long)gh_cfg.backup_interval, gh_cfg.backup_dir,
               (long long)gh_cfg.backup_keep_days);
    }
    /* PostgreSQL: other replicas' changes are pushed (LISTEN/NOTIFY); the
     * cache is bypassed until the listener is up and the feed caught up. */
    if (changes_listen_start() != GH_OK) {
        rc = cli_die("cannot start the change feed's listener");
        goto out;
    }
    if (server_run(gh_routes, gh_routes_count) != GH_OK) rc = cli_die("server failed; see log");
    changes_listen_stop();      /* before the store and the cache go */
    audit_failures_flush_all(); /* summaries of windows still open */
    gh_log(rc ? GH_LOG_ERROR : GH_LOG_INFO, "gatehouse stopped%s", rc ? " after an error" : "");
    totp_shutdown();
    mail_shutdown();
out:
    pages_assets_free();
    gate_shutdown();
    cli_teardown();
    return rc;
}
