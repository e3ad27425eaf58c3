/* gatehouse: command-line entry point (serve, migrate, keys, version). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "accounts/email.h"
#include "audit/audit.h"
#include "core/cli_help.h"
#include "audit/failures.h"
#include "core/instance_lock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "credentials/password.h"
#include "http/routes.h"
#include "guard/limit.h"
#include "mail/mail.h"
#include "mfa/mfa_cli.h"
#include "mfa/totp.h"
#include "http/server.h"
#include "sessions/authcache.h"
#include "sessions/cookie.h"
#include "sessions/discovery.h"
#include "sessions/jwt.h"
#include "store/health.h"
#include "store/migrations.h"
#include "store/store.h"
#include "vault/rotate.h"
#include "vault/vault.h"

static const char usage[] =
    "usage: gatehouse <command>\n"
    "\n"
    "Commands:\n"
    "  serve                    run the HTTP server (migrates first in development mode)\n"
    "  migrate                  apply pending database migrations and exit\n"
    "  keys list                list encryption and signing keys\n"
    "  keys rotate --encryption add a data key and re-encrypt every sealed value with it\n"
    "  keys rotate --master     re-wrap the data keys under GATEHOUSE_NEW_MASTER_KEY\n"
    "  keys rotate --signing    add an ES256 signing key (published now, signs after\n"
    "                           GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY seconds)\n"
    "  keys retire <kid>        delete a signing key now (a leaked one): its tokens stop\n"
    "                           verifying; refused for the only key that signs\n"
    "  users role <email> <role> set an account's role: user or admin (admins are the ones\n"
    "                           GATEHOUSE_MFA_REQUIRED=admins covers)\n"
    "  users mfa-reset <email> --reason TEXT  remove a second factor enrolled before the\n"
    "                           address was proved; ends the sessions (audited)\n"
    "  audit verify             check the audit log's hash chain (exit 1 on a break)\n"
    "  audit prune --before T   retention: drop rows older than T (RFC 3339) from the oldest\n"
    "                           end, leaving a checkpoint row\n"
    "  version                  print the version and the commit it was built from\n"
    "  help [command]           show this text, or one command's (also --help, -h,\n"
    "                           and <command> --help)\n"
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

/* An audit row written by a command (actor "system"). */
static void audit_system(struct store_conn *c, const char *action, const char *details)
{
    struct store_audit ev = {.actor = "system", .action = action, .details = details};
    if (!audit_enabled()) return;
    if (store_backend()->audit.append(c, &ev) != GH_OK)
        gh_log(GH_LOG_ERROR, "could not record %s in the audit log", action);
}

/* Opens the database, checks the master key against the keys already
 * sealed in it (before anything is written), migrates (or checks that no
 * migration is pending), and loads the vault and the signing keys. On
 * success *out is an open connection the caller closes. */
static int open_keys(int apply_migrations, struct store_conn **out)
{
    char err[512];
    const struct store_ops *ops = store_backend();
    if (!gh_cfg.master_key) { /* config_load refused this in production */
        if (vault_dev_master_key(gh_cfg.data_dir, &gh_cfg.master_key) != GH_OK)
            return die("cannot create the development master key in GATEHOUSE_DATA_DIR");
    }
    if (gh_cfg.signing_key_pem && jwt_check_pem(gh_cfg.signing_key_pem) != GH_OK)
        return die("GATEHOUSE_SIGNING_KEY is not a usable EC P-256 private key (PEM)");
    uint8_t mk[VAULT_KEYBYTES];
    if (vault_parse_master_key(gh_cfg.master_key, mk, err, sizeof err) != GH_OK) return die(err);
    enum gh_err rc = vault_init(mk);
    gh_wipe(mk, sizeof mk);
    if (rc) return die("cannot set up guarded memory for the keys");

    struct store_conn *c = NULL;
    if (ops->open(gh_cfg.db_path, &c) != GH_OK)
        return die(store_start_error("cannot open the database"));
    int pending = 0;
    if (ops->pending_migrations(c, &pending) != GH_OK) goto fail_db;
    /* Migration 2 made vault_keys: if it is applied, test the key first. */
    if ((int)STORE_MIGRATION_COUNT - pending >= 2) {
        rc = vault_load(ops, c, 0);
        if (rc == GH_ERR_DENIED) {
            ops->close(c);
            return die("GATEHOUSE_MASTER_KEY does not open the keys sealed in this database "
                       "(wrong key?); nothing was changed");
        }
        if (rc) goto fail_db;
    }
    if (apply_migrations) {
        if (ops->migrate(c) != GH_OK) goto fail_db;
    } else if (pending) {
        ops->close(c);
        return die("the database schema is out of date: run `gatehouse migrate` first");
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
                return die("cannot create the development signing key in GATEHOUSE_DATA_DIR");
            }
            pem = dev_pem;
        }
        rc = jwt_key_create(ops, c, pem, gh_now_s(), kid);
        gh_free_secret_str(dev_pem);
        if (rc == GH_ERR_CONFIG) {
            ops->close(c);
            return die("GATEHOUSE_SIGNING_KEY is not a usable EC P-256 private key (PEM)");
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
    return die(store_start_error("database or key setup failed; see the log above"));
}

