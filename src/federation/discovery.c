/* The discovery document and JWKS: parsers and the per-provider cache
 * (discovery.h). */
#include "federation/discovery.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <jansson.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "federation/fetch.h"

static const struct {
    const char *name;
    unsigned bit;
} alg_names[] = {
    {"RS256", FED_ALG_RS256}, {"RS384", FED_ALG_RS384}, {"RS512", FED_ALG_RS512},
    {"PS256", FED_ALG_PS256}, {"PS384", FED_ALG_PS384}, {"PS512", FED_ALG_PS512},
    {"ES256", FED_ALG_ES256}, {"ES384", FED_ALG_ES384}, {"ES512", FED_ALG_ES512},
};

unsigned fed_alg_bit(const char *alg)
{
    for (size_t i = 0; alg && i < sizeof alg_names / sizeof alg_names[0]; i++)
        if (strcmp(alg, alg_names[i].name) == 0) return alg_names[i].bit;
    return 0;
}

/* ---- parsers ---- */

static enum gh_err invalid(char *why, size_t whylen, const char *what)
{
    snprintf(why, whylen, "%s", what);
    return GH_ERR_INVALID;
}

static bool array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

static bool copy_url(char *dst, const json_t *v, bool allow_http)
{
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) >= FED_URL_MAX || strlen(s) != json_string_length(v))
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) return false;
    if (strchr(s, '#') || !fed_url_allowed(s, allow_http)) return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

enum gh_err fed_discovery_parse(const char *doc, size_t len, const char *issuer, bool allow_http,
                                struct fed_metadata *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!doc || len > FED_DOC_MAX) return invalid(why, whylen, "discovery: too large");
    json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
    enum gh_err rc = GH_ERR_INVALID;
    if (!json_is_object(j)) {
        invalid(why, whylen, "discovery: not a JSON object");
        goto out;
    }
    const char *iss = json_string_value(json_object_get(j, "issuer"));
    if (!iss || strcmp(iss, issuer) != 0) {
        invalid(why, whylen, "discovery: issuer differs from the configured one");
        goto out;
    }
    if (!copy_url(out->authorization_endpoint, json_object_get(j, "authorization_endpoint"),
                  allow_http) ||
        !copy_url(out->token_endpoint, json_object_get(j, "token_endpoint"), allow_http) ||
        !copy_url(out->jwks_uri, json_object_get(j, "jwks_uri"), allow_http)) {
        invalid(why, whylen, "discovery: an endpoint is missing or not an https URL");
        goto out;
    }
    const json_t *am = json_object_get(j, "token_endpoint_auth_methods_supported");
    if (am && !json_is_array(am)) {
        invalid(why, whylen, "discovery: token_endpoint_auth_methods_supported is not a list");
        goto out;
    }
    /* RFC 8414: absent means client_secret_basic. */
    out->auth_post =
        am && array_has(am, "client_secret_post") && !array_has(am, "client_secret_basic");
    out->algs = FED_ALG_DEFAULT;
    const json_t *al = json_object_get(j, "id_token_signing_alg_values_supported");
    if (al && !json_is_array(al)) {
        invalid(why, whylen, "discovery: id_token_signing_alg_values_supported is not a list");
        goto out;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(al, i, v) out->algs |= fed_alg_bit(json_string_value(v));
    rc = GH_OK;
out:
    json_decref(j);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

static void jwk_free_one(struct fed_jwk *k)
{
    free(k->json);
    k->json = NULL;
}

void fed_jwks_free(struct fed_jwks *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        jwk_free_one(&s->k[i]);
    free(s);
}

static bool copy_short(char *dst, size_t cap, const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) >= cap || strlen(s) != json_string_length(v)) return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* cjose's base64url decoder asserts (aborts the process) on some inputs,
 * a '=' inside or a length of 4n + 1 among them: only strict base64url
 * reaches it. Every member cjose decodes, when present, must be so. */
