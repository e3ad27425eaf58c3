/* The provider table and its readers (providers.h); providers_config.c
 * fills it at start. */
#include "federation/providers.h"

#include <string.h>

struct fed_state fed_state = {.clock_skew = 60};

size_t fed_provider_count(void)
{
    return fed_state.n;
}

const struct fed_provider *fed_provider_at(size_t i)
{
    return i < fed_state.n ? &fed_state.providers[i] : NULL;
}

const struct fed_provider *fed_provider_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < fed_state.n; i++)
        if (strcmp(fed_state.providers[i].name, name) == 0) return &fed_state.providers[i];
    return NULL;
}

int64_t fed_clock_skew(void)
{
    return fed_state.clock_skew;
}

const char *fed_ca_file(void)
{
    return fed_state.ca_file;
}

bool fed_url_allowed(const char *url, bool allow_loopback_http)
{
    if (!url) return false;
    const char *auth = strstr(url, "://");
    /* No userinfo: "http://localhost:80@evil.example/" is evil.example. */
    if (!auth || memchr(auth + 3, '@', strcspn(auth + 3, "/?#"))) return false;
    if (strncmp(url, "https://", 8) == 0) return url[8] != '\0' && url[8] != '/';
    if (!allow_loopback_http || strncmp(url, "http://", 7) != 0) return false;
    const char *h = url + 7;
    static const char *const hosts[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(h, hosts[i], n) == 0 && (h[n] == '\0' || h[n] == ':' || h[n] == '/'))
            return true;
    }
    return false;
}
