/* Reading the providers from GATEHOUSE_OIDC_<NAME>_* at start
 * (fed_config_load, fed_config_free of providers.h) into the table
 * providers.c serves. Apart from providers.c so that the table's readers
 * (fetch, discovery, client_secret) do not form an include circle with
 * what loading calls (the Apple key check, the metadata caches). */
#include "federation/providers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/util.h"
#include "federation/client_secret.h"
#include "federation/discovery.h"

extern char **environ;

#define PREFIX "GATEHOUSE_OIDC_"
#define PREFIX_LEN (sizeof PREFIX - 1)

/* Every per-provider setting: an unknown GATEHOUSE_OIDC_<NAME>_<X> is a typo
 * worth refusing (a provider that silently ignores its issuer would sign
 * people in somewhere else). */
static const char *const known_suffixes[] = {
    "ISSUER",       "CLIENT_ID", "CLIENT_SECRET", "CLIENT_SECRET_FILE", "SCOPES",
    "DISPLAY_NAME", "PRESET",    "RESPONSE_MODE", "TRUST_PROVIDER_MFA", "NATIVE_CLIENT_IDS",
    "TEAM_ID",      "KEY_ID",    "PRIVATE_KEY",   "PRIVATE_KEY_FILE",
};

void fed_config_free(void)
{
    for (size_t i = 0; i < fed_state.n; i++) {
        struct fed_provider *p = &fed_state.providers[i];
        gh_free_secret_str(p->client_secret);
        gh_free_secret_str(p->private_key_pem);
        fed_cache_free(p->cache);
    }
    gh_wipe(fed_state.providers, sizeof fed_state.providers);
    fed_state.n = 0;
    fed_state.clock_skew = 60;
    fed_state.ca_file[0] = '\0';
}

/* GATEHOUSE_OIDC_<NAME>_<suffix> into buf. */
static void var_name(char *buf, size_t cap, const char *upper, const char *suffix)
{
    snprintf(buf, cap, PREFIX "%s_%s", upper, suffix);
}

static void upper_of(char *out, size_t cap, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++)
        out[i] = (char)toupper((unsigned char)name[i]);
    out[i] = '\0';
}

static bool printable_ascii(const char *s, bool spaces)
{
    for (; *s; s++)
        if ((unsigned char)*s < (spaces ? 0x20 : 0x21) || (unsigned char)*s > 0x7e) return false;
    return true;
}

/* RFC 6749 3.3: scope tokens (%x21 / %x23-5B / %x5D-7E) separated by one
 * space, and "openid" among them (no ID token otherwise). */
static bool scopes_valid(const char *s)
{
    bool openid = false;
    const char *t = s;
    for (;;) {
        size_t n = strcspn(t, " ");
        if (n == 0) return false;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)t[i];
            if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
        }
        if (n == 6 && strncmp(t, "openid", 6) == 0) openid = true;
        if (t[n] == '\0') break;
        t += n + 1;
    }
    return openid;
}

static enum gh_err set_str(char *dst, size_t cap, const char *upper, const char *suffix,
                           const char *def, char *err, size_t errlen)
{
    char v[160];
    var_name(v, sizeof v, upper, suffix);
    return config_env_str(dst, cap, v, def, err, errlen);
}

static enum gh_err bad(char *err, size_t errlen, const char *upper, const char *suffix,
                       const char *what)
{
    snprintf(err, errlen, PREFIX "%s_%s %s", upper, suffix, what);
    return GH_ERR_CONFIG;
}

static enum gh_err read_native(struct fed_provider *p, const char *upper, char *err, size_t errlen)
{
    char v[160];
    var_name(v, sizeof v, upper, "NATIVE_CLIENT_IDS");
    const char *s = config_env(v);
    p->n_native = 0;
    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        size_t n = strcspn(s, ",");
        size_t m = n;
        while (m > 0 && s[m - 1] == ' ')
            m--;
        if (m > 0) {
            if (p->n_native == FED_MAX_NATIVE || m >= sizeof p->native_client_ids[0])
                return bad(err, errlen, upper, "NATIVE_CLIENT_IDS",
                           "holds at most 4 client ids of at most 255 bytes each");
            memcpy(p->native_client_ids[p->n_native], s, m);
            p->native_client_ids[p->n_native][m] = '\0';
            if (!printable_ascii(p->native_client_ids[p->n_native], false))
                return bad(err, errlen, upper, "NATIVE_CLIENT_IDS",
                           "must be a comma-separated list of client ids");
            p->n_native++;
        }
        s += n;
    }
    return GH_OK;
}