static bool b64_members_ok(const json_t *key)
{
    static const char *const members[] = {"n", "e", "x", "y", "d", "p", "q", "dp", "dq", "qi", "k"};
    for (size_t m = 0; m < sizeof members / sizeof members[0]; m++) {
        const json_t *v = json_object_get(key, members[m]);
        if (!v) continue;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (!s || n == 0 || n > 4096 || n % 4 == 1) return false;
        for (size_t i = 0; i < n; i++)
            if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                  (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
                return false;
    }
    return true;
}

/* One key of the set, or false to skip it (not for signatures, private,
 * malformed (not strict base64url), or an RSA key under 2048 bits). */
static bool jwk_take(const json_t *key, struct fed_jwk *k)
{
    memset(k, 0, sizeof *k);
    if (!json_is_object(key) || !copy_short(k->kty, sizeof k->kty, json_object_get(key, "kty")))
        return false;
    if (strcmp(k->kty, "RSA") != 0 && strcmp(k->kty, "EC") != 0) return false;
    const json_t *use = json_object_get(key, "use"), *ops = json_object_get(key, "key_ops");
    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) return false;
    if (ops && !(json_is_array(ops) && array_has(ops, "verify"))) return false;
    if (json_object_get(key, "d")) return false; /* a private key has no place here */
    const json_t *kid = json_object_get(key, "kid"), *alg = json_object_get(key, "alg");
    if (kid && !copy_short(k->kid, sizeof k->kid, kid)) return false;
    if (alg && !copy_short(k->alg, sizeof k->alg, alg)) return false;
    if (alg && !fed_alg_bit(k->alg)) return false; /* an HMAC, none or unknown alg */
    if (strcmp(k->kty, "EC") == 0 &&
        !copy_short(k->crv, sizeof k->crv, json_object_get(key, "crv")))
        return false;
    if (!b64_members_ok(key)) return false;
    k->json = json_dumps(key, JSON_COMPACT);
    if (!k->json) return false;
    cjose_err cerr;
    cjose_jwk_t *jwk = cjose_jwk_import(k->json, strlen(k->json), &cerr);
    bool ok = jwk != NULL;
    if (ok && strcmp(k->kty, "RSA") == 0)
        ok = cjose_jwk_get_kty(jwk, &cerr) == CJOSE_JWK_KTY_RSA &&
             cjose_jwk_get_keysize(jwk, &cerr) >= 2048;
    if (ok && strcmp(k->kty, "EC") == 0) ok = cjose_jwk_get_kty(jwk, &cerr) == CJOSE_JWK_KTY_EC;
    if (jwk) cjose_jwk_release(jwk);
    if (!ok) jwk_free_one(k);
    return ok;
}

enum gh_err fed_jwks_parse(const char *doc, size_t len, struct fed_jwks **out, char *why,
                           size_t whylen)
{
    *out = NULL;
    if (!doc || len > FED_DOC_MAX) return invalid(why, whylen, "jwks: too large");
    json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *keys = json_object_get(j, "keys");
    if (!json_is_object(j) || !json_is_array(keys)) {
        json_decref(j);
        return invalid(why, whylen, "jwks: not a key set");
    }
    struct fed_jwks *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(j);
        return GH_ERR_NOMEM;
    }
    s->refs = 1;
    size_t i;
    const json_t *key;
    json_array_foreach(keys, i, key)
    {
        if (s->n == FED_JWKS_MAX_KEYS) break;
        if (jwk_take(key, &s->k[s->n])) s->n++;
    }
    json_decref(j);
    *out = s;
    return GH_OK;
}

/* ---- the cache ---- */

struct slot {
    int64_t at;         /* when the held copy was fetched (0: none) */
    int64_t attempt_at; /* the last fetch started */
    int64_t down_until; /* no fetch before this after a failure */
    bool fetching;
};

struct fed_cache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fed_metadata meta;
    struct slot ms;
    struct fed_jwks *jwks;
    struct slot js;
};