/* Drops sessions and refresh tokens a day after they expired, the sealed
 * successor pairs of tokens spent longer ago than the reuse grace, and
 * signing keys that no token can still need. */
static void prune(const struct store_ops *ops, struct store_conn *c)
{
    if (ops->upkeep.prune(c, gh_now_s() - 86400) != GH_OK) gh_log(GH_LOG_WARN, "prune failed");
    if (ops->refresh.forget_successors(c, NULL, gh_now_us() - gh_cfg.refresh_grace * 1000000) !=
        GH_OK)
        gh_log(GH_LOG_WARN, "prune of successor pairs failed");
    char kids[8][JWT_KID_MAX + 1];
    size_t n = jwt_keys_unpublished(kids, 8);
    for (size_t i = 0; i < n; i++)
        if (ops->signing_keys.delete(c, kids[i]) == GH_OK) {
            gh_log(GH_LOG_INFO, "signing key %s deleted: every token it signed has expired",
                   kids[i]);
            char details[512];
            snprintf(details, sizeof details, "{\"kind\":\"signing\",\"kid\":\"%s\"}", kids[i]);
            audit_system(c, "keys.deleted", details);
        }
}

/* Picks up keys added by `gatehouse keys rotate` (or another replica). */
static void reload_keys(const struct store_ops *ops, struct store_conn *c)
{
    bool changed = false;
    if (vault_load(ops, c, 0) != GH_OK || jwt_keys_load(ops, c, &changed) != GH_OK)
        gh_log(GH_LOG_ERROR, "key reload failed; serving with the keys already loaded");
    else if (changed)
        authcache_clear_tokens(); /* a removed key's tokens must not stay accepted */
}

/* The newest row the audit verifier has seen (by the server, and in
 * <data dir>/audit.head across commands): a log that later ends before it,
 * or holds another row there, lost its tail. */
static int64_t head_id;
static char head_hash[AUDIT_HASH_HEX + 1];

static void head_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/audit.head", gh_cfg.data_dir);
}

static void head_load(void)
{
    char path[1200], *text = NULL;
    head_path(path, sizeof path);
    if (config_read_file(path, 256, &text) != GH_OK) return;
    long long id = 0;
    char h[AUDIT_HASH_HEX + 1];
    if (sscanf(text, "%lld %64s", &id, h) == 2 && strlen(h) == AUDIT_HASH_HEX) {
        head_id = id;
        memcpy(head_hash, h, sizeof head_hash);
    }
    free(text);
}

