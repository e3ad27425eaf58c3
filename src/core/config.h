/* Runtime configuration, read once at start from GATEHOUSE_* environment
 * variables (README.md lists every one). Any secret may instead come from
 * <NAME>_FILE. This file reads the environment and files, fills the
 * instance's own settings and enforces the production rules; each module
 * parses and checks its own settings with the helpers below (guard/,
 * vault/, mail/, sessions/, audit/, accounts/ *_config.c), called in turn
 * by cli/startup.c (decision 0022). Settings of plain C types stay in
 * gh_cfg, the one place the rest of the code reads them; a module's own
 * types (CIDR lists, origins, the Redis target) stay in the module
 * (guard/guard_config.h). Filled once at start and then read-only, so every
 * thread may read it without locks. Core includes no module header. */
#ifndef GH_CORE_CONFIG_H
#define GH_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "core/err.h"

#define GH_LIMIT_RULES 16

/* One rate-limit rule: count requests per period_s seconds (bursts up to
 * count). The rules are enum limit_rule in guard/limit.h. */
struct gh_limit_rule {
    int count;
    int64_t period_s;
};

struct gh_config {
    bool production;
    char listen_host[256];
    int listen_port;
    char data_dir[1024];
    char db_path[1100];
    char issuer[512];
    bool issuer_defaulted; /* GATEHOUSE_ISSUER unset: derived from the listen address */
    char audience[256];
    char brand[64];
    int64_t access_ttl;    /* seconds */
    int64_t refresh_ttl;   /* seconds */
    int64_t refresh_grace; /* seconds; 0 disables */
    uint64_t argon2_memory_kib;
    uint64_t argon2_iterations;
    int password_min_score; /* zxcvbn-style score 0..4 */
    size_t max_body;
    int loops;        /* event loops (one per core) */
    int workers;      /* worker threads for database work */
    int hash_workers; /* worker threads for requests that run Argon2id */
    bool rate_limits; /* GATEHOUSE_RATE_LIMITS (off only outside production) */
    struct gh_limit_rule limits[GH_LIMIT_RULES]; /* GATEHOUSE_LIMIT_<RULE> */
    /* The trusted proxies, the client-IP header, the metrics allowlist, the
     * CORS origins and Redis are the guard's types: proxy_cfg (guard/proxy.h),
     * cors_cfg (guard/cors.h), limit_redis_cfg (guard/limit_redis.h). */
    int ipv6_prefix;               /* GATEHOUSE_IPV6_PREFIX: per-IP budgets key IPv6 by it */
    int audit_failure_rows;        /* GATEHOUSE_AUDIT_FAILURE_ROWS: rows per kind and */
    int64_t audit_failure_window;  /* client per window (seconds), then one summary */
    int lockout_threshold;         /* GATEHOUSE_LOCKOUT_THRESHOLD; 0 = no lockout */
    int64_t lockout_max_delay;     /* GATEHOUSE_LOCKOUT_MAX_DELAY, seconds */
    int mfa_required;              /* 0 off, 1 admins, 2 all (GATEHOUSE_MFA_REQUIRED) */
    bool audit;                    /* GATEHOUSE_AUDIT=off only outside production */
    int64_t audit_verify_interval; /* seconds; 0 = never re-verify while serving */
    /* Backups (backup/backup_config.c): GATEHOUSE_BACKUP_DIR ("": <data
     * dir>/backups), GATEHOUSE_BACKUP_INTERVAL (seconds; 0 = no schedule)
     * and GATEHOUSE_BACKUP_KEEP_DAYS. */
    char backup_dir[1024];
    int64_t backup_interval;
    int64_t backup_keep_days;
    int64_t reauth_window; /* seconds after sign-in a session may add a factor unasked */
    int64_t clock_skew;    /* seconds of tolerated clock difference (iat, key retirement) */
    int64_t signing_activation_delay; /* seconds before a rotated-in key signs */
    /* PEM of an ES256 signing key to import (optional), and the master key
     * text (required in production; generated in dev mode). Heap, wiped and
     * freed by config_free(). */
    char *signing_key_pem;
    char *master_key;
    /* Mail (issue 4). smtp_url NULL: development writes .eml files under
     * <data dir>/outbox instead of sending. */
    char public_url[512];
    char *smtp_url, *smtp_user, *smtp_password;
    char smtp_from[256];
    char smtp_ca_file[1024]; /* "": the system's CAs */
    bool smtp_starttls;
    int64_t magic_link_ttl;
    /* GATEHOUSE_SESSION_MAX_AGE: seconds from sign-in after which refresh is
     * refused; 0 = no limit. */
    int64_t session_max_age;
    bool magic_link_signup; /* false under GATEHOUSE_SIGNUP=closed */
    /* GATEHOUSE_SIGNUP=closed: no path creates an account (password
     * sign-up, magic-link sign-up, federation); accounts_config.c. */
    bool signup_closed;
    char template_dir[1024]; /* "": built-in email texts */
    int email_verification;  /* 0 off, 1 on (mail a link), 2 required before sign-in */
    /* Cookie mode over plain HTTP (GATEHOUSE_INSECURE_DEV_COOKIES=on):
     * development only, public URL on loopback; cookies lose Secure and the
     * __Host- prefix (sessions/cookie.h). */
    bool insecure_dev_cookies;
    /* GATEHOUSE_COOKIE_DOMAIN: the parent domain the session cookie is
     * shared under ("example.com", lower case, no leading dot); "" = none
     * (a host-only __Host- cookie). Checked by sessions_config.c. */
    char cookie_domain[254];
    /* GATEHOUSE_AUTH_CACHE_MB: the auth cache's memory budget, every table
     * together (sessions/authcache.h). Read by sessions_config.c. */
    int64_t auth_cache_mb;
    /* Connection cap (http/conn.c); 0 = derived from RLIMIT_NOFILE. */
    int max_connections; /* GATEHOUSE_MAX_CONNECTIONS */
};

