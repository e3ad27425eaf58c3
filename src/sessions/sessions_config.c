#include "sessions/sessions_config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"

/* GATEHOUSE_COOKIE_DOMAIN: a DNS name of at least two LDH labels (a leading
 * dot is dropped, case folded) that is the public URL's host or one of its
 * parents, or a browser would refuse a cookie with that Domain. */
static enum gh_err load_cookie_domain(char *err, size_t errlen)
{
    const char *v = config_env("GATEHOUSE_COOKIE_DOMAIN");
    gh_cfg.cookie_domain[0] = '\0';
    if (!v || !*v) return GH_OK;
    if (*v == '.') v++;
    size_t n = strlen(v), label = 0;
    bool ok = n > 0 && n < sizeof gh_cfg.cookie_domain && strchr(v, '.') != NULL;
    for (size_t i = 0; ok && i <= n; i++) {
        char ch = v[i];
        if (ch == '.' || ch == '\0') {
            ok = label > 0 && label <= 63 && v[i - 1] != '-';
            label = 0;
        } else {
            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 (ch == '-' && label > 0);
            label++;
        }
    }
    if (!ok) {
        snprintf(err, errlen,
                 "GATEHOUSE_COOKIE_DOMAIN must be a domain name such as example.com (letters, "
                 "digits, hyphens, at least two labels)");
        return GH_ERR_CONFIG;
    }
    for (size_t i = 0; i <= n; i++)
        gh_cfg.cookie_domain[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
    /* The public URL's host must be the domain or under it. */
    const char *h = strstr(gh_cfg.public_url, "://");
    h = h ? h + 3 : "";
    size_t hl = strcspn(h, ":/?#");
    bool under = hl >= n && strncasecmp(h + hl - n, gh_cfg.cookie_domain, n) == 0 &&
                 (hl == n || h[hl - n - 1] == '.');
    if (!under) {
        snprintf(err, errlen,
                 "GATEHOUSE_COOKIE_DOMAIN=%s must be the host of GATEHOUSE_PUBLIC_URL or a parent "
                 "of it (a browser refuses a cookie for another domain)",
                 gh_cfg.cookie_domain);
        gh_cfg.cookie_domain[0] = '\0';
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

/* How long tokens and sessions live. */
static enum gh_err load_lifetimes(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    if ((rc = config_env_int("GATEHOUSE_ACCESS_TTL", 3600, 1, 86400, &v, err, errlen))) return rc;
    gh_cfg.access_ttl = v;
    if ((rc = config_env_int("GATEHOUSE_REFRESH_TTL", 7 * 86400, 1, 365 * 86400, &v, err, errlen)))
        return rc;
    gh_cfg.refresh_ttl = v;
    if (gh_cfg.refresh_ttl < gh_cfg.access_ttl) {
        /* Access tokens are issued at sign-in and refresh, when the session
         * runs refresh_ttl ahead: this keeps every one inside its session. */
        snprintf(err, errlen, "GATEHOUSE_REFRESH_TTL must be at least GATEHOUSE_ACCESS_TTL");
        return GH_ERR_CONFIG;
    }
    if ((rc = config_env_int("GATEHOUSE_REFRESH_REUSE_GRACE", 10, 0, 300, &v, err, errlen)))
        return rc;
    gh_cfg.refresh_grace = v;
    /* Absolute session lifetime (ASVS 7.3.2): refresh refused after it. */
    if ((rc = config_env_int("GATEHOUSE_SESSION_MAX_AGE", 30 * 86400, 0, 3650 * 86400, &v, err,
                             errlen)))
        return rc;
    gh_cfg.session_max_age = v;
    if ((rc = config_env_int("GATEHOUSE_CLOCK_SKEW", 60, 0, 300, &v, err, errlen))) return rc;
    gh_cfg.clock_skew = v;
    return GH_OK;
}

enum gh_err sessions_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    if ((rc = load_lifetimes(err, errlen))) return rc;
    if ((rc = load_cookie_domain(err, errlen))) return rc;
    if ((rc = config_env_int("GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY", 600, 0, 30 * 86400, &v, err,
                             errlen)))
        return rc;
    gh_cfg.signing_activation_delay = v;
    /* 64 MiB holds ~700,000 tokens, or 100,000 users each with a session
     * and a token several times over (decision 0029). */
    if ((rc = config_env_int("GATEHOUSE_AUTH_CACHE_MB", 64, 1, 65536, &v, err, errlen))) return rc;
    gh_cfg.auth_cache_mb = v;
    const char *idc = config_env("GATEHOUSE_INSECURE_DEV_COOKIES");
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
    return config_env_secret("GATEHOUSE_SIGNING_KEY", &gh_cfg.signing_key_pem, err, errlen);
}
