#include "sessions/cookie.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "guard/cors.h"
#include "vault/vault.h"

#define CSRF_KEYBYTES 32
#define CSRF_LABEL "gatehouse csrf v1"

/* Guarded memory, read-only after init: every cookie-authenticated
 * mutation computes one HMAC on an event loop, so it is not toggled
 * PROT_NONE per use (that would serialise the loops on a mutex). */
static uint8_t *csrf_key;
static bool available, secure;
static char own_origin[COOKIE_ORIGIN_MAX + 1];

/* localhost, 127.0.0.0/8 or [::1]: origin is one cookie_origin_of made. */
static bool loopback_host(const char *origin)
{
    const char *h = strstr(origin, "://");
    if (!h) return false;
    h += 3;
    if (h[0] == '[') return strncmp(h, "[::1]", 5) == 0 && (h[5] == '\0' || h[5] == ':');
    char host[64];
    size_t n = strcspn(h, ":");
    if (n == 0 || n >= sizeof host) return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0) return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

enum gh_err cookie_init(char *err, size_t errlen)
{
    available = secure = false;
    own_origin[0] = '\0';
    if (!cookie_origin_of(gh_cfg.public_url, own_origin, sizeof own_origin)) own_origin[0] = '\0';
    bool https = strncmp(own_origin, "https://", 8) == 0;
    if (gh_cfg.insecure_dev_cookies) {
        if (gh_cfg.production || https || !loopback_host(own_origin)) {
            snprintf(err, errlen,
                     "GATEHOUSE_INSECURE_DEV_COOKIES=on is only for development with an http "
                     "GATEHOUSE_PUBLIC_URL on loopback (it is %s)",
                     gh_cfg.public_url);
            return GH_ERR_CONFIG;
        }
        available = true;
        gh_log(GH_LOG_WARN,
               "GATEHOUSE_INSECURE_DEV_COOKIES=on: session cookies are sent WITHOUT Secure and "
               "without the __Host- prefix (gh_session, gh_csrf) over plain http; development "
               "on this machine only, never in production");
    } else if (https) {
        available = secure = true;
    }
    if (!csrf_key) csrf_key = sodium_malloc(CSRF_KEYBYTES);
    if (!csrf_key || sodium_mprotect_readwrite(csrf_key) != 0) {
        snprintf(err, errlen, "out of memory");
        return GH_ERR_NOMEM;
    }
    enum gh_err rc = vault_derive(CSRF_LABEL, csrf_key);
    if (rc) sodium_memzero(csrf_key, CSRF_KEYBYTES);
    sodium_mprotect_readonly(csrf_key);
    if (rc) snprintf(err, errlen, "cannot derive the CSRF key");
    return rc;
}

void cookie_shutdown(void)
{
    if (csrf_key) {
        sodium_mprotect_readwrite(csrf_key);
        sodium_free(csrf_key); /* wipes before unmapping */
        csrf_key = NULL;
    }
    available = secure = false;
}

bool cookie_available(void)
{
    return available;
}

bool cookie_secure(void)
{
    return secure;
}

/* A cookie domain turns the __Host- names (which forbid Domain) into
 * __Secure- ones; the old names stay readable (cookie_legacy_*). */
static bool domain_set(void)
{
    return gh_cfg.cookie_domain[0] != '\0';
}

const char *cookie_session_name(void)
{
    if (!secure) return "gh_session";
    return domain_set() ? "__Secure-gh_session" : "__Host-gh_session";
}

const char *cookie_csrf_name(void)
{
    if (!secure) return "gh_csrf";
    return domain_set() ? "__Secure-gh_csrf" : "__Host-gh_csrf";
}

const char *cookie_legacy_session_name(void)
{
    return secure && domain_set() ? "__Host-gh_session" : NULL;
}

const char *cookie_legacy_csrf_name(void)
{
    return secure && domain_set() ? "__Host-gh_csrf" : NULL;
}

const char *cookie_own_origin(void)
{
    return own_origin;
}

int cookie_find(const char *header, const char *name, const char **val, size_t *len)
{
    int found = 0;
    size_t nl = strlen(name);
    const char *p = header;
    *val = NULL;
    *len = 0;
    if (!p || nl == 0) return 0;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (!*p) break;
        const char *end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            const char *ne = eq;
            while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            if ((size_t)(ne - p) == nl && memcmp(p, name, nl) == 0) {
                const char *v = eq + 1, *ve = end;
                while (v < ve && (*v == ' ' || *v == '\t'))
                    v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                    v++;
                    ve--;
                }
                if (found == 0) {
                    *val = v;
                    *len = (size_t)(ve - v);
                }
                if (found < 2) found++;
            }
        }
        p = end;
    }
    return found;
}

