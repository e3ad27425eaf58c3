#include "federation/native_http.h"

#include <stdio.h>
#include <string.h>

#include "accounts/signin_reply.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "core/log.h"
#include "core/util.h"
#include "federation/federated.h"
#include "federation/oidc.h"
#include "federation/providers.h"

#define NONCE_BYTES 32
#define NONCE_LEN 43 /* base64url of NONCE_BYTES */

/* The provider of r's path when it takes native sign-ins; else 404. */
static const struct fed_provider *native_provider(struct gh_req *r)
{
    const struct fed_provider *p = fed_provider_find(r->param);
    if (p && p->n_native > 0) return p;
    gh_fail_msg(r, GH_E_NOT_FOUND, "No identity provider of that name takes native sign-ins.");
    return NULL;
}

void native_http_nonce(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const struct fed_provider *p = native_provider(r);
    if (!p) return;
    char nonce[NONCE_LEN + 1];
    uint8_t h[GH_SHA256_BYTES];
    enum gh_err rc = gh_random_token(nonce, sizeof nonce, NONCE_BYTES);
    if (rc == GH_OK) rc = gh_sha256(h, nonce, NONCE_LEN);
    if (rc == GH_OK) rc = ops->oauth_nonces.create(c, h, p->name, gh_now_s() + NATIVE_NONCE_TTL_S);
    if (rc == GH_OK)
        gh_reply(r, 201, json_pack("{s:s,s:i}", "nonce", nonce, "expires_in", NATIVE_NONCE_TTL_S));
    else
        gh_reply_fail(r, rc);
    gh_wipe(nonce, sizeof nonce);
    gh_wipe(h, sizeof h);
}

/* A refused token: the signin.failure row (provider, reason), then 401
 * invalid_id_token with message. */
static void refuse(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                   const struct fed_provider *p, const char *reason, const char *message)
{
    char details[160];
    struct store_audit base, ev;
    snprintf(details, sizeof details,
             "{\"method\":\"oidc\",\"provider\":\"%s\",\"reason\":\"%s\",\"native\":true}", p->name,
             reason);
    const struct store_audit *evp = audit_event(gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                                &ev, "signin.failure", "anonymous", "", details);
    if (evp && audit_failure_append(ops, c, evp) != GH_OK)
        gh_log(GH_LOG_WARN, "request %s: the refused token's audit row failed", r->request_id);
    gh_fail_msg(r, GH_E_INVALID_ID_TOKEN, message);
}

/* Spends the nonce (one attempt per nonce) and verifies the token. false:
 * r's reply is set. */
static bool verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                   const struct fed_provider *p, const char *tok, size_t tok_len, const char *nonce,
                   size_t nonce_len, struct fed_claims *cl)
{
    uint8_t h[GH_SHA256_BYTES];
    char why[128] = "";
    enum gh_err rc = gh_sha256(h, nonce, nonce_len);
    if (rc == GH_OK) rc = ops->oauth_nonces.consume(c, h, p->name, gh_now_s());
    gh_wipe(h, sizeof h);
    if (rc == GH_ERR_DENIED) {
        refuse(r, ops, c, p, "nonce_invalid",
               "The nonce is unknown, expired or was already used; ask for a new one.");
        return false;
    }
    if (rc == GH_OK) rc = fed_verify_native(p, tok, tok_len, nonce, cl, why, sizeof why);
    if (rc == GH_OK) return true;
    if (rc == GH_ERR_DENIED) {
        gh_log(GH_LOG_WARN, "request %s: provider %s: native ID token refused (%s)", r->request_id,
               p->name, why);
        refuse(r, ops, c, p, "token_refused", NULL);
    } else if (rc == GH_ERR_BUSY) {
        gh_log(GH_LOG_WARN, "request %s: provider %s cannot be reached (%s)", r->request_id,
               p->name, why);
        gh_fail(r, GH_E_PROVIDER_UNAVAILABLE);
    } else {
        gh_reply_fail(r, rc);
    }
    return false;
}

void native_http_token(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok = NULL, *nonce = NULL, *mode = NULL;
    size_t tok_len = 0, nonce_len = 0, mode_len = 0;
    const struct gh_field f[] = {{"id_token", true, &tok, &tok_len},
                                 {"nonce", true, &nonce, &nonce_len},
                                 {"mode", false, &mode, &mode_len}};
    if (gh_body_fields(r, f, 3) != GH_OK) return;
    const struct fed_provider *p = native_provider(r);
    if (!p) return;
    int cookie = accounts_signin_mode(r, mode);
    if (cookie < 0) return;
    if (tok_len == 0 || tok_len > NATIVE_ID_TOKEN_MAX || nonce_len != NONCE_LEN) {
        refuse(r, ops, c, p, "malformed", NULL);
        return;
    }
    struct fed_claims cl;
    memset(&cl, 0, sizeof cl);
    if (verify(r, ops, c, p, tok, tok_len, nonce, nonce_len, &cl)) {
        struct accounts_req in;
        struct store_audit base;
        struct accounts_result res;
        enum gh_err rc = federated_signin(ops, c, accounts_request_of(r, &in, &base, cookie == 1),
                                          p->name, &cl, p->trust_provider_mfa, &res);
        if (rc)
            gh_reply_fail(r, rc);
        else if (res.outcome == ACCOUNTS_SIGNED_IN)
            accounts_reply_signed_in(r, 200, &res, cookie == 1);
        else if (res.outcome == ACCOUNTS_MFA_REQUIRED)
            accounts_reply_mfa_required(r, &res);
        else if (res.outcome == ACCOUNTS_LINK_REQUIRED)
            gh_fail(r, GH_E_LINK_REQUIRED);
        else if (res.outcome == ACCOUNTS_SIGNUP_CLOSED)
            gh_fail(r, GH_E_SIGNUP_CLOSED);
        else if (res.outcome == ACCOUNTS_NOT_VERIFIED) /* verification "required" */
            gh_fail(r, GH_E_EMAIL_NOT_VERIFIED);
        else
            gh_reply_fail(r, GH_ERR_INTERNAL); /* never "in" by mistake */
        accounts_result_clear(&res);
    }
    gh_wipe(&cl, sizeof cl);
    gh_json_wipe(r->body); /* the ID token and the nonce */
}
