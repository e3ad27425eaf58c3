#include "cli/startup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "accounts/accounts_config.h"
#include "audit/audit.h"
#include "audit/audit_config.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "federation/providers.h"
#include "gate/gate_config.h"
#include "guard/guard_config.h"
#include "guard/limit.h"
#include "mail/mail_config.h"
#include "pages/form_token.h"
#include "pages/pages_config.h"
#include "sessions/authcache.h"
#include "sessions/cookie.h"
#include "sessions/jwt.h"
#include "sessions/sessions_config.h"
#include "store/health.h"
#include "store/migrations.h"
#include "store/pg.h"
#include "vault/vault.h"
#include "vault/vault_config.h"

int cli_die(const char *msg)
{
    fprintf(stderr, "gatehouse: %s\n", msg);
    return 2;
}

/* Each module's settings, read after core's (in this order: the first
 * bad setting is the one named). */
static enum gh_err (*const module_config[])(char *err, size_t errlen) = {
    sessions_config_load, accounts_config_load, guard_config_load, audit_config_load,
    mail_config_load,     vault_config_load,    gate_config_load,  pages_config_load,
    fed_config_load,      store_pg_config_load,
};

enum gh_err cli_config_read(char *err, size_t errlen)
{
    enum gh_err rc = config_load(err, errlen);
    for (size_t i = 0; rc == GH_OK && i < sizeof module_config / sizeof module_config[0]; i++)
        rc = module_config[i](err, errlen);
    return rc == GH_OK ? config_check_production(err, errlen) : rc;
}

int cli_load_config(void)
{
    char err[1400];
    if (cli_config_read(err, sizeof err) != GH_OK) return cli_die(err);
    if (mkdir(gh_cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, sizeof err, "cannot create GATEHOUSE_DATA_DIR %s: %s", gh_cfg.data_dir,
                 strerror(errno));
        return cli_die(err);
    }
    struct stat st;
    if (stat(gh_cfg.data_dir, &st) == 0 && (st.st_mode & 077))
        gh_log(GH_LOG_WARN, "GATEHOUSE_DATA_DIR %s is readable by other users; chmod 700 it",
               gh_cfg.data_dir);
    return 0;
}

/* Applies pending migrations. On PostgreSQL with
 * GATEHOUSE_DATABASE_MIGRATE_URL they run as the owner role on a
 * connection of their own (under the advisory lock, pg.c), and *c is
 * reopened as the runtime role after. */
static enum gh_err migrate_now(const struct store_ops *ops, struct store_conn **c)
{
    if (!store_pg_selected() || !store_pg_cfg.migrate_url) return ops->migrate(*c);
    ops->close(*c);
    *c = NULL;
    struct store_conn *owner = NULL;
    enum gh_err rc = store_pg_use(store_pg_cfg.migrate_url, 1);
    if (rc == GH_OK) rc = ops->open(gh_cfg.db_path, &owner);
    if (rc == GH_OK) rc = ops->migrate(owner);
    ops->close(owner);
    enum gh_err back = store_pg_use(store_pg_cfg.url, store_pg_cfg.pool);
    if (back == GH_OK) back = ops->open(gh_cfg.db_path, c);
    return rc ? rc : back;
}