static enum gh_err read_onoff(bool *out, const char *upper, const char *suffix, char *err,
                              size_t errlen)
{
    char v[160];
    var_name(v, sizeof v, upper, suffix);
    const char *s = config_env(v);
    if (!s) return GH_OK;
    if (strcmp(s, "on") == 0)
        *out = true;
    else if (strcmp(s, "off") == 0)
        *out = false;
    else
        return bad(err, errlen, upper, suffix, "must be on or off");
    return GH_OK;
}

/* Trailing white space (a newline at the end of a _FILE) is not part of a
 * secret. */
static void trim_secret(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

static enum gh_err read_preset(struct fed_provider *p, const char *upper, char *err, size_t errlen)
{
    char v[160];
    var_name(v, sizeof v, upper, "PRESET");
    const char *s = config_env(v);
    if (!s)
        s = strcmp(p->name, "google") == 0  ? "google"
            : strcmp(p->name, "apple") == 0 ? "apple"
                                            : "generic";
    if (strcmp(s, "google") == 0)
        p->preset = FED_PRESET_GOOGLE;
    else if (strcmp(s, "apple") == 0)
        p->preset = FED_PRESET_APPLE;
    else if (strcmp(s, "generic") == 0)
        p->preset = FED_PRESET_GENERIC;
    else
        return bad(err, errlen, upper, "PRESET", "must be google, apple or generic");
    return GH_OK;
}

static enum gh_err read_issuer(struct fed_provider *p, const char *upper, char *err, size_t errlen)
{
    const char *def = p->preset == FED_PRESET_GOOGLE  ? "https://accounts.google.com"
                      : p->preset == FED_PRESET_APPLE ? "https://appleid.apple.com"
                                                      : "";
    enum gh_err rc = set_str(p->issuer, sizeof p->issuer, upper, "ISSUER", def, err, errlen);
    if (rc) return rc;
    if (!p->issuer[0]) return bad(err, errlen, upper, "ISSUER", "is required (generic provider)");
    if (!printable_ascii(p->issuer, false) || strpbrk(p->issuer, "?#@") ||
        !fed_url_allowed(p->issuer, !gh_cfg.production))
        return bad(err, errlen, upper, "ISSUER",
                   gh_cfg.production ? "must be an https:// URL without query or fragment"
                                     : "must be an https:// URL (or http:// on loopback: "
                                       "127.0.0.1, localhost, [::1]) without query or fragment");
    return GH_OK;
}

static enum gh_err read_secrets(struct fed_provider *p, const char *upper, char *err, size_t errlen)
{
    char v[160];
    var_name(v, sizeof v, upper, "CLIENT_SECRET");
    enum gh_err rc = config_env_secret(v, &p->client_secret, err, errlen);
    if (rc) return rc;
    trim_secret(p->client_secret);
    if (p->client_secret && !p->client_secret[0]) {
        gh_free_secret_str(p->client_secret);
        p->client_secret = NULL;
    }
    if (p->preset != FED_PRESET_APPLE) {
        if (p->preset == FED_PRESET_GOOGLE && !p->client_secret)
            return bad(err, errlen, upper, "CLIENT_SECRET", "(or _CLIENT_SECRET_FILE) is required");
        return GH_OK;
    }
    if (p->client_secret)
        return bad(err, errlen, upper, "CLIENT_SECRET",
                   "is not used by Apple: set _TEAM_ID, _KEY_ID and _PRIVATE_KEY_FILE");
    if ((rc = set_str(p->team_id, sizeof p->team_id, upper, "TEAM_ID", "", err, errlen)) ||
        (rc = set_str(p->key_id, sizeof p->key_id, upper, "KEY_ID", "", err, errlen)))
        return rc;
    if (!p->team_id[0] || !printable_ascii(p->team_id, false))
        return bad(err, errlen, upper, "TEAM_ID", "is required (Apple)");
    if (!p->key_id[0] || !printable_ascii(p->key_id, false))
        return bad(err, errlen, upper, "KEY_ID", "is required (Apple)");
    var_name(v, sizeof v, upper, "PRIVATE_KEY");
    if ((rc = config_env_secret(v, &p->private_key_pem, err, errlen))) return rc;
    if (!p->private_key_pem)
        return bad(err, errlen, upper, "PRIVATE_KEY_FILE", "is required (Apple)");
    if (fed_client_secret_check_key(p->private_key_pem) != GH_OK)
        return bad(err, errlen, upper, "PRIVATE_KEY_FILE",
                   "is not a usable EC P-256 private key (the .p8 file, PEM)");
    return GH_OK;
}

static enum gh_err read_provider(struct fed_provider *p, const char *upper, char *err,
                                 size_t errlen)
{
    enum gh_err rc;
    if ((rc = read_preset(p, upper, err, errlen)) || (rc = read_issuer(p, upper, err, errlen)) ||
        (rc = set_str(p->client_id, sizeof p->client_id, upper, "CLIENT_ID", "", err, errlen)))
        return rc;
    if (!printable_ascii(p->client_id, false))
        return bad(err, errlen, upper, "CLIENT_ID", "must be printable ASCII without spaces");
    const char *scopes =
        p->preset == FED_PRESET_APPLE ? "openid email name" : "openid email profile";
    if ((rc = set_str(p->scopes, sizeof p->scopes, upper, "SCOPES", scopes, err, errlen)))
        return rc;
    if (!scopes_valid(p->scopes))
        return bad(err, errlen, upper, "SCOPES",
                   "must be scope words separated by single spaces, including openid");
    char display[64];
    snprintf(display, sizeof display, "%s", p->name);
    display[0] = (char)toupper((unsigned char)display[0]);
    if ((rc = set_str(p->display, sizeof p->display, upper, "DISPLAY_NAME", display, err, errlen)))
        return rc;
    if (!gh_utf8_valid(p->display, strlen(p->display)) || !printable_ascii(p->display, true)) {
        /* printable_ascii refuses UTF-8 too: accept any valid UTF-8 without
         * control characters. */
        bool ok = gh_utf8_valid(p->display, strlen(p->display));
        for (const char *c = p->display; ok && *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) ok = false;
        if (!ok) return bad(err, errlen, upper, "DISPLAY_NAME", "must be one line of UTF-8 text");
    }
    char v[160];
    var_name(v, sizeof v, upper, "RESPONSE_MODE");
    const char *rm = config_env(v);
    p->form_post = p->preset == FED_PRESET_APPLE;
    if (rm && strcmp(rm, "query") == 0)
        p->form_post = false;
    else if (rm && strcmp(rm, "form_post") == 0)
        p->form_post = true;
    else if (rm)
        return bad(err, errlen, upper, "RESPONSE_MODE", "must be query or form_post");
    if ((rc = read_onoff(&p->trust_provider_mfa, upper, "TRUST_PROVIDER_MFA", err, errlen)) ||
        (rc = read_native(p, upper, err, errlen)) || (rc = read_secrets(p, upper, err, errlen)))
        return rc;
    return fed_cache_new(&p->cache);
}

/* The provider names: NAME of each GATEHOUSE_OIDC_<NAME>_CLIENT_ID, lower
 * case, sorted (the configuration order, stable across restarts). */
static enum gh_err find_names(char names[FED_MAX_PROVIDERS][FED_NAME_MAX + 1], size_t *n, char *err,
                              size_t errlen)
{
    static const char suffix[] = "_CLIENT_ID=";
    *n = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, PREFIX, PREFIX_LEN) != 0) continue;
        const char *name = *e + PREFIX_LEN, *eq = strchr(name, '=');
        if (!eq || (size_t)(eq - name) < sizeof suffix - 1) continue;
        const char *tail = eq + 1 - (sizeof suffix - 1);
        if (strncmp(tail, suffix, sizeof suffix - 1) != 0 || tail == name) continue;
        size_t len = (size_t)(tail - name);
        bool ok = len <= FED_NAME_MAX && name[0] != '_' && name[len - 1] != '_';
        for (size_t i = 0; ok && i < len; i++)
            ok = isdigit((unsigned char)name[i]) || (name[i] >= 'A' && name[i] <= 'Z') ||
                 name[i] == '_';
        if (!ok) {
            snprintf(
                err, errlen,
                "%.*s: the provider name must be 1 to 32 of A-Z, 0-9 and _ (not at either end)",
                (int)(eq - *e), *e);
            return GH_ERR_CONFIG;
        }
        if (!eq[1]) continue; /* empty: as if unset */
        if (*n == FED_MAX_PROVIDERS) {
            snprintf(err, errlen,
                     "at most %d OpenID Connect providers (GATEHOUSE_OIDC_*_CLIENT_ID)",
                     FED_MAX_PROVIDERS);
            return GH_ERR_CONFIG;
        }
        for (size_t i = 0; i < len; i++)
            names[*n][i] = (char)tolower((unsigned char)name[i]);
        names[*n][len] = '\0';
        (*n)++;
    }
    qsort(names, *n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return GH_OK;
}