static void head_save(const struct audit_verify_result *res)
{
    if (res->head_id <= 0) return;
    head_id = res->head_id;
    memcpy(head_hash, res->head_hash, sizeof head_hash);
    char path[1200], tmp[1210];
    head_path(path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%lld %s\n", (long long)head_id, head_hash);
    if (fclose(f) == 0) rename(tmp, path);
}

static enum gh_err verify_with_head(const struct store_ops *ops, struct store_conn *c, int threads,
                                    struct audit_verify_result *res)
{
    struct store_conn *extra[7] = {NULL};
    int n = 0;
    for (; n < threads - 1 && n < 7; n++)
        if (ops->open(gh_cfg.db_path, &extra[n]) != GH_OK) break;
    if (threads > 1) { /* the command, not the server: read the file as fast as it goes */
        ops->audit.tune_for_scan(c);
        for (int i = 0; i < n; i++)
            ops->audit.tune_for_scan(extra[i]);
    }
    enum gh_err rc =
        audit_verify_parallel(ops, c, extra, n, head_id, head_id ? head_hash : NULL, res);
    for (int i = 0; i < n; i++)
        ops->close(extra[i]);
    if (rc == GH_OK && res->ok) head_save(res);
    return rc;
}

/* Re-walks the audit chain on a schedule; a break is critical. */
static void verify_audit(const struct store_ops *ops, struct store_conn *c)
{
    struct audit_verify_result res;
    /* In the server: one thread, in the background. */
    if (verify_with_head(ops, c, 1, &res) != GH_OK) {
        gh_log(GH_LOG_ERROR, "audit verification could not run (store error)");
        return;
    }
    if (!res.ok) {
        if (audit_chain_status() != 0)
            gh_log(GH_LOG_CRIT, "audit chain broken at row %lld: %s", (long long)res.bad_id,
                   res.reason);
        audit_set_chain_status(0);
    } else {
        /* The head in the log lets a shipped copy anchor the chain too. */
        if (res.rows)
            gh_log(GH_LOG_INFO, "audit chain ok: %lld rows, head %lld %s", (long long)res.rows,
                   (long long)res.head_id, res.head_hash);
        else
            gh_log(GH_LOG_INFO, "audit chain ok: empty");
        audit_set_chain_status(1);
    }
}

static void teardown(void)
{
    limit_shutdown();
    audit_shutdown();
    authcache_shutdown();
    cookie_shutdown();
    jwt_shutdown();
    vault_shutdown();
    config_free();
}

static int cmd_serve(void)
{
    int rc = load_config();
    if (rc) return rc;
    struct store_conn *c = NULL;
    enum gh_err lrc = instance_lock(gh_cfg.listen_host, gh_cfg.listen_port, NULL);
    if (lrc != GH_OK) {
        rc = die(lrc == GH_ERR_CONFIG ? "another process holds the listen address; see the log"
                                      : "cannot lock the listen address; see the log");
        goto out;
    }
    /* The database's lock before anything touches it. One that cannot be
     * taken for a reason of its own (a read-only or full disk) waits for
     * the database's open, whose error names the file and the cause. */
    lrc = instance_lock(gh_cfg.listen_host, gh_cfg.listen_port, gh_cfg.db_path);
    if (lrc == GH_ERR_CONFIG) {
        rc = die("another gatehouse serves this database; see the log");
        goto out;
    }
    if ((rc = open_keys(!gh_cfg.production, &c))) goto out;
    store_backend()->close(c);
    if (lrc != GH_OK) {
        rc = die("cannot lock the database; see the log");
        goto out;
    }
    /* The keys now live in the vault and OpenSSL's secure heap; the text
     * they came from is not needed while serving. */
    gh_free_secret_str(gh_cfg.master_key);
    gh_free_secret_str(gh_cfg.signing_key_pem);
    gh_cfg.master_key = gh_cfg.signing_key_pem = NULL;
    if (mail_init() != GH_OK) {
        rc = die("libcurl failed to initialise");
        goto out;
    }
    if (totp_init() != GH_OK) {
        rc = die("liboath failed to initialise");
        goto out;
    }
    if (password_init() != GH_OK) {
        rc = die("cannot hash with the configured Argon2id parameters (memory?)");
        goto out;
    }
    if (authcache_init(20000, 50000, 50000) != GH_OK) {
        rc = die("out of memory");
        goto out;
    }
    lrc = limit_init();
    if (lrc) {
        rc = die(lrc == GH_ERR_CONFIG ? "the rate limits cannot use Redis (see the log above)"
                                      : "cannot set up the rate limits (out of memory?)");
        goto out;
    }
    char cerr[512] = "";
    if (cookie_init(cerr, sizeof cerr) != GH_OK) {
        rc = die(cerr);
        goto out;
    }
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
    server_add_periodic(prune, 3600, true); /* at start too: restarts must not starve it */
    head_load();
    server_add_periodic(reload_keys, 2, false);
    server_add_periodic(mail_deliver, 1, true);
    if (gh_cfg.audit_verify_interval > 0)
        server_add_periodic(verify_audit, (int)gh_cfg.audit_verify_interval, true);
    discovery_log_start();
    store_health_watch();
    server_add_periodic(store_health_probe, 2, false);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a failed write (EFBIG), not death */
    server_add_periodic(audit_failures_flush, gh_cfg.audit_failure_window < 10 ? 1 : 5, false);
    if (server_run(gh_routes, gh_routes_count) != GH_OK) rc = die("server failed; see log");
    audit_failures_flush_all(); /* summaries of windows still open */
    gh_log(rc ? GH_LOG_ERROR : GH_LOG_INFO, "gatehouse stopped%s", rc ? " after an error" : "");
    totp_shutdown();
    mail_shutdown();
out:
    teardown();
    return rc;
}

static int cmd_migrate(void)
{
    int rc = load_config();
    struct store_conn *c = NULL;
    if (!rc) rc = open_keys(1, &c);
    if (!rc) {
        store_backend()->close(c);
        printf("database %s is up to date\n", gh_cfg.db_path);
    }
    teardown();
    return rc;
}

/* keys retire <kid>: a leaked signing key goes at once, not after its
 * tokens expire. Some other key must already sign, so that tokens keep
 * being issued; the deletion and its audit row are one transaction. */
static int retire_signing_key(const struct store_ops *ops, struct store_conn *c, const char *kid)
{
    struct store_signing_key *sk = calloc(16, sizeof *sk);
    size_t ns = 0;
    int rc = 0;
    if (!sk || ops->signing_keys.list(c, sk, 16, &ns) != GH_OK) {
        rc = die("cannot list keys");
        goto out;
    }
    bool found = false, other_signs = false;
    int64_t now = gh_now_s();
    for (size_t i = 0; i < ns; i++) {
        if (!strcmp(sk[i].kid, kid))
            found = true;
        else if (sk[i].activates_at <= now)
            other_signs = true;
    }
    if (!found) {
        rc = die("no signing key has that kid (see gatehouse keys list)");
        goto out;
    }
    if (!other_signs) {
        rc = die("no other key signs yet: first run GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY=0 "
                 "gatehouse keys rotate --signing, then retire this key");
        goto out;
    }
    char details[160];
    snprintf(details, sizeof details, "{\"kind\":\"signing\",\"kid\":\"%s\"}", kid);
    struct store_audit ev = {.actor = "system", .action = "keys.retired", .details = details};
    enum gh_err e = ops->tx.begin_write(c);
    if (!e) e = ops->signing_keys.delete(c, kid);
    if (!e && audit_enabled()) e = ops->audit.append(c, &ev);
    if (!e)
        e = ops->tx.commit(c);
    else
        ops->tx.rollback(c);
    if (e) {
        rc = die("could not retire the key; nothing was changed");
        goto out;
    }
    printf("signing key %s retired: running servers stop publishing it and refuse its tokens "
           "within seconds\n",
           kid);
out:
    if (sk) gh_wipe(sk, 16 * sizeof *sk);
    free(sk);
    return rc;
}

static int cmd_keys(int argc, char **argv)
{
    const struct store_ops *ops = store_backend();
    const char *sub = argc > 2 ? argv[2] : "";
    const char *opt = argc > 3 ? argv[3] : "";
    int rotate_enc = !strcmp(sub, "rotate") && !strcmp(opt, "--encryption") && argc == 4;
    int rotate_sig = !strcmp(sub, "rotate") && !strcmp(opt, "--signing") && argc == 4;
    int rotate_master = !strcmp(sub, "rotate") && !strcmp(opt, "--master") && argc == 4;
    int list = !strcmp(sub, "list") && argc == 3;
    int retire = !strcmp(sub, "retire") && argc == 4 && opt[0] != '-';
    if (!rotate_enc && !rotate_sig && !rotate_master && !list && !retire) {
        fprintf(stderr, "gatehouse: usage: gatehouse keys list | keys rotate --encryption | "
                        "keys rotate --signing | keys rotate --master | keys retire <kid>\n");
        return 2;
    }
    int rc = load_config();
    struct store_conn *c = NULL;
    if (!rc) rc = open_keys(0, &c);
    if (rc) {
        teardown();
        return rc;
    }
    if (rotate_enc) {
        struct vault_rotation r;
        enum gh_err e = vault_rotate(ops, c, &r);
        if (e) {
            rc = die(e == GH_ERR_CONFLICT ? "values kept changing during the rotation; run it again"
                                          : "rotation failed; run it again to resume");
        } else {
            char details[160];
            snprintf(details, sizeof details,
                     "{\"kind\":\"encryption\",\"kid\":\"%s\",\"resealed\":%zu,\"retired\":%zu}",
                     r.new_kid, r.resealed, r.retired);
            audit_system(c, "keys.rotated", details);
            printf("encryption key %s now seals; %zu value(s) re-encrypted, %zu old key(s) "
                   "deleted%s\n",
                   r.new_kid, r.resealed, r.retired,
                   r.resumed ? " (resumed an interrupted rotation)" : "");
        }
    } else if (rotate_master) {
        /* The new key comes like the old one: GATEHOUSE_NEW_MASTER_KEY(_FILE). */
        char *text = NULL, err[512];
        uint8_t nk[VAULT_KEYBYTES];
        size_t n = 0;
        if (config_env_secret("GATEHOUSE_NEW_MASTER_KEY", &text, err, sizeof err) != GH_OK) {
            rc = die(err);
        } else if (!text) {
            rc = die("set GATEHOUSE_NEW_MASTER_KEY (or GATEHOUSE_NEW_MASTER_KEY_FILE) to the new "
                     "master key");
        } else if (vault_parse_master_key(text, nk, err, sizeof err) != GH_OK) {
            rc = die(err);
        } else if (vault_rewrap(ops, c, nk, &n) != GH_OK) {
            rc = die("re-wrapping failed; nothing was changed");
        } else {
            char details[64];
            snprintf(details, sizeof details, "{\"kind\":\"master\",\"rewrapped\":%zu}", n);
            audit_system(c, "keys.rotated", details);
            printf("%zu data key(s) re-wrapped under the new master key. Now set "
                   "GATEHOUSE_MASTER_KEY to the new key and restart every server; until then "
                   "running servers keep their keys but cannot load new ones.\n",
                   n);
        }
        gh_wipe(nk, sizeof nk);
        gh_free_secret_str(text);
    } else if (retire) {
        rc = retire_signing_key(ops, c, opt);
    } else if (rotate_sig) {
        char kid[JWT_KID_MAX + 1];
        int64_t at = gh_now_s() + gh_cfg.signing_activation_delay;
        if (jwt_key_create(ops, c, NULL, at, kid) != GH_OK) {
            rc = die("could not add a signing key");
        } else {
            char ts[GH_RFC3339_LEN + 1], details[160];
            gh_rfc3339(ts, at);
            snprintf(details, sizeof details,
                     "{\"kind\":\"signing\",\"kid\":\"%s\",\"activates_at\":\"%s\"}", kid, ts);
            audit_system(c, "keys.rotated", details);
            printf("signing key %s published now; it signs from %s\n", kid, ts);
        }
    } else {
        struct store_vault_key *vk = calloc(VAULT_MAX_KEYS, sizeof *vk);
        struct store_signing_key *sk = calloc(16, sizeof *sk);
        size_t nv = 0, ns = 0;
        char cur[VAULT_KID_LEN + 1], ts[GH_RFC3339_LEN + 1];
        vault_current_kid(cur);
        if (!vk || !sk || ops->vault_keys.list(c, vk, VAULT_MAX_KEYS, &nv) ||
            ops->signing_keys.list(c, sk, 16, &ns)) {
            rc = die("cannot list keys");
        } else {
            for (size_t i = 0; i < nv; i++) {
                gh_rfc3339(ts, vk[i].created_at / 1000000);
                printf("encryption %s created %s%s\n", vk[i].kid, ts,
                       strcmp(vk[i].kid, cur) ? "" : " (seals)");
            }
            const char *signer = jwt_kid();
            for (size_t i = 0; i < ns; i++) {
                gh_rfc3339(ts, sk[i].activates_at);
                printf("signing %s active from %s%s\n", sk[i].kid, ts,
                       strcmp(sk[i].kid, signer) ? "" : " (signs)");
            }
        }
        if (sk) gh_wipe(sk, 16 * sizeof *sk);
        free(vk);
        free(sk);
    }
    ops->close(c);
    teardown();
    return rc;
}

/* --before: an RFC 3339 UTC time ("2026-11-24T05:22:04Z", optional
 * fraction) that is a real date, rewritten in the stored form with six
 * fraction digits so the textual comparison with occurred_at is exact. */
static bool normalize_before(const char *t, char out[64])
{
    int y, mo, d, h, mi, sec, n = 0;
    if (strlen(t) > 40 ||
        sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    const char *p = t + 19;
    char frac[7] = "000000";
    if (*p == '.') {
        size_t k = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (k < 6) frac[k++] = *p;
        if (k == 0) return false;
    }
    if (strcmp(p, "Z") != 0) return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t tt = timegm(&tm);
    struct tm back;
    /* timegm normalises 2024-13-45 into another date: refuse anything that
     * does not come back unchanged. */
    if (tt == (time_t)-1 || !gmtime_r(&tt, &back) || back.tm_year != y - 1900 ||
        back.tm_mon != mo - 1 || back.tm_mday != d || back.tm_hour != h || back.tm_min != mi ||
        back.tm_sec != sec)
        return false;
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", y, mo, d, h, mi, sec, frac);
    return true;
}

/* users role <email> <user|admin>: the only way to make an admin until an
 * admin API exists. Audited as role.changed with the change in one
 * transaction. Applies from the account's next sign-in. */
static int cmd_users(int argc, char **argv)
{
    const struct store_ops *ops = store_backend();
    struct mfa_cli_reset mr;
    int mrc = argc > 2 && !strcmp(argv[2], "mfa-reset") ? mfa_cli_reset_parse(argc, argv, &mr) : -2;
    if (mrc >= 0) return mrc;
    if (mrc == -1) { /* logic in mfa/mfa_cli.c */
        struct store_conn *c = NULL;
        if (!(mrc = load_config()) && !(mrc = open_keys(0, &c)))
            mrc = mfa_cli_reset_run(ops, c, &mr);
        if (c) ops->close(c);
        teardown();
        return mrc;
    }
    if (argc != 5 || strcmp(argv[2], "role") != 0) {
        fprintf(stderr, "gatehouse: usage: gatehouse users role <email> <user|admin>\n"
                        "       gatehouse users mfa-reset <email> --reason TEXT\n");
        return 2;
    }
    const char *role = argv[4];
    if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)
        return die("the role is user or admin");
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(argv[3], strlen(argv[3]), email, key) != GH_OK)
        return die("that is not an email address");
    int rc = load_config();
    struct store_conn *c = NULL;
    if (!rc) rc = open_keys(0, &c); /* and the audit log's keys */
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err e = GH_OK;
    if (!rc && (e = ops->users.by_email_key(c, key, &u)) != GH_OK)
        rc = die(e == GH_ERR_NOT_FOUND ? "no account has that address" : "cannot read the account");
    if (!rc && strcmp(u.role, role) == 0) {
        printf("%s is already %s\n", email, role);
    } else if (!rc) {
        char details[96];
        snprintf(details, sizeof details, "{\"from\":\"%s\",\"to\":\"%s\"}", u.role, role);
        struct store_audit ev = {
            .actor = "system", .action = "role.changed", .target = u.id, .details = details};
        if (ops->users.set_role(c, u.id, role, audit_enabled() ? &ev : NULL) != GH_OK)
            rc = die("could not change the role; nothing was changed");
        else
            printf("%s is now %s (from its next sign-in)\n", email, role);
    }
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (c) ops->close(c);
    teardown();
    return rc;
}

