#include "guard/cors.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"

struct cors_config cors_cfg;

/* Normalises one origin of len bytes into out, as a browser would send it. */
static bool normalise(const char *s, size_t len, bool production, char *out, const char **why)
{
    size_t sl;
    bool https;
    if (len > 8 && strncasecmp(s, "https://", 8) == 0) {
        https = true;
        sl = 8;
    } else if (len > 7 && strncasecmp(s, "http://", 7) == 0) {
        https = false;
        sl = 7;
    } else {
        *why = "must start with https:// or http://";
        return false;
    }
    if (!https && production) {
        *why = "must be https:// in production";
        return false;
    }
    const char *host = s + sl, *end = s + len, *port = NULL, *p = host;
    bool v6 = host < end && *host == '[';
    if (v6) {
        for (p = host + 1; p < end && *p != ']'; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') break;
        if (p == end || *p != ']' || p == host + 1) {
            *why = "has a bad IPv6 address";
            return false;
        }
        p++;
        if (p < end && *p != ':') {
            *why = "has a character an origin cannot hold";
            return false;
        }
    }
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ':' && !port) {
            port = p;
            continue;
        }
        if (port ? !isdigit(c) : !(isalnum(c) || c == '-' || c == '.')) {
            *why = c == '/'   ? "must not have a path (not even a trailing /)"
                   : c == '@' ? "must not have user info"
                   : c == '*' ? "must not hold a wildcard"
                   : port     ? "has a bad port"
                              : "has a character an origin cannot hold";
            return false;
        }
    }
    const char *hend = port ? port : end;
    if (hend == host || (!v6 && (*host == '.' || hend[-1] == '.'))) {
        *why = "has no host";
        return false;
    }
    long pn = -1;
    if (port) {
        if (end - port < 2 || end - port > 6) {
            *why = "has a bad port";
            return false;
        }
        pn = 0;
        for (const char *q = port + 1; q < end; q++)
            pn = pn * 10 + (*q - '0');
        if (pn < 1 || pn > 65535) {
            *why = "has a bad port";
            return false;
        }
        if (pn == (https ? 443 : 80)) pn = -1; /* browsers omit the default port */
    }
    size_t hl = (size_t)(hend - host);
    char portbuf[8] = "";
    if (pn > 0) snprintf(portbuf, sizeof portbuf, ":%ld", pn);
    if (sl + hl + strlen(portbuf) > CORS_ORIGIN_MAX) {
        *why = "is too long";
        return false;
    }
    memcpy(out, https ? "https://" : "http://", sl);
    for (size_t i = 0; i < hl; i++)
        out[sl + i] = (char)tolower((unsigned char)host[i]);
    memcpy(out + sl + hl, portbuf, strlen(portbuf) + 1); /* fits: checked above */
    return true;
}

enum gh_err cors_parse_origins(const char *spec, char out[][CORS_ORIGIN_MAX + 1], int max, int *n,
                               bool production, char *err, size_t errlen)
{
    *n = 0;
    if (!spec) return GH_OK;
    const char *p = spec;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        size_t len = (size_t)(e - p);
        const char *why = NULL;
        if (len == 1 && *p == '*')
            why = "is a wildcard; list each origin (credentials are never allowed for *)";
        else if (len == 4 && strncasecmp(p, "null", 4) == 0)
            why = "is the opaque origin, which any sandboxed page can send";
        else if (*n >= max)
            why = "is one too many";
        if (why || !normalise(p, len, production, out[*n], &why)) {
            snprintf(err, errlen, "GATEHOUSE_CORS_ORIGINS: \"%.*s\" %s", (int)(len > 80 ? 80 : len),
                     p, why);
            *n = 0;
            return GH_ERR_CONFIG;
        }
        bool dup = false;
        for (int i = 0; i < *n; i++)
            dup = dup || strcmp(out[i], out[*n]) == 0;
        if (!dup) (*n)++;
        p = e;
    }
    return GH_OK;
}

bool cors_origin_listed(const char *origin, const char (*list)[CORS_ORIGIN_MAX + 1], int n)
{
    if (!origin) return false;
    for (int i = 0; i < n; i++)
        if (strcmp(origin, list[i]) == 0) return true;
    return false;
}

bool cors_origin_allowed(const char *origin)
{
    return cors_origin_listed(origin, (const char(*)[CORS_ORIGIN_MAX + 1]) cors_cfg.origins,
                              cors_cfg.norigins);
}
