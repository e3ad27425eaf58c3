#include "guard/guard_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/util.h"
#include "guard/cors.h"
#include "guard/limit.h"
#include "guard/limit_redis.h"
#include "guard/proxy.h"

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
    {LIMIT_VERIFY_IP, "GATEHOUSE_LIMIT_VERIFY_IP", 3000, 60},
};

static enum gh_err load_limits(char *err, size_t errlen)
{
    _Static_assert(sizeof limit_defaults / sizeof limit_defaults[0] == LIMIT__COUNT,
                   "a default for every rule");
    _Static_assert(LIMIT__COUNT <= GH_LIMIT_RULES, "gh_cfg.limits holds every rule");
    for (size_t i = 0; i < LIMIT__COUNT; i++) {
        struct gh_limit_rule *l = &gh_cfg.limits[limit_defaults[i].rule];
        l->count = limit_defaults[i].count;
        l->period_s = limit_defaults[i].period_s;
        const char *v = config_env(limit_defaults[i].var);
        if (!v || config_parse_rate(v, &l->count, &l->period_s)) continue;
        snprintf(err, errlen,
                 "%s must be COUNT/SECONDS (1..1000000 requests per 1..2592000 seconds), e.g. "
                 "%d/%lld",
                 limit_defaults[i].var, limit_defaults[i].count,
                 (long long)limit_defaults[i].period_s);
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

/* GATEHOUSE_RATE_LIMITS, the rules and the lockout. */
static enum gh_err load_budgets(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    const char *rl = config_env("GATEHOUSE_RATE_LIMITS");
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
    if ((rc = config_env_int("GATEHOUSE_LOCKOUT_THRESHOLD", 10, 0, 1000, &v, err, errlen)))
        return rc;
    gh_cfg.lockout_threshold = (int)v;
    if ((rc = config_env_int("GATEHOUSE_LOCKOUT_MAX_DELAY", 900, 1, 86400, &v, err, errlen)))
        return rc;
    gh_cfg.lockout_max_delay = v;
    return GH_OK;
}

/* Whose address a request is (the trusted proxies and the one header they
 * set, IPv6 by prefix), who may read /metrics, and the CORS origins. */
static enum gh_err load_addresses(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    if ((rc = proxy_parse_cidrs(config_env("GATEHOUSE_TRUSTED_PROXIES"), proxy_cfg.trusted_proxies,
                                PROXY_MAX_CIDRS, &proxy_cfg.ntrusted_proxies, err, errlen)))
        return rc;
    const char *ma = config_env("GATEHOUSE_METRICS_ALLOW");
    char maerr[200];
    if (proxy_parse_cidrs(ma ? ma : "127.0.0.0/8 ::1", proxy_cfg.metrics_allow, PROXY_MAX_CIDRS,
                          &proxy_cfg.nmetrics_allow, maerr, sizeof maerr)) {
        const char *colon = strchr(maerr, ':'); /* the message names TRUSTED_PROXIES */
        snprintf(err, errlen, "GATEHOUSE_METRICS_ALLOW%s", colon ? colon : ": invalid");
        return GH_ERR_CONFIG;
    }
    for (int i = 0; !ma && i < proxy_cfg.ntrusted_proxies; i++)
        proxy_cfg.metrics_allow[proxy_cfg.nmetrics_allow++] = proxy_cfg.trusted_proxies[i];
    if (proxy_parse_header(config_env("GATEHOUSE_CLIENT_IP_HEADER"), &proxy_cfg.client_ip_header)) {
        snprintf(err, errlen,
                 "GATEHOUSE_CLIENT_IP_HEADER must be x-forwarded-for, forwarded or "
                 "x-real-ip");
        return GH_ERR_CONFIG;
    }
    if ((rc = config_env_int("GATEHOUSE_IPV6_PREFIX", 64, 32, 128, &v, err, errlen))) return rc;
    gh_cfg.ipv6_prefix = (int)v;
    return cors_parse_origins(config_env("GATEHOUSE_CORS_ORIGINS"), cors_cfg.origins,
                              CORS_MAX_ORIGINS, &cors_cfg.norigins, gh_cfg.production, err, errlen);
}

static enum gh_err failure_mode(const char *name, bool def_closed, bool *closed, char *err,
                                size_t errlen)
{
    const char *v = config_env(name);
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
    if ((rc = config_env_int("GATEHOUSE_REDIS_TIMEOUT_MS", 50, 1, 1000, &v, err, errlen)))
        return rc;
    limit_redis_cfg.timeout_ms = (int)v;
    if ((rc = failure_mode("GATEHOUSE_REDIS_FAILURE_SIGNIN", true, &limit_redis_cfg.closed_signin,
                           err, errlen)))
        return rc;
    if ((rc = failure_mode("GATEHOUSE_REDIS_FAILURE_API", false, &limit_redis_cfg.closed_api, err,
                           errlen)))
        return rc;
    char *pw = NULL;
    if ((rc = config_env_secret("GATEHOUSE_REDIS_PASSWORD", &pw, err, errlen))) return rc;
    if (pw) { /* a file's trailing newline is not part of it */
        size_t n = strlen(pw);
        while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
            pw[--n] = '\0';
    }
    const char *url = config_env("GATEHOUSE_REDIS_URL");
    if (!url) {
        if (pw) {
            gh_free_secret_str(pw);
            snprintf(err, errlen, "GATEHOUSE_REDIS_PASSWORD is set but GATEHOUSE_REDIS_URL is not");
            return GH_ERR_CONFIG;
        }
        return GH_OK;
    }
    char *url_pw = NULL;
    rc = limit_redis_parse_url(url, &limit_redis_cfg.target, &url_pw, err, errlen);
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
        memset(&limit_redis_cfg.target, 0, sizeof limit_redis_cfg.target);
        snprintf(err, errlen,
                 "give the Redis password once: in GATEHOUSE_REDIS_URL or in "
                 "GATEHOUSE_REDIS_PASSWORD(_FILE), not both");
        return GH_ERR_CONFIG;
    }
    if (limit_redis_cfg.target.user[0] && !(url_pw || pw)) {
        memset(&limit_redis_cfg.target, 0, sizeof limit_redis_cfg.target);
        snprintf(err, errlen, "GATEHOUSE_REDIS_URL names a user but no password");
        return GH_ERR_CONFIG;
    }
    limit_redis_cfg.password = url_pw ? url_pw : pw;
    return GH_OK;
}

enum gh_err guard_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    memset(&proxy_cfg, 0, sizeof proxy_cfg);
    memset(&cors_cfg, 0, sizeof cors_cfg);
    memset(&limit_redis_cfg, 0, sizeof limit_redis_cfg);
    if ((rc = load_budgets(err, errlen))) return rc;
    if ((rc = load_addresses(err, errlen))) return rc;
    return load_redis(err, errlen);
}

void guard_config_free(void)
{
    gh_free_secret_str(limit_redis_cfg.password);
    limit_redis_cfg.password = NULL;
}
