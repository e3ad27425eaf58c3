/* The three calls of oidc.h: the authorization URL, the code exchange (PKCE,
 * client authentication) and the native flow's verification. */
#include "federation/authorize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "core/util.h"
#include "federation/client_secret.h"
#include "federation/discovery.h"
#include "federation/fetch.h"

#define FORM_MAX 16384

static enum gh_err say(char *why, size_t whylen, enum gh_err rc, const char *what)
{
    snprintf(why, whylen, "%s", what);
    return rc;
}

/* Google documents that its ID tokens' iss is "https://accounts.google.com"
 * or "accounts.google.com" (older and Android tokens): both, for Google's
 * issuer only. */
static const char *issuer_alt(const struct fed_provider *p)
{
    return strcmp(p->issuer, "https://accounts.google.com") == 0 ? "accounts.google.com" : NULL;
}

/* 1..max bytes of base64url (state, nonce, PKCE values). */
static bool b64url_word(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

/* Printable ASCII without spaces, 1..max bytes (a code, a redirect URI). */
static bool visible(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return false;
    return true;
}

/* Appends "&name=value" (no "&" at the start), value percent-encoded. */
static bool param(char *out, size_t cap, size_t *o, const char *name, const char *value)
{
    if (*o && !gh_pct_append(out, cap, o, "&", "&")) return false;
    return gh_pct_append(out, cap, o, name, "") && gh_pct_append(out, cap, o, "=", "=") &&
           gh_pct_append(out, cap, o, value, "");
}

enum gh_err fed_authorize_url(const struct fed_provider *p, const char *redirect_uri,
                              const char *state, const char *nonce, const char *code_challenge_s256,
                              char *out, size_t cap)
{
    if (cap) out[0] = '\0';
    if (!p || !visible(redirect_uri, 1024) || !b64url_word(state, 16, 256) ||
        !b64url_word(nonce, 16, 256) || !b64url_word(code_challenge_s256, 43, 43) || cap < 2)
        return GH_ERR_INVALID;
    struct fed_metadata m;
    char why[160];
    enum gh_err rc = fed_metadata_get(p, &m, why, sizeof why);
    if (rc) return rc == GH_ERR_NOMEM ? rc : GH_ERR_BUSY;
    size_t o = strlen(m.authorization_endpoint);
    if (o + 2 > cap) return GH_ERR_INVALID;
    memcpy(out, m.authorization_endpoint, o);
    out[o++] = strchr(m.authorization_endpoint, '?') ? '&' : '?';
    out[o] = '\0';
    size_t start = o;
    /* param() adds "&" only after the first; the URL's own "?"/"&" is set. */
    char *q = out + start;
    size_t qo = 0, qcap = cap - start;
    bool ok = param(q, qcap, &qo, "response_type", "code") &&
              param(q, qcap, &qo, "client_id", p->client_id) &&
              param(q, qcap, &qo, "redirect_uri", redirect_uri) &&
              param(q, qcap, &qo, "scope", p->scopes) && param(q, qcap, &qo, "state", state) &&
              param(q, qcap, &qo, "nonce", nonce) &&
              param(q, qcap, &qo, "code_challenge", code_challenge_s256) &&
              param(q, qcap, &qo, "code_challenge_method", "S256") &&
              (!p->form_post || param(q, qcap, &qo, "response_mode", "form_post"));
    if (!ok) {
        out[0] = '\0';
        return GH_ERR_INVALID;
    }
    return GH_OK;
}

/* RFC 6749 2.3.1: client_secret_basic encodes id and secret as a form
 * value before they go into the Basic header. */
static char *form_encoded(const char *s)
{
    size_t cap = strlen(s) * 3 + 1, o = 0;
    char *e = malloc(cap);
    if (e && !gh_pct_append(e, cap, &o, s, "")) {
        gh_free_secret_str(e);
        e = NULL;
    }
    return e;
}

void fed_token_form_free(struct fed_token_form *f)
{
    gh_free_secret_str(f->form);
    gh_free_secret_str(f->user);
    gh_free_secret_str(f->pass);
    memset(f, 0, sizeof *f);
}

enum gh_err fed_token_form_make(const struct fed_provider *p, bool auth_post, const char *code,
                                const char *verifier, const char *redirect_uri, int64_t now,
                                struct fed_token_form *out)
{
    memset(out, 0, sizeof *out);
    char *signed_secret = NULL;
    const char *secret = p->client_secret;
    enum gh_err rc;
    if (p->preset == FED_PRESET_APPLE) {
        if ((rc = fed_client_secret_make(p, now, &signed_secret))) return rc;
        secret = signed_secret;
        auth_post = true; /* Apple takes the secret in the body only */
    }
    rc = GH_ERR_NOMEM;
    out->form = malloc(FORM_MAX);
    if (!out->form) goto out;
    size_t o = 0;
    out->form[0] = '\0';
    bool ok = param(out->form, FORM_MAX, &o, "grant_type", "authorization_code") &&
              param(out->form, FORM_MAX, &o, "code", code) &&
              param(out->form, FORM_MAX, &o, "redirect_uri", redirect_uri) &&
              param(out->form, FORM_MAX, &o, "code_verifier", verifier);
    /* With no secret (a public client) or client_secret_post, the id goes
     * in the body; with client_secret_basic in the header. */
    if (ok && (!secret || auth_post))
        ok = param(out->form, FORM_MAX, &o, "client_id", p->client_id);
    if (ok && secret && auth_post) ok = param(out->form, FORM_MAX, &o, "client_secret", secret);
    if (!ok) {
        rc = GH_ERR_INVALID;
        goto out;
    }
    if (secret && !auth_post) {
        out->user = form_encoded(p->client_id);
        out->pass = form_encoded(secret);
        if (!out->user || !out->pass) goto out;
    }
    rc = GH_OK;
out:
    gh_free_secret_str(signed_secret);
    if (rc) fed_token_form_free(out);
    return rc;
}

/* The provider's error code, if it is a plain word; "refused" otherwise. */
static void error_word(const json_t *j, char *why, size_t whylen)
{
    const char *e = json_string_value(json_object_get(j, "error"));
    bool ok = e && strlen(e) <= 40 && *e;
    for (const char *c = e; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || *c == '_' || (*c >= '0' && *c <= '9');
    snprintf(why, whylen, "token endpoint: %s", ok ? e : "refused");
}

enum gh_err fed_token_response_parse(long status, const char *body, size_t len, char **id_token,
                                     char *why, size_t whylen)
{
    *id_token = NULL;
    if (status != 200 && status != 400 && status != 401) {
        snprintf(why, whylen, "token endpoint: HTTP status %ld", status);
        return GH_ERR_BUSY;
    }
    json_t *j = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    enum gh_err rc;
    if (!json_is_object(j))
        rc = say(why, whylen, GH_ERR_BUSY, "token endpoint: not JSON");
    else if (status != 200) {
        error_word(j, why, whylen);
        rc = GH_ERR_DENIED;
    } else {
        const json_t *t = json_object_get(j, "id_token");
        if (!json_is_string(t) || json_string_length(t) == 0 ||
            json_string_length(t) > FED_ID_TOKEN_MAX ||
            strlen(json_string_value(t)) != json_string_length(t))
            rc = say(why, whylen, GH_ERR_DENIED, "token endpoint: no id_token");
        else if (!(*id_token = strdup(json_string_value(t))))
            rc = GH_ERR_NOMEM;
        else
            rc = GH_OK;
    }
    gh_json_wipe(j); /* access and refresh tokens */
    json_decref(j);
    return rc;
}

enum gh_err fed_verify_with_keys(const struct fed_provider *p, const char *token, size_t len,
                                 const struct fed_verify *v, struct fed_claims *out, char *why,
                                 size_t whylen)
{
    struct fed_jwks *keys = NULL, *fresh = NULL;
    bool unknown = false;
    enum gh_err rc = fed_jwks_get(p, false, &keys, NULL, why, whylen);
    if (rc) return rc;
    rc = fed_id_token_verify(token, len, keys, v, out, &unknown, why, whylen);
    if (rc != GH_ERR_DENIED || !unknown) {
        fed_jwks_release(p, keys);
        return rc;
    }
    /* A key the provider may have just rotated in: one refresh (rate-limited
     * per provider, so forged kids cannot make us fetch), then deny. The
     * first set is held until the comparison, so a new set is never
     * mistaken for it; a set another thread fetched meanwhile counts. */
    char why2[160];
    if (fed_jwks_get(p, true, &fresh, NULL, why2, sizeof why2) == GH_OK && fresh != keys)
        rc = fed_id_token_verify(token, len, fresh, v, out, &unknown, why, whylen);
    fed_jwks_release(p, fresh);
    fed_jwks_release(p, keys);
    return rc;
}

enum gh_err fed_exchange_code(const struct fed_provider *p, const char *code, const char *verifier,
                              const char *redirect_uri, const char *nonce, struct fed_claims *out,
                              char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!p || !visible(code, FED_CODE_MAX) || !b64url_word(verifier, 43, 128) ||
        !visible(redirect_uri, 1024) || !nonce || !nonce[0])
        return say(why, whylen, GH_ERR_DENIED, "malformed code or verifier");
    struct fed_metadata m;
    enum gh_err rc = fed_metadata_get(p, &m, why, whylen);
    if (rc) return rc;
    struct fed_token_form f;
    if ((rc = fed_token_form_make(p, m.auth_post, code, verifier, redirect_uri, gh_now_s(), &f))) {
        gh_log(GH_LOG_ERROR, "oidc provider %s: cannot make the token request (%s)", p->name,
               gh_err_name(rc));
        return rc == GH_ERR_INVALID ? say(why, whylen, GH_ERR_DENIED, "code too long")
                                    : say(why, whylen, GH_ERR_INTERNAL, "token request");
    }
    struct fed_http_req rq = {
        .url = m.token_endpoint, .form = f.form, .auth_user = f.user, .auth_pass = f.pass};
    struct fed_http_resp r;
    rc = fed_fetch(&rq, &r, why, whylen);
    fed_token_form_free(&f);
    char *id_token = NULL;
    if (rc == GH_OK) {
        rc = fed_token_response_parse(r.status, r.body, r.len, &id_token, why, whylen);
        fed_http_resp_free(&r);
    }
    if (rc == GH_ERR_BUSY)
        gh_log(GH_LOG_WARN, "oidc provider %s: token endpoint unavailable: %s", p->name, why);
    if (rc) return rc;
    const char *auds[1] = {p->client_id};
    struct fed_verify v = {.issuer = p->issuer,
                           .issuer_alt = issuer_alt(p),
                           .auds = auds,
                           .n_auds = 1,
                           .nonce = nonce,
                           .algs = m.algs,
                           .now = gh_now_s(),
                           .skew = fed_clock_skew()};
    rc = fed_verify_with_keys(p, id_token, strlen(id_token), &v, out, why, whylen);
    gh_free_secret_str(id_token);
    return rc;
}

enum gh_err fed_verify_native(const struct fed_provider *p, const char *id_token, size_t len,
                              const char *nonce, struct fed_claims *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!p || p->n_native == 0)
        return say(why, whylen, GH_ERR_DENIED, "no native client ids configured");
    if (!id_token || len == 0 || len > FED_ID_TOKEN_MAX || !nonce || !nonce[0])
        return say(why, whylen, GH_ERR_DENIED, "token size");
    struct fed_metadata m;
    enum gh_err rc = fed_metadata_get(p, &m, why, whylen);
    if (rc) return rc;
    const char *auds[FED_MAX_NATIVE];
    for (size_t i = 0; i < p->n_native; i++)
        auds[i] = p->native_client_ids[i];
    struct fed_verify v = {.issuer = p->issuer,
                           .issuer_alt = issuer_alt(p),
                           .auds = auds,
                           .n_auds = p->n_native,
                           .nonce = nonce,
                           .nonce_hashed_ok = true,
                           .algs = m.algs,
                           .now = gh_now_s(),
                           .skew = fed_clock_skew()};
    return fed_verify_with_keys(p, id_token, len, &v, out, why, whylen);
}