static int cmd_audit(int argc, char **argv)
{
    const struct store_ops *ops = store_backend();
    const char *sub = argc > 2 ? argv[2] : "";
    int verify = !strcmp(sub, "verify") && argc == 3;
    int prune_cmd = !strcmp(sub, "prune") && argc == 5 && !strcmp(argv[3], "--before");
    int fill = !strcmp(sub, "fill") && argc == 4; /* development: benchmark data */
    if (!verify && !prune_cmd && !fill) {
        fprintf(stderr, "gatehouse: usage: gatehouse audit verify | audit prune --before "
                        "<RFC 3339 time>\n");
        return 2;
    }
    char before[64];
    if (prune_cmd && !normalize_before(argv[4], before))
        return die("--before takes a valid RFC 3339 UTC time, e.g. 2026-01-01T00:00:00Z");
    /* The audit commands need the database only: no keys are loaded or
     * created, so verify is read-only and runs on a copied file too. */
    int rc = load_config();
    struct store_conn *c = NULL;
    int pending = 0;
    if (!rc && ops->open(gh_cfg.db_path, &c) != GH_OK) rc = die("cannot open the database");
    if (!rc && (ops->pending_migrations(c, &pending) != GH_OK || pending))
        rc = die("the database schema is out of date: run `gatehouse migrate` first");
    if (rc) {
        if (c) ops->close(c);
        teardown();
        return rc;
    }
    head_load();
    if (verify) {
        struct audit_verify_result res;
        int64_t t0 = gh_mono_us();
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (verify_with_head(ops, c, ncpu < 1 ? 1 : (int)ncpu, &res) != GH_OK) {
            rc = die("could not read the audit log");
        } else if (res.ok) {
            double s = (double)(gh_mono_us() - t0) / 1e6;
            printf("ok %lld rows\n", (long long)res.rows);
            fprintf(stderr, "verified in %.3f s (%.0f rows/s)\n", s, s > 0 ? res.rows / s : 0.0);
        } else {
            /* reason starts "row N: ..."; print the id once */
            const char *why = res.reason;
            if (strncmp(why, "row ", 4) == 0 && strstr(why, ": ")) why = strstr(why, ": ") + 2;
            printf("broken at row %lld: %s\n", (long long)res.bad_id, why);
            rc = 1;
        }
    } else if (prune_cmd) {
        struct store_audit ev = {.actor = "system", .action = "audit.checkpoint"};
        int64_t deleted = 0;
        if (ops->audit.prune(c, before, &ev, &deleted) != GH_OK) {
            rc = die("retention failed");
        } else if (deleted == 0) {
            printf("0 row(s) older than %s: nothing removed and no checkpoint written (the "
                   "newest row is always kept)\n",
                   argv[4]);
        } else {
            printf("%lld row(s) older than %s removed; checkpoint recorded\n", (long long)deleted,
                   argv[4]);
        }
    } else {
        int64_t n = 0;
        if (gh_cfg.production || gh_parse_i64(argv[3], 1, 100000000, &n)) {
            rc = die("audit fill N is a development-only benchmark helper");
        } else {
            struct store_audit ev = {.actor = "system",
                                     .action = "bench.fill",
                                     .target = "00000000-0000-4000-8000-000000000000",
                                     .ip = "127.0.0.1",
                                     .user_agent = "bench",
                                     .request_id = "bench",
                                     .details = "{\"n\":1}"};
            enum gh_err e = GH_OK;
            for (int64_t i = 0; e == GH_OK && i < n; i += 10000) {
                if ((e = ops->tx.begin_write(c))) break;
                for (int64_t j = i; e == GH_OK && j < n && j < i + 10000; j++)
                    e = ops->audit.append(c, &ev);
                if (e == GH_OK)
                    e = ops->tx.commit(c);
                else
                    ops->tx.rollback(c);
            }
            if (e)
                rc = die("fill failed");
            else
                printf("appended %lld rows\n", (long long)n);
        }
    }
    ops->close(c);
    teardown();
    return rc;
}