int cli_open_keys(int apply_migrations, struct store_conn **out)
{
    char err[512];
    const struct store_ops *ops = store_backend();
    if (!gh_cfg.master_key) { /* config_load refused this in production */
        if (vault_dev_master_key(gh_cfg.data_dir, &gh_cfg.master_key) != GH_OK)
            return cli_die("cannot create the development master key in GATEHOUSE_DATA_DIR");
    }
    if (gh_cfg.signing_key_pem && jwt_check_pem(gh_cfg.signing_key_pem) != GH_OK)
        return cli_die("GATEHOUSE_SIGNING_KEY is not a usable EC P-256 private key (PEM)");
    uint8_t mk[VAULT_KEYBYTES];
    if (vault_parse_master_key(gh_cfg.master_key, mk, err, sizeof err) != GH_OK)
        return cli_die(err);
    enum gh_err rc = vault_init(mk);
    gh_wipe(mk, sizeof mk);
    if (rc) return cli_die("cannot set up guarded memory for the keys");

    struct store_conn *c = NULL;
    if (ops->open(gh_cfg.db_path, &c) != GH_OK)
        return cli_die(store_start_error("cannot open the database"));
    int pending = 0;
    if (ops->pending_migrations(c, &pending) != GH_OK) goto fail_db;
    /* Migration 2 made vault_keys: if it is applied, test the key first. */
    if ((int)STORE_MIGRATION_COUNT - pending >= 2) {
        rc = vault_load(ops, c, 0);
        if (rc == GH_ERR_DENIED) {
            ops->close(c);
            return cli_die("GATEHOUSE_MASTER_KEY does not open the keys sealed in this database "
                           "(wrong key?); nothing was changed");
        }
        if (rc) goto fail_db;
    }
    if (apply_migrations && pending) {
        if (migrate_now(ops, &c) != GH_OK) goto fail_db;
    } else if (pending) {
        ops->close(c);
        return cli_die(store_pg_selected()
                           ? "the database schema is out of date: run `gatehouse migrate` first "
                             "(or set GATEHOUSE_DATABASE_MIGRATE_URL, the owner role, for serve "
                             "to apply it)"
                           : "the database schema is out of date: run `gatehouse migrate` first");
    }
    if (vault_load(ops, c, 1) != GH_OK) goto fail_db;
    if (audit_init(gh_cfg.audit) != GH_OK) goto fail_db;

    /* The first signing key: imported from GATEHOUSE_SIGNING_KEY (or the dev
     * signing-key.pem) or generated, only while the store has none. Never
     * re-imported later: that would resurrect a key a rotation retired. */
    char kid[JWT_KID_MAX + 1];
    rc = jwt_keys_load(ops, c, NULL);
    if (rc == GH_ERR_NOT_FOUND) {
        char *dev_pem = NULL;
        const char *pem = gh_cfg.signing_key_pem;
        if (!pem && !gh_cfg.production) {
            if (jwt_dev_key(gh_cfg.data_dir, &dev_pem) != GH_OK) {
                ops->close(c);
                return cli_die("cannot create the development signing key in GATEHOUSE_DATA_DIR");
            }
            pem = dev_pem;
        }
        rc = jwt_key_create(ops, c, pem, gh_now_s(), kid);
        gh_free_secret_str(dev_pem);
        if (rc == GH_ERR_CONFIG) {
            ops->close(c);
            return cli_die("GATEHOUSE_SIGNING_KEY is not a usable EC P-256 private key (PEM)");
        }
        if (rc) goto fail_db;
        gh_log(GH_LOG_INFO, "signing key %s %s and sealed in the database", kid,
               pem ? "imported" : "generated");
        /* Not an audit row: the log starts at the first user action, and the
         * first key is part of installing, like the schema. */
        rc = jwt_keys_load(ops, c, NULL);
    } else if (rc == GH_OK && gh_cfg.signing_key_pem) {
        gh_log(GH_LOG_WARN, "GATEHOUSE_SIGNING_KEY is ignored: the database already holds signing "
                            "keys (use `gatehouse keys rotate --signing`)");
    }
    if (rc) goto fail_db;
    *out = c;
    return 0;
fail_db:
    ops->close(c);
    return cli_die(store_start_error("database or key setup failed; see the log above"));
}

void cli_teardown(void)
{
    limit_shutdown();
    audit_shutdown();
    authcache_shutdown();
    cookie_shutdown();
    pages_form_token_shutdown();
    jwt_shutdown();
    vault_shutdown();
    guard_config_free();
    fed_config_free();
    store_pg_config_free();
    config_free();
}
