#include "gate/gate_config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"

struct gate_config gate_cfg;

static bool loopback(const char *host, size_t n)
{
    return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (n == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
           (n == 5 && strncmp(host, "[::1]", 5) == 0);
}

bool gate_signin_url_ok(const char *url, bool dev_http)
{
    size_t n = url ? strlen(url) : 0;
    if (n == 0 || n > GATE_URL_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\' || c == '"' || c == '<' || c == '>')
            return false;
    }
    bool https = strncasecmp(url, "https://", 8) == 0;
    if (!https && !(dev_http && strncasecmp(url, "http://", 7) == 0)) return false;
    const char *a = url + (https ? 8 : 7);
    size_t alen = strcspn(a, "/?");
    if (alen == 0 || memchr(a, '@', alen)) return false;
    if (a[0] == '/' || a[0] == '.') return false;
    if (https) return true;
    size_t hlen =
        a[0] == '[' ? (size_t)(strchr(a, ']') ? strchr(a, ']') - a + 1 : 0) : strcspn(a, ":/?");
    return hlen > 0 && hlen <= alen && loopback(a, hlen);
}

bool gate_default_signin_url(const char *public_url, char *out, size_t cap)
{
    char u[GATE_URL_MAX + 1];
    out[0] = '\0';
    size_t n = public_url ? strlen(public_url) : 0;
    while (n && public_url[n - 1] == '/')
        n--;
    if (n == 0 || n + sizeof "/signin" > sizeof u) return false;
    memcpy(u, public_url, n);
    memcpy(u + n, "/signin", sizeof "/signin");
    /* The public URL's own shape: any http(s) host. Over http off loopback
     * our page itself tells the operator why nobody can sign in there. */
    bool http = strncasecmp(u, "http://", 7) == 0;
    char probe[GATE_URL_MAX + 2];
    if (http) snprintf(probe, sizeof probe, "https://%s", u + 7);
    if (strchr(u, '?') || !gate_signin_url_ok(http ? probe : u, false)) return false;
    if (strlen(u) >= cap) return false;
    memcpy(out, u, strlen(u) + 1);
    return true;
}

enum gh_err gate_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    memset(&gate_cfg, 0, sizeof gate_cfg);
    if ((rc = config_env_str(gate_cfg.rules_path, sizeof gate_cfg.rules_path,
                             "GATEHOUSE_ACCESS_RULES", "", err, errlen)))
        return rc;
    const char *s = config_env("GATEHOUSE_SIGNIN_URL");
    if (s && !gate_signin_url_ok(s, !gh_cfg.production)) {
        snprintf(err, errlen,
                 "GATEHOUSE_SIGNIN_URL must be an https URL (in development also http to "
                 "localhost, 127.0.0.1 or [::1]) without userinfo or fragment, at most %d bytes",
                 GATE_URL_MAX);
        return GH_ERR_CONFIG;
    }
    if (s)
        snprintf(gate_cfg.signin_url, sizeof gate_cfg.signin_url, "%s", s);
    else
        gate_cfg.signin_default = gate_default_signin_url(gh_cfg.public_url, gate_cfg.signin_url,
                                                          sizeof gate_cfg.signin_url);
    const char *rh = config_env("GATEHOUSE_GATE_REMOTE_HEADERS");
    if (rh && strcmp(rh, "on") != 0 && strcmp(rh, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_GATE_REMOTE_HEADERS must be on or off");
        return GH_ERR_CONFIG;
    }
    gate_cfg.remote_headers = rh && strcmp(rh, "on") == 0;
    return GH_OK;
}