enum gh_err fed_cache_new(struct fed_cache **out)
{
    struct fed_cache *c = calloc(1, sizeof *c);
    if (!c) return GH_ERR_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return GH_OK;
}

void fed_cache_free(struct fed_cache *c)
{
    if (!c) return;
    fed_jwks_free(c->jwks);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void fed_cache_reset(const struct fed_provider *p)
{
    struct fed_cache *c = p->cache;
    pthread_mutex_lock(&c->mu);
    memset(&c->meta, 0, sizeof c->meta);
    memset(&c->ms, 0, sizeof c->ms);
    memset(&c->js, 0, sizeof c->js);
    if (c->jwks && --c->jwks->refs == 0) fed_jwks_free(c->jwks);
    c->jwks = NULL;
    pthread_mutex_unlock(&c->mu);
}

static void slot_age(struct slot *s, int64_t by)
{
    if (s->at) s->at -= by;
    s->attempt_at -= by;
    s->down_until -= by;
}

void fed_cache_age(const struct fed_provider *p, int64_t s)
{
    struct fed_cache *c = p->cache;
    pthread_mutex_lock(&c->mu);
    slot_age(&c->ms, s);
    slot_age(&c->js, s);
    pthread_mutex_unlock(&c->mu);
}

/* Fetches url (a GET) into a parsed document via parse; logs why it failed
 * (no secret is involved: public documents). */
static enum gh_err fetch_doc(const struct fed_provider *p, const char *url, const char *what,
                             struct fed_http_resp *r, char *why, size_t whylen)
{
    struct fed_http_req rq = {.url = url, .max_bytes = FED_DOC_MAX};
    enum gh_err rc = fed_fetch(&rq, r, why, whylen);
    if (rc == GH_OK && r->status != 200) {
        snprintf(why, whylen, "%s: HTTP status %ld", what, r->status);
        fed_http_resp_free(r);
        rc = GH_ERR_BUSY;
    }
    return rc;
}

static void log_down(const struct fed_provider *p, const char *what, const char *why)
{
    gh_log(GH_LOG_WARN, "oidc provider %s: cannot get its %s: %s", p->name, what, why);
}

/* Waits while another thread fetches the slot's document. Called locked. */
static void wait_fetch(struct fed_cache *c, const struct slot *s)
{
    while (s->fetching)
        pthread_cond_wait(&c->cv, &c->mu);
}

enum gh_err fed_metadata_get(const struct fed_provider *p, struct fed_metadata *out, char *why,
                             size_t whylen)
{
    struct fed_cache *c = p->cache;
    pthread_mutex_lock(&c->mu);
    wait_fetch(c, &c->ms);
    int64_t now = gh_now_s();
    bool have = c->ms.at != 0;
    if (have && (now - c->ms.at < FED_META_TTL_S ||
                 (now < c->ms.down_until && now - c->ms.at < FED_META_TTL_S + FED_STALE_MAX_S))) {
        *out = c->meta;
        pthread_mutex_unlock(&c->mu);
        return GH_OK;
    }
    if (now < c->ms.down_until) {
        pthread_mutex_unlock(&c->mu);
        snprintf(why, whylen, "discovery: provider unavailable (recent failure)");
        return GH_ERR_BUSY;
    }
    c->ms.fetching = true;
    c->ms.attempt_at = now;
    pthread_mutex_unlock(&c->mu);

    char url[FED_URL_MAX + 64];
    size_t il = strlen(p->issuer);
    if (il && p->issuer[il - 1] == '/') il--;
    snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration", (int)il, p->issuer);
    struct fed_http_resp r;
    struct fed_metadata m;
    enum gh_err rc = fetch_doc(p, url, "discovery", &r, why, whylen);
    if (rc == GH_OK) {
        rc = fed_discovery_parse(r.body, r.len, p->issuer, !gh_cfg.production, &m, why, whylen);
        fed_http_resp_free(&r);
        if (rc == GH_ERR_INVALID) rc = GH_ERR_BUSY;
    }

    pthread_mutex_lock(&c->mu);
    c->ms.fetching = false;
    pthread_cond_broadcast(&c->cv);
    if (rc == GH_OK) {
        c->meta = m;
        c->ms.at = gh_now_s();
        *out = m;
    } else {
        log_down(p, "discovery document", why);
        c->ms.down_until = now + FED_DOWN_BACKOFF_S;
        if (have && now - c->ms.at < FED_META_TTL_S + FED_STALE_MAX_S) {
            *out = c->meta; /* stale but the provider's own */
            rc = GH_OK;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void fed_jwks_release(const struct fed_provider *p, struct fed_jwks *s)
{
    if (!s) return;
    struct fed_cache *c = p->cache;
    pthread_mutex_lock(&c->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) fed_jwks_free(s);
}

/* Hands out the cached set (locked). */
static struct fed_jwks *jwks_ref(struct fed_cache *c)
{
    c->jwks->refs++;
    return c->jwks;
}

/* Whether to fetch now (locked): none held or past its TTL, or a refresh
 * asked for and none in the last FED_JWKS_MIN_REFRESH_S; never while the
 * provider is in its back-off. */
static bool jwks_should_fetch(const struct fed_cache *c, bool refresh, int64_t now)
{
    if (now < c->js.down_until) return false;
    if (!c->jwks || now - c->js.at >= FED_JWKS_TTL_S) return true;
    return refresh && now - c->js.attempt_at >= FED_JWKS_MIN_REFRESH_S;
}

enum gh_err fed_jwks_get(const struct fed_provider *p, bool refresh, struct fed_jwks **out,
                         bool *refreshed, char *why, size_t whylen)
{
    struct fed_cache *c = p->cache;
    *out = NULL;
    if (refreshed) *refreshed = false;
    struct fed_metadata m;
    enum gh_err rc = fed_metadata_get(p, &m, why, whylen);
    if (rc) return rc;
    pthread_mutex_lock(&c->mu);
    bool waited = c->js.fetching;
    wait_fetch(c, &c->js);
    int64_t now = gh_now_s();
    /* Someone else just fetched: that was the refresh. */
    if (!jwks_should_fetch(c, refresh && !waited, now)) {
        bool usable = c->jwks && now - c->js.at < FED_JWKS_TTL_S + FED_STALE_MAX_S;
        if (usable) *out = jwks_ref(c);
        pthread_mutex_unlock(&c->mu);
        if (usable) return GH_OK;
        snprintf(why, whylen, "jwks: provider unavailable (recent failure)");
        return GH_ERR_BUSY;
    }
    c->js.fetching = true;
    c->js.attempt_at = now;
    pthread_mutex_unlock(&c->mu);

    struct fed_http_resp r;
    struct fed_jwks *s = NULL;
    rc = fetch_doc(p, m.jwks_uri, "jwks", &r, why, whylen);
    if (rc == GH_OK) {
        rc = fed_jwks_parse(r.body, r.len, &s, why, whylen);
        fed_http_resp_free(&r);
        if (rc == GH_ERR_INVALID) rc = GH_ERR_BUSY;
    }

    pthread_mutex_lock(&c->mu);
    c->js.fetching = false;
    pthread_cond_broadcast(&c->cv);
    if (rc == GH_OK) {
        if (c->jwks && --c->jwks->refs == 0) fed_jwks_free(c->jwks);
        c->jwks = s;
        c->js.at = gh_now_s();
        if (refreshed) *refreshed = true;
    } else {
        log_down(p, "JWKS", why);
        c->js.down_until = now + FED_DOWN_BACKOFF_S;
        if (c->jwks && now - c->js.at < FED_JWKS_TTL_S + FED_STALE_MAX_S) rc = GH_OK;
    }
    if (rc == GH_OK) *out = jwks_ref(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
