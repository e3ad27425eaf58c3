#include "sessions/discovery.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "http/server.h"

/* The route table, handed over at start (serve.c) rather than included,
 * so that sessions/ does not depend on the table that lists its handlers. */
static const struct gh_route *routes;
static size_t nroutes;

void discovery_set_routes(const struct gh_route *r, size_t n)
{
    routes = r;
    nroutes = n;
}

void discovery_url(char *out, size_t outlen, const char *path)
{
    size_t n = strlen(gh_cfg.issuer);
    while (n > 0 && gh_cfg.issuer[n - 1] == '/')
        n--;
    snprintf(out, outlen, "%.*s%s", (int)n, gh_cfg.issuer, path);
}

/* Only what exists is claimed (docs/api.md, "GET /.well-known/openid-
 * configuration"): Gatehouse is no OpenID Provider with an authorization
 * endpoint or ID tokens; the fields a verifier reads are exact. */
json_t *discovery_document(void)
{
    char jwks[600], token[600];
    discovery_url(jwks, sizeof jwks, "/.well-known/jwks.json");
    discovery_url(token, sizeof token, "/v1/token");
    json_t *eps = json_object();
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:[s], s:[s], s:[], s:[s], s:[s], s:[s], s:s}", "issuer", gh_cfg.issuer,
        "jwks_uri", jwks, "token_endpoint", token, "grant_types_supported", "refresh_token",
        "token_endpoint_auth_methods_supported", "none", "response_types_supported",
        "subject_types_supported", "public", "id_token_signing_alg_values_supported", "ES256",
        "access_token_signing_alg_values_supported", "ES256", "gatehouse_audience",
        gh_cfg.audience);
    for (size_t i = 0; eps && i < nroutes; i++) {
        const struct gh_route *rt = &routes[i];
        /* The logo is an image (404 unless one is configured), no endpoint. */
        if (rt->flags & R_ASSET) continue;
        char key[160], url[700];
        snprintf(key, sizeof key, "%s %s", gh_method_name(rt->method),
                 rt->name ? rt->name : rt->path);
        discovery_url(url, sizeof url, rt->name ? rt->name : rt->path);
        json_object_set_new(eps, key, json_string(url));
    }
    if (!doc || !eps) {
        json_decref(doc);
        json_decref(eps);
        return NULL;
    }
    json_object_set_new(doc, "gatehouse_endpoints", eps);
    return doc;
}

void discovery_log_start(void)
{
    char jwks[600];
    discovery_url(jwks, sizeof jwks, "/.well-known/jwks.json");
    gh_log(GH_LOG_INFO, "tokens: issuer %s, audience %s, JWKS %s (ES256)", gh_cfg.issuer,
           gh_cfg.audience, jwks);
}