/* Every GATEHOUSE_OIDC_* variable is a global setting or belongs to a
 * configured provider with a known suffix. */
static enum gh_err check_unknown(char names[][FED_NAME_MAX + 1], size_t n, char *err, size_t errlen)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, PREFIX, PREFIX_LEN) != 0) continue;
        const char *rest = *e + PREFIX_LEN, *eq = strchr(rest, '=');
        size_t len = eq ? (size_t)(eq - rest) : strlen(rest);
        if (eq && !eq[1]) continue; /* empty: as if unset (config_env) */
        if ((len == 10 && strncmp(rest, "CLOCK_SKEW", 10) == 0) ||
            (len == 7 && strncmp(rest, "CA_FILE", 7) == 0))
            continue;
        bool known = false;
        for (size_t i = 0; !known && i < n; i++) {
            char upper[FED_NAME_MAX + 1];
            upper_of(upper, sizeof upper, names[i]);
            size_t ul = strlen(upper);
            if (len <= ul + 1 || strncmp(rest, upper, ul) != 0 || rest[ul] != '_') continue;
            for (size_t k = 0; !known && k < sizeof known_suffixes / sizeof known_suffixes[0]; k++)
                known = strlen(known_suffixes[k]) == len - ul - 1 &&
                        strncmp(rest + ul + 1, known_suffixes[k], len - ul - 1) == 0;
        }
        if (!known) {
            snprintf(
                err, errlen,
                "%.*s is not a setting (or its provider has no GATEHOUSE_OIDC_<NAME>_CLIENT_ID)",
                (int)(len + PREFIX_LEN), *e);
            return GH_ERR_CONFIG;
        }
    }
    return GH_OK;
}