int main(int argc, char **argv)
{
    umask(077);
    if (sodium_init() < 0) return die("libsodium failed to initialise");
    /* OpenSSL keeps private-key numbers (the ES256 keys) in its secure heap
     * when one exists: mlock'd, guard-paged, cleared on free. */
    if (CRYPTO_secure_malloc_init(64 * 1024, 32) != 1)
        gh_log(GH_LOG_WARN, "OpenSSL secure heap unavailable; keys use the normal heap");
    const char *cmd = argc > 1 ? argv[1] : "help";
    int rc;
    if (cli_help_asked(argc, argv)) { /* before anything is read or written */
        rc = cli_help_print(argc, argv, usage, stdout);
    } else if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("gatehouse %s (commit %s)\n", GH_VERSION, gh_build_commit);
        rc = 0;
    } else if (!strcmp(cmd, "keys")) {
        rc = cmd_keys(argc, argv);
    } else if (!strcmp(cmd, "audit")) {
        rc = cmd_audit(argc, argv);
    } else if (!strcmp(cmd, "users")) {
        rc = cmd_users(argc, argv);
    } else if (argc > 2) {
        rc = die("too many arguments; see gatehouse --help");
    } else if (!strcmp(cmd, "serve")) {
        rc = cmd_serve();
    } else if (!strcmp(cmd, "migrate")) {
        rc = cmd_migrate();
    } else {
        fprintf(stderr, "gatehouse: unknown command '%s'\n\n%s", cmd, usage);
        rc = 2;
    }
    CRYPTO_secure_malloc_done();
    return rc;
}