bool cookie_origin_of(const char *url, char *out, size_t cap)
{
    const char *p;
    bool https;
    if (!url || cap == 0) return false;
    out[0] = '\0';
    if (strncasecmp(url, "https://", 8) == 0) {
        https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = false;
        p = url + 7;
    } else {
        return false;
    }
    size_t auth = strcspn(p, "/?#");
    if (auth == 0 || memchr(p, '@', auth)) return false;
    char host[256];
    size_t hl, i;
    const char *port = NULL;
    if (p[0] == '[') { /* an IPv6 literal */
        const char *rb = memchr(p, ']', auth);
        if (!rb) return false;
        hl = (size_t)(rb - p) + 1;
        if (hl < auth) {
            if (rb[1] != ':') return false;
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth);
        hl = colon ? (size_t)(colon - p) : auth;
        if (colon) port = colon + 1;
    }
    if (hl == 0 || hl >= sizeof host) return false;
    bool v6 = p[0] == '[';
    for (i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)p[i];
        bool ok = v6 ? (isxdigit(c) || c == ':' || c == '.' || (i == 0 && c == '[') ||
                        (i == hl - 1 && c == ']'))
                     : (isalnum(c) || c == '-' || c == '.' || c == '_');
        if (!ok) return false;
        host[i] = (char)tolower(c);
    }
    host[hl] = '\0';
    long pn = https ? 443 : 80;
    if (port) {
        size_t pl = (size_t)(p + auth - port);
        if (pl == 0 || pl > 5) return false;
        pn = 0;
        for (i = 0; i < pl; i++) {
            if (port[i] < '0' || port[i] > '9') return false;
            pn = pn * 10 + (port[i] - '0');
        }
        if (pn < 1 || pn > 65535) return false;
    }
    int n;
    if (pn == (https ? 443 : 80))
        n = snprintf(out, cap, "%s://%s", https ? "https" : "http", host);
    else
        n = snprintf(out, cap, "%s://%s:%ld", https ? "https" : "http", host, pn);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return false;
    }
    return true;
}

bool cookie_origin_acceptable(const char *own, const char *origin, const char *sec_fetch_site,
                              bool allowlisted)
{
    if (!origin && !sec_fetch_site) return false; /* no browser said where this came from */
    bool ours = origin && own && own[0] && strcmp(origin, own) == 0;
    if (origin && !ours && !allowlisted) return false;
    if (sec_fetch_site) {
        if (strcmp(sec_fetch_site, "same-origin") == 0) return true;
        if (strcmp(sec_fetch_site, "same-site") == 0 || strcmp(sec_fetch_site, "cross-site") == 0)
            return origin && allowlisted;
        return false; /* "none" (typed or bookmarked) or unknown: never for a mutation */
    }
    return true;
}

bool cookie_request_origin_ok(const char *origin, const char *sec_fetch_site)
{
    return cookie_origin_acceptable(own_origin, origin, sec_fetch_site,
                                    origin && cors_origin_allowed(origin));
}

static enum gh_err csrf_mac(const char *session_id, uint8_t mac[32])
{
    uint8_t msg[sizeof CSRF_LABEL + 64];
    size_t sl = strlen(session_id);
    if (!csrf_key || sl > 64) return GH_ERR_INTERNAL;
    memcpy(msg, CSRF_LABEL, sizeof CSRF_LABEL); /* with its NUL: a separator */
    memcpy(msg + sizeof CSRF_LABEL, session_id, sl);
    unsigned int n = 0;
    bool ok = HMAC(EVP_sha256(), csrf_key, CSRF_KEYBYTES, msg, sizeof CSRF_LABEL + sl, mac, &n) &&
              n == 32;
    return ok ? GH_OK : GH_ERR_INTERNAL;
}

enum gh_err cookie_csrf_token(const char *session_id, char out[COOKIE_CSRF_LEN + 1])
{
    uint8_t mac[32];
    enum gh_err rc = csrf_mac(session_id, mac);
    if (rc == GH_OK) rc = gh_b64url_encode(out, COOKIE_CSRF_LEN + 1, mac, sizeof mac);
    gh_wipe(mac, sizeof mac);
    if (rc) out[0] = '\0';
    return rc;
}

bool cookie_csrf_valid(const char *session_id, const char *presented, size_t len)
{
    char want[COOKIE_CSRF_LEN + 1];
    if (!presented || cookie_csrf_token(session_id, want) != GH_OK) return false;
    bool ok = gh_ct_equal(want, COOKIE_CSRF_LEN, presented, len);
    gh_wipe(want, sizeof want);
    return ok;
}

void cookie_format(char *out, size_t cap, const char *name, const char *value, int64_t max_age,
                   bool http_only)
{
    cookie_format_site(out, cap, name, value, max_age, http_only, false);
}

void cookie_format_site(char *out, size_t cap, const char *name, const char *value, int64_t max_age,
                        bool http_only, bool cross_site)
{
    bool domain = domain_set() && strncmp(name, "__Host-", 7) != 0;
    snprintf(out, cap, "%s=%s; Path=/; Max-Age=%lld%s%s%s%s; SameSite=%s", name, value,
             (long long)max_age, domain ? "; Domain=" : "", domain ? gh_cfg.cookie_domain : "",
             secure ? "; Secure" : "", http_only ? "; HttpOnly" : "", cross_site ? "None" : "Lax");
}
