/* Federated sign-in providers (OpenID Connect relying party): the
 * configuration of each provider, read once at start from
 * GATEHOUSE_OIDC_<NAME>_* (README.md's settings table, docs/api.md
 * "Settings"), with presets for Google and Apple. A provider is found by
 * scanning the environment for GATEHOUSE_OIDC_<NAME>_CLIENT_ID.
 *
 * Owns: the provider table (static storage, filled by fed_config_load and
 * read-only afterwards, so any thread may read it without locks), each
 * provider's client secret (heap, wiped by fed_config_free) or Apple's
 * private key (held for client_secret.c, never copied out), and the
 * pointer to each provider's metadata cache (discovery.c owns the cache
 * and its mutex). Callers get const pointers into the table, valid until
 * fed_config_free(). Nothing here does network I/O. */
#ifndef GH_FEDERATION_PROVIDERS_H
#define GH_FEDERATION_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FED_NAME_MAX 32
#define FED_MAX_PROVIDERS 8
#define FED_MAX_NATIVE 4

enum fed_preset { FED_PRESET_GENERIC = 0, FED_PRESET_GOOGLE, FED_PRESET_APPLE };

struct fed_cache; /* discovery.c */

struct fed_provider {
    char name[FED_NAME_MAX + 1]; /* lower-case, the URL segment: "google" */
    char display[64];            /* the button's words: "Google" */
    char issuer[512];
    char client_id[256];
    char scopes[256];        /* default "openid email profile" ("openid email name" Apple) */
    bool form_post;          /* the callback arrives as a cross-site POST (Apple) */
    bool trust_provider_mfa; /* an `amr` with a second factor counts as ours */
    char native_client_ids[FED_MAX_NATIVE][256];
    size_t n_native;
    /* private (federation/ only): */
    enum fed_preset preset;
    char *client_secret;     /* heap, wiped at exit; NULL: none (Apple signs one) */
    char team_id[16];        /* Apple: the team id (iss of the client secret) */
    char key_id[16];         /* Apple: the key's id (kid of the client secret) */
    char *private_key_pem;   /* Apple: the .p8 key (heap, wiped at exit) */
    struct fed_cache *cache; /* discovery document + JWKS (discovery.c) */
};

/** Reads every GATEHOUSE_OIDC_<NAME>_* provider and GATEHOUSE_OIDC_CLOCK_SKEW
 *  / GATEHOUSE_OIDC_CA_FILE. GH_ERR_CONFIG with a message naming the variable
 *  at fault in err; nothing configured is GH_OK with no provider. Called once
 *  by cli/startup.c before any thread starts. */
enum gh_err fed_config_load(char *err, size_t errlen) GH_WUR; /* called by cli/startup.c */
/** Wipes the secrets and frees the caches; the table is empty afterwards. */
void fed_config_free(void);
/** The number of configured providers. */
size_t fed_provider_count(void);
/** The i-th provider in configuration order (the environment's order,
 *  sorted by name); NULL when i is out of range. */
const struct fed_provider *fed_provider_at(size_t i); /* configuration order */
/** The provider named name (exact, lower case); NULL: not configured. */
const struct fed_provider *fed_provider_find(const char *name); /* NULL: not configured */

/* Private (federation/ only): the table providers.c serves and
 * providers_config.c fills at start, before any thread, and empties at
 * exit. Everyone else reads it through the functions above. */
struct fed_state {
    struct fed_provider providers[FED_MAX_PROVIDERS];
    size_t n;
    int64_t clock_skew; /* GATEHOUSE_OIDC_CLOCK_SKEW */
    char ca_file[1024]; /* GATEHOUSE_OIDC_CA_FILE ("" unset) */
};
extern struct fed_state fed_state;

/** GATEHOUSE_OIDC_CLOCK_SKEW (seconds, default 60). */
int64_t fed_clock_skew(void);
/** GATEHOUSE_OIDC_CA_FILE ("" when unset: the system's CAs only). */
const char *fed_ca_file(void);

/** True when url is https://, or http:// to a loopback host (127.0.0.1,
 *  localhost, [::1]) with allow_loopback_http. Only the scheme and host are
 *  checked. */
bool fed_url_allowed(const char *url, bool allow_loopback_http);

#endif