enum gh_err fed_config_load(char *err, size_t errlen)
{
    fed_config_free();
    enum gh_err rc =
        config_env_int("GATEHOUSE_OIDC_CLOCK_SKEW", 60, 0, 600, &fed_state.clock_skew, err, errlen);
    if (rc) return rc;
    if ((rc = config_env_str(fed_state.ca_file, sizeof fed_state.ca_file, "GATEHOUSE_OIDC_CA_FILE",
                             "", err, errlen)))
        return rc;
    if (fed_state.ca_file[0] && access(fed_state.ca_file, R_OK) != 0) {
        snprintf(err, errlen, "GATEHOUSE_OIDC_CA_FILE: cannot read %s", fed_state.ca_file);
        return GH_ERR_CONFIG;
    }
    char names[FED_MAX_PROVIDERS][FED_NAME_MAX + 1];
    size_t n = 0;
    if ((rc = find_names(names, &n, err, errlen)) || (rc = check_unknown(names, n, err, errlen)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct fed_provider *p = &fed_state.providers[fed_state.n++];
        memcpy(p->name, names[i], sizeof p->name); /* both FED_NAME_MAX + 1, NUL-ended */
        char upper[FED_NAME_MAX + 1];
        upper_of(upper, sizeof upper, names[i]);
        if ((rc = read_provider(p, upper, err, errlen))) {
            fed_config_free();
            return rc;
        }
    }
    return GH_OK;
}