/** The process-wide configuration (valid after config_load). */
extern struct gh_config gh_cfg;

/** Clears gh_cfg and reads the instance's own settings (mode, listen
 *  address, data directory, issuer, audience, brand, Argon2id, threads and
 *  limits of the process). On GH_ERR_CONFIG, err holds a message naming the
 *  variable at fault. The modules' settings are read after it. */
enum gh_err config_load(char *err, size_t errlen) GH_WUR;

/** The production rules that span modules, checked once every module has
 *  read its settings: the master key is required and Argon2id must meet
 *  OWASP's minimum. Every problem is named at once, so one restart fixes
 *  them all. GH_OK outside production. */
enum gh_err config_check_production(char *err, size_t errlen) GH_WUR;

/** Wipes and frees the secrets and strings held by gh_cfg. */
void config_free(void);

/** The variable's value, or NULL when it is unset or empty. */
const char *config_env(const char *name);

/** An integer variable in [min, max], def when unset; GH_ERR_CONFIG with
 *  "<NAME> must be an integer between <min> and <max>" in err. */
enum gh_err config_env_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out,
                           char *err, size_t errlen) GH_WUR;

/** Copies the variable (def when unset) into dst; GH_ERR_CONFIG with
 *  "<NAME> is too long (max N bytes)" when it does not fit. */
enum gh_err config_env_str(char *dst, size_t cap, const char *name, const char *def, char *err,
                           size_t errlen) GH_WUR;

/** Parses "COUNT/SECONDS" (1..1000000 per 1..2592000 s, at least one
 *  microsecond per request); false leaves the outputs unchanged. */
bool config_parse_rate(const char *v, int *count, int64_t *period_s);

/** Reads a whole file (up to maxlen bytes) into a NUL-terminated heap
 *  string; the caller frees it (gh_free_secret_str for secrets). */
enum gh_err config_read_file(const char *path, size_t maxlen, char **out) GH_WUR;

/** A secret from NAME or NAME_FILE (never both; the file chmod 600 in
 *  production). The variable is wiped and unset once read. *out (heap,
 *  gh_free_secret_str) is NULL if neither is set. */
enum gh_err config_env_secret(const char *name, char **out, char *err, size_t errlen) GH_WUR;

#endif
