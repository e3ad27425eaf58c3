#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "guard/limit.h"

struct gh_config gh_cfg;

/* OWASP's minimum for Argon2id (m = 19 MiB, t = 2, p = 1); see
 * docs/decisions/0002-argon2id-parameters.md. */
#define ARGON2_MIN_PROD_KIB 19456
#define ARGON2_MIN_PROD_T 2

enum gh_err config_read_file(const char *path, size_t maxlen, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return GH_ERR_NOT_FOUND;
    char *buf = malloc(maxlen + 1);
    if (!buf) {
        close(fd);
        return GH_ERR_NOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, maxlen - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close(fd);
            gh_wipe(buf, len);
            free(buf);
            return GH_ERR_INTERNAL;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len == maxlen) break;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    return GH_OK;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

static enum gh_err env_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out,
                           char *err, size_t errlen)
{
    const char *v = env(name);
    if (!v) {
        *out = def;
        return GH_OK;
    }
    if (gh_parse_i64(v, min, max, out) != GH_OK) {
        snprintf(err, errlen, "%s must be an integer between %lld and %lld", name, (long long)min,
                 (long long)max);
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

/* Rate-limit budgets: GATEHOUSE_LIMIT_<RULE>="count/seconds". */
static const struct {
    enum limit_rule rule;
    const char *var;
    int count;
    int64_t period_s;
} limit_defaults[] = {
    {LIMIT_SIGNIN_IP_ACCOUNT, "GATEHOUSE_LIMIT_SIGNIN_IP_ACCOUNT", 5, 900},
    {LIMIT_SIGNIN_IP, "GATEHOUSE_LIMIT_SIGNIN_IP", 20, 900},
    {LIMIT_SIGNUP_IP, "GATEHOUSE_LIMIT_SIGNUP_IP", 5, 3600},
    {LIMIT_REFRESH_SESSION, "GATEHOUSE_LIMIT_REFRESH_SESSION", 60, 60},
    {LIMIT_EMAIL_ACCOUNT, "GATEHOUSE_LIMIT_EMAIL_ACCOUNT", 3, 3600},
    {LIMIT_EMAIL_IP, "GATEHOUSE_LIMIT_EMAIL_IP", 10, 3600},
    {LIMIT_MFA_ACCOUNT, "GATEHOUSE_LIMIT_MFA_ACCOUNT", 5, 300},
    {LIMIT_API_USER, "GATEHOUSE_LIMIT_API_USER", 600, 60},
    {LIMIT_LINK_IP, "GATEHOUSE_LIMIT_LINK_IP", 30, 900},
    {LIMIT_MFA_IP, "GATEHOUSE_LIMIT_MFA_IP", 30, 900},
    {LIMIT_REFRESH_IP, "GATEHOUSE_LIMIT_REFRESH_IP", 600, 60},
};

/* "COUNT/SECONDS" (1..1000000 per 1..2592000 s). */
static bool parse_rate(const char *v, int *count, int64_t *period_s)
{
    char num[24], per[24];
    const char *slash = strchr(v, '/');
    int64_t n = 0, p = 0;
    if (!slash || (size_t)(slash - v) >= sizeof num || strlen(slash + 1) >= sizeof per)
        return false;
    memcpy(num, v, (size_t)(slash - v));
    num[slash - v] = '\0';
    snprintf(per, sizeof per, "%s", slash + 1);
    if (gh_parse_i64(num, 1, 1000000, &n) != GH_OK ||
        gh_parse_i64(per, 1, 30 * 86400, &p) != GH_OK || p * 1000000 / n < 1)
        return false;
    *count = (int)n;
    *period_s = p;
    return true;
}

/* Issue 9's settings (guard and audit flood), in one block. */
static enum gh_err load_guard9(char *err, size_t errlen)
{
    int64_t v;
    enum gh_err rc;
    if (proxy_parse_header(env("GATEHOUSE_CLIENT_IP_HEADER"), &gh_cfg.client_ip_header)) {
        snprintf(err, errlen,
                 "GATEHOUSE_CLIENT_IP_HEADER must be x-forwarded-for, forwarded or "
                 "x-real-ip");
        return GH_ERR_CONFIG;
    }
    if ((rc = env_int("GATEHOUSE_IPV6_PREFIX", 64, 32, 128, &v, err, errlen))) return rc;
    gh_cfg.ipv6_prefix = (int)v;
    const char *f = env("GATEHOUSE_AUDIT_FAILURE_ROWS");
    gh_cfg.audit_failure_rows = 10;
    gh_cfg.audit_failure_window = 60;
    if (f && !parse_rate(f, &gh_cfg.audit_failure_rows, &gh_cfg.audit_failure_window)) {
        snprintf(err, errlen, "GATEHOUSE_AUDIT_FAILURE_ROWS must be COUNT/SECONDS, e.g. 10/60");
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

static enum gh_err load_limits(char *err, size_t errlen)
{
    _Static_assert(sizeof limit_defaults / sizeof limit_defaults[0] == LIMIT__COUNT,
                   "a default for every rule");
    for (size_t i = 0; i < LIMIT__COUNT; i++) {
        struct gh_limit_rule *l = &gh_cfg.limits[limit_defaults[i].rule];
        l->count = limit_defaults[i].count;
        l->period_s = limit_defaults[i].period_s;
        const char *v = env(limit_defaults[i].var);
        if (!v || parse_rate(v, &l->count, &l->period_s)) continue;
        snprintf(err, errlen,
                 "%s must be COUNT/SECONDS (1..1000000 requests per 1..2592000 seconds), e.g. "
                 "%d/%lld",
                 limit_defaults[i].var, limit_defaults[i].count,
                 (long long)limit_defaults[i].period_s);
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

enum gh_err config_env_secret(const char *name, char **out, char *err, size_t errlen)
{
    char fname[128];
    snprintf(fname, sizeof fname, "%s_FILE", name);
    const char *v = env(name), *f = env(fname);
    *out = NULL;
    if (v && f) {
        snprintf(err, errlen, "set only one of %s and %s", name, fname);
        return GH_ERR_CONFIG;
    }
    if (v) {
        *out = strdup(v);
        if (!*out) return GH_ERR_NOMEM;
        /* Keep one copy only: wipe the environment's and drop the variable,
         * so it is neither in memory twice nor inherited by children. */
        gh_wipe((char *)v, strlen(v));
        unsetenv(name);
        return GH_OK;
    }
    if (f) {
        struct stat st;
        if (stat(f, &st) == 0 && (st.st_mode & 077)) {
            if (gh_cfg.production) {
                snprintf(err, errlen, "%s: %s is readable by other users; chmod 600 it", fname, f);
                return GH_ERR_CONFIG;
            }
            fprintf(stderr, "gatehouse: warning: %s is readable by other users\n", f);
        }
        enum gh_err rc = config_read_file(f, 64 * 1024, out);
        if (rc) {
            snprintf(err, errlen, "%s: cannot read %s", fname, f);
            return GH_ERR_CONFIG;
        }
    }
    return GH_OK;
}

static enum gh_err failure_mode(const char *name, bool def_closed, bool *closed, char *err,
                                size_t errlen)
{
    const char *v = env(name);
    *closed = def_closed;
    if (!v) return GH_OK;
    if (strcmp(v, "closed") == 0 || strcmp(v, "local") == 0) {
        *closed = strcmp(v, "closed") == 0;
        return GH_OK;
    }
    snprintf(err, errlen, "%s must be closed or local", name);
    return GH_ERR_CONFIG;
}

/* GATEHOUSE_REDIS_URL and its companions (guard/limit_redis.h). A URL that
 * holds a password is treated like any secret: wiped from the environment
 * once read, and never repeated in a message. */
static enum gh_err load_redis(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    if ((rc = env_int("GATEHOUSE_REDIS_TIMEOUT_MS", 50, 1, 1000, &v, err, errlen))) return rc;
    gh_cfg.redis_timeout_ms = (int)v;
    if ((rc = failure_mode("GATEHOUSE_REDIS_FAILURE_SIGNIN", true, &gh_cfg.redis_closed_signin, err,
                           errlen)))
        return rc;
    if ((rc = failure_mode("GATEHOUSE_REDIS_FAILURE_API", false, &gh_cfg.redis_closed_api, err,
                           errlen)))
        return rc;
    char *pw = NULL;
    if ((rc = config_env_secret("GATEHOUSE_REDIS_PASSWORD", &pw, err, errlen))) return rc;
    if (pw) { /* a file's trailing newline is not part of it */
        size_t n = strlen(pw);
        while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
            pw[--n] = '\0';
    }
    const char *url = env("GATEHOUSE_REDIS_URL");
    if (!url) {
        if (pw) {
            gh_free_secret_str(pw);
            snprintf(err, errlen, "GATEHOUSE_REDIS_PASSWORD is set but GATEHOUSE_REDIS_URL is not");
            return GH_ERR_CONFIG;
        }
        return GH_OK;
    }
    char *url_pw = NULL;
    rc = limit_redis_parse_url(url, &gh_cfg.redis, &url_pw, err, errlen);
    if (url_pw) {
        gh_wipe((char *)url, strlen(url));
        unsetenv("GATEHOUSE_REDIS_URL");
    }
    if (rc == GH_ERR_NOMEM) {
        gh_free_secret_str(pw);
        return rc;
    }
    if (rc) {
        gh_free_secret_str(pw);
        return GH_ERR_CONFIG;
    }
    if (url_pw && pw) {
        gh_free_secret_str(pw);
        gh_free_secret_str(url_pw);
        memset(&gh_cfg.redis, 0, sizeof gh_cfg.redis);
        snprintf(err, errlen,
                 "give the Redis password once: in GATEHOUSE_REDIS_URL or in "
                 "GATEHOUSE_REDIS_PASSWORD(_FILE), not both");
        return GH_ERR_CONFIG;
    }
    if (gh_cfg.redis.user[0] && !(url_pw || pw)) {
        memset(&gh_cfg.redis, 0, sizeof gh_cfg.redis);
        snprintf(err, errlen, "GATEHOUSE_REDIS_URL names a user but no password");
        return GH_ERR_CONFIG;
    }
    gh_cfg.redis_password = url_pw ? url_pw : pw;
    return GH_OK;
}

static enum gh_err parse_listen(const char *v, char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':');
    int64_t port;
    if (!colon || colon == v || gh_parse_i64(colon + 1, 0, 65535, &port) != GH_OK ||
        (size_t)(colon - v) >= sizeof gh_cfg.listen_host) {
        snprintf(err, errlen, "GATEHOUSE_LISTEN must be host:port (got \"%s\")", v);
        return GH_ERR_CONFIG;
    }
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2; /* [::1]:8080 */
    memcpy(gh_cfg.listen_host, h, hl);
    gh_cfg.listen_host[hl] = '\0';
    gh_cfg.listen_port = (int)port;
    return GH_OK;
}

static enum gh_err copy_str(char *dst, size_t cap, const char *name, const char *def, char *err,
                            size_t errlen)
{
    const char *v = env(name);
    if (!v) v = def;
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "%s is too long (max %zu bytes)", name, cap - 1);
        return GH_ERR_CONFIG;
    }
    snprintf(dst, cap, "%s", v);
    return GH_OK;
}

enum gh_err config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    memset(&gh_cfg, 0, sizeof gh_cfg);
    err[0] = '\0';

    const char *mode = env("GATEHOUSE_ENV");
    if (!mode || strcmp(mode, "development") == 0) {
        gh_cfg.production = false;
    } else if (strcmp(mode, "production") == 0) {
        gh_cfg.production = true;
    } else {
        snprintf(err, errlen, "GATEHOUSE_ENV must be development or production");
        return GH_ERR_CONFIG;
    }

    const char *listen = env("GATEHOUSE_LISTEN");
    if ((rc = parse_listen(listen ? listen : "127.0.0.1:8080", err, errlen))) return rc;
    if ((rc = copy_str(gh_cfg.data_dir, sizeof gh_cfg.data_dir, "GATEHOUSE_DATA_DIR", "./var", err,
                       errlen)))
        return rc;
    snprintf(gh_cfg.db_path, sizeof gh_cfg.db_path, "%s/gatehouse.db", gh_cfg.data_dir);

    char def_issuer[300];
    snprintf(def_issuer, sizeof def_issuer, "http://%s:%d", gh_cfg.listen_host, gh_cfg.listen_port);
    if ((rc = copy_str(gh_cfg.issuer, sizeof gh_cfg.issuer, "GATEHOUSE_ISSUER", def_issuer, err,
                       errlen)))
        return rc;
    gh_cfg.issuer_defaulted = env("GATEHOUSE_ISSUER") == NULL;
    if ((rc = copy_str(gh_cfg.audience, sizeof gh_cfg.audience, "GATEHOUSE_AUDIENCE", "gatehouse",
                       err, errlen)))
        return rc;
    if ((rc = copy_str(gh_cfg.brand, sizeof gh_cfg.brand, "GATEHOUSE_BRAND", "Gatehouse", err,
                       errlen)))
        return rc;
    /* It goes into email subjects and bodies: no control characters
     * (header injection), and UTF-8 so it can be RFC 2047 encoded. */
    bool brand_ok = gh_utf8_valid(gh_cfg.brand, strlen(gh_cfg.brand));
    for (const char *p = gh_cfg.brand; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) brand_ok = false;
    if (!brand_ok) {
        snprintf(err, errlen, "GATEHOUSE_BRAND must be UTF-8 text without control characters");
        return GH_ERR_CONFIG;
    }

    if ((rc = env_int("GATEHOUSE_ACCESS_TTL", 3600, 1, 86400, &v, err, errlen))) return rc;
    gh_cfg.access_ttl = v;
    if ((rc = env_int("GATEHOUSE_REFRESH_TTL", 7 * 86400, 1, 365 * 86400, &v, err, errlen)))
        return rc;
    gh_cfg.refresh_ttl = v;
    if (gh_cfg.refresh_ttl < gh_cfg.access_ttl) {
        /* Access tokens are issued at sign-in and refresh, when the session
         * runs refresh_ttl ahead: this keeps every one inside its session. */
        snprintf(err, errlen, "GATEHOUSE_REFRESH_TTL must be at least GATEHOUSE_ACCESS_TTL");
        return GH_ERR_CONFIG;
    }
    if ((rc = env_int("GATEHOUSE_REFRESH_REUSE_GRACE", 10, 0, 300, &v, err, errlen))) return rc;
    gh_cfg.refresh_grace = v;
    /* Absolute session lifetime (ASVS 7.3.2): refresh refused after it. */
    if ((rc = env_int("GATEHOUSE_SESSION_MAX_AGE", 30 * 86400, 0, 3650 * 86400, &v, err, errlen)))
        return rc;
    gh_cfg.session_max_age = v;

    if ((rc = env_int("GATEHOUSE_ARGON2_MEMORY_KIB", ARGON2_MIN_PROD_KIB, 1024, 4 * 1024 * 1024, &v,
                      err, errlen)))
        return rc;
    gh_cfg.argon2_memory_kib = (uint64_t)v;
    if ((rc = env_int("GATEHOUSE_ARGON2_ITERATIONS", ARGON2_MIN_PROD_T, 1, 100, &v, err, errlen)))
        return rc;
    gh_cfg.argon2_iterations = (uint64_t)v;
    if ((rc = env_int("GATEHOUSE_PASSWORD_MIN_SCORE", 3, 0, 4, &v, err, errlen))) return rc;
    gh_cfg.password_min_score = (int)v;
    if ((rc = env_int("GATEHOUSE_MAX_BODY", 65536, 1024, 16 * 1024 * 1024, &v, err, errlen)))
        return rc;
    gh_cfg.max_body = (size_t)v;

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if ((rc = env_int("GATEHOUSE_THREADS", ncpu, 1, 256, &v, err, errlen))) return rc;
    gh_cfg.loops = (int)v;
    if ((rc = env_int("GATEHOUSE_WORKERS", ncpu * 2 < 4 ? 4 : ncpu * 2, 1, 256, &v, err, errlen)))
        return rc;
    gh_cfg.workers = (int)v;
    if ((rc = env_int("GATEHOUSE_HASH_WORKERS", ncpu, 1, 256, &v, err, errlen))) return rc;
    gh_cfg.hash_workers = (int)v;
    if ((rc = env_int("GATEHOUSE_MAX_CONNECTIONS", 0, 0, 1 << 20, &v, err, errlen))) return rc;
    gh_cfg.max_connections = (int)v; /* checked against the open-file limit at start */

    const char *mfa = env("GATEHOUSE_MFA_REQUIRED");
    if (!mfa || strcmp(mfa, "off") == 0)
        gh_cfg.mfa_required = 0;
    else if (strcmp(mfa, "admins") == 0)
        gh_cfg.mfa_required = 1;
    else if (strcmp(mfa, "all") == 0)
        gh_cfg.mfa_required = 2;
    else {
        snprintf(err, errlen, "GATEHOUSE_MFA_REQUIRED must be off, admins or all");
        return GH_ERR_CONFIG;
    }
    const char *rl = env("GATEHOUSE_RATE_LIMITS");
    if (rl && strcmp(rl, "on") != 0 && strcmp(rl, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_RATE_LIMITS must be on or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.rate_limits = !(rl && strcmp(rl, "off") == 0);
    if (!gh_cfg.rate_limits && gh_cfg.production) {
        snprintf(err, errlen, "GATEHOUSE_RATE_LIMITS=off is refused in production");
        return GH_ERR_CONFIG;
    }
    if ((rc = load_limits(err, errlen))) return rc;
    if ((rc = env_int("GATEHOUSE_LOCKOUT_THRESHOLD", 10, 0, 1000, &v, err, errlen))) return rc;
    gh_cfg.lockout_threshold = (int)v;
    if ((rc = env_int("GATEHOUSE_LOCKOUT_MAX_DELAY", 900, 1, 86400, &v, err, errlen))) return rc;
    gh_cfg.lockout_max_delay = v;
    if ((rc = proxy_parse_cidrs(env("GATEHOUSE_TRUSTED_PROXIES"), gh_cfg.trusted_proxies,
                                PROXY_MAX_CIDRS, &gh_cfg.ntrusted_proxies, err, errlen)))
        return rc;
    const char *ma = env("GATEHOUSE_METRICS_ALLOW");
    char maerr[200];
    if (proxy_parse_cidrs(ma ? ma : "127.0.0.0/8 ::1", gh_cfg.metrics_allow, PROXY_MAX_CIDRS,
                          &gh_cfg.nmetrics_allow, maerr, sizeof maerr)) {
        const char *colon = strchr(maerr, ':'); /* the message names TRUSTED_PROXIES */
        snprintf(err, errlen, "GATEHOUSE_METRICS_ALLOW%s", colon ? colon : ": invalid");
        return GH_ERR_CONFIG;
    }
    for (int i = 0; !ma && i < gh_cfg.ntrusted_proxies; i++)
        gh_cfg.metrics_allow[gh_cfg.nmetrics_allow++] = gh_cfg.trusted_proxies[i];
    if ((rc = load_guard9(err, errlen))) return rc;
    if ((rc = cors_parse_origins(env("GATEHOUSE_CORS_ORIGINS"), gh_cfg.cors_origins,
                                 CORS_MAX_ORIGINS, &gh_cfg.ncors_origins, gh_cfg.production, err,
                                 errlen)))
        return rc;
    if ((rc = load_redis(err, errlen))) return rc;
    const char *audit = env("GATEHOUSE_AUDIT");
    if (audit && strcmp(audit, "on") != 0 && strcmp(audit, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_AUDIT must be on or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.audit = !(audit && strcmp(audit, "off") == 0);
    if (!gh_cfg.audit && gh_cfg.production) {
        snprintf(err, errlen, "GATEHOUSE_AUDIT=off is refused in production");
        return GH_ERR_CONFIG;
    }
    if ((rc = env_int("GATEHOUSE_AUDIT_VERIFY_INTERVAL", 3600, 0, 30 * 86400, &v, err, errlen)))
        return rc;
    gh_cfg.audit_verify_interval = v;
    if ((rc = env_int("GATEHOUSE_CLOCK_SKEW", 60, 0, 300, &v, err, errlen))) return rc;
    gh_cfg.clock_skew = v;
    if ((rc = env_int("GATEHOUSE_REAUTH_WINDOW", 600, 0, 86400, &v, err, errlen))) return rc;
    gh_cfg.reauth_window = v;
    if ((rc = env_int("GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY", 600, 0, 30 * 86400, &v, err,
                      errlen)))
        return rc;
    gh_cfg.signing_activation_delay = v;

    if ((rc = copy_str(gh_cfg.public_url, sizeof gh_cfg.public_url, "GATEHOUSE_PUBLIC_URL",
                       gh_cfg.issuer, err, errlen)))
        return rc;
    if ((rc = copy_str(gh_cfg.smtp_from, sizeof gh_cfg.smtp_from, "GATEHOUSE_SMTP_FROM",
                       "no-reply@localhost", err, errlen)))
        return rc;
    if (strpbrk(gh_cfg.smtp_from, "\r\n")) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_FROM must be one line");
        return GH_ERR_CONFIG;
    }
    if ((rc = copy_str(gh_cfg.smtp_ca_file, sizeof gh_cfg.smtp_ca_file, "GATEHOUSE_SMTP_CA_FILE",
                       "", err, errlen)))
        return rc;
    const char *idc = env("GATEHOUSE_INSECURE_DEV_COOKIES");
    if (idc && strcmp(idc, "on") != 0 && strcmp(idc, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_INSECURE_DEV_COOKIES must be on or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.insecure_dev_cookies = idc && strcmp(idc, "on") == 0;
    if (gh_cfg.insecure_dev_cookies && gh_cfg.production) {
        snprintf(err, errlen,
                 "GATEHOUSE_INSECURE_DEV_COOKIES=on is refused in production: session cookies "
                 "are always Secure there (serve GATEHOUSE_PUBLIC_URL over https)");
        return GH_ERR_CONFIG;
    }
    const char *su = env("GATEHOUSE_SMTP_URL"), *us = env("GATEHOUSE_SMTP_USER");
    if (su && strncmp(su, "smtp://", 7) != 0 && strncmp(su, "smtps://", 8) != 0) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_URL must start with smtp:// or smtps://");
        return GH_ERR_CONFIG;
    }
    gh_cfg.smtp_url = su ? strdup(su) : NULL;
    gh_cfg.smtp_user = us ? strdup(us) : NULL;
    if ((rc = config_env_secret("GATEHOUSE_SMTP_PASSWORD", &gh_cfg.smtp_password, err, errlen)))
        return rc;
    const char *st = env("GATEHOUSE_SMTP_STARTTLS");
    if (st && strcmp(st, "required") != 0 && strcmp(st, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_STARTTLS must be required or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.smtp_starttls = !(st && strcmp(st, "off") == 0);
    if (!gh_cfg.smtp_starttls && gh_cfg.production) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_STARTTLS=off is refused in production");
        return GH_ERR_CONFIG;
    }
    if ((rc = env_int("GATEHOUSE_MAGIC_LINK_TTL", 600, 60, 86400, &v, err, errlen))) return rc;
    gh_cfg.magic_link_ttl = v;
    if ((rc = copy_str(gh_cfg.template_dir, sizeof gh_cfg.template_dir, "GATEHOUSE_TEMPLATE_DIR",
                       "", err, errlen)))
        return rc;
    const char *ev = env("GATEHOUSE_EMAIL_VERIFICATION");
    if (!ev || strcmp(ev, "off") == 0)
        gh_cfg.email_verification = 0;
    else if (strcmp(ev, "on") == 0)
        gh_cfg.email_verification = 1;
    else if (strcmp(ev, "required") == 0)
        gh_cfg.email_verification = 2;
    else {
        snprintf(err, errlen, "GATEHOUSE_EMAIL_VERIFICATION must be off, on or required");
        return GH_ERR_CONFIG;
    }
    const char *ms = env("GATEHOUSE_MAGIC_LINK_SIGNUP");
    if (ms && strcmp(ms, "on") != 0 && strcmp(ms, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_MAGIC_LINK_SIGNUP must be on or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.magic_link_signup = ms && strcmp(ms, "on") == 0;

    if ((rc = config_env_secret("GATEHOUSE_SIGNING_KEY", &gh_cfg.signing_key_pem, err, errlen)))
        return rc;
    if ((rc = config_env_secret("GATEHOUSE_MASTER_KEY", &gh_cfg.master_key, err, errlen)))
        return rc;
    if (gh_cfg.production) {
        /* Name every problem at once, so one restart fixes them all. */
        size_t used = 0;
        if (!gh_cfg.master_key)
            used +=
                (size_t)snprintf(err + used, errlen - used,
                                 "GATEHOUSE_MASTER_KEY (or GATEHOUSE_MASTER_KEY_FILE) is "
                                 "required in production: 32 random bytes in base64 or hex "
                                 "(`openssl rand -base64 32`); it seals the signing keys "
                                 "(GATEHOUSE_SIGNING_KEY optionally imports an existing one). ");
        if (used < errlen && (gh_cfg.argon2_memory_kib < ARGON2_MIN_PROD_KIB ||
                              gh_cfg.argon2_iterations < ARGON2_MIN_PROD_T))
            used += (size_t)snprintf(err + used, errlen - used,
                                     "GATEHOUSE_ARGON2_MEMORY_KIB/GATEHOUSE_ARGON2_ITERATIONS "
                                     "below OWASP's minimum (m=%d KiB, t=%d) are refused in "
                                     "production. ",
                                     ARGON2_MIN_PROD_KIB, ARGON2_MIN_PROD_T);
        if (used) return GH_ERR_CONFIG;
    }
    return GH_OK;
}

void config_free(void)
{
    gh_free_secret_str(gh_cfg.signing_key_pem);
    gh_cfg.signing_key_pem = NULL;
    gh_free_secret_str(gh_cfg.master_key);
    gh_cfg.master_key = NULL;
    gh_free_secret_str(gh_cfg.smtp_password);
    gh_free_secret_str(gh_cfg.redis_password);
    gh_cfg.redis_password = NULL;
    free(gh_cfg.smtp_url);
    free(gh_cfg.smtp_user);
    gh_cfg.smtp_password = gh_cfg.smtp_url = gh_cfg.smtp_user = NULL;
}
