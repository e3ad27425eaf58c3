#include "accounts/accounts_http.h"

#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "accounts/email.h"
#include "accounts/link_mail.h"
#include "accounts/links.h"
#include "accounts/password_change.h"
#include "accounts/signin.h"
#include "accounts/signin_reply.h"
#include "accounts/signup.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "guard/guard.h"
#include "guard/limit.h"
#include "sessions/cookie.h"
#include "sessions/sessions.h"

/* What the logic needs to know about r (accounts/accounts.h). */
const struct accounts_req *accounts_http_request(struct gh_req *r, struct accounts_req *in,
                                                 struct store_audit *base, bool cookie)
{
    return accounts_request_of(r, in, base, cookie);
}

/* The refusals of the sign-in, sign-up and link routes, one reply each. */
static void reply_refused(struct gh_req *r, const struct accounts_result *res)
{
    switch (res->outcome) {
    case ACCOUNTS_INVALID_EMAIL:
        gh_fail(r, GH_E_INVALID_EMAIL);
        break;
    case ACCOUNTS_WEAK_PASSWORD:
        gh_fail_msg(r, GH_E_WEAK_PASSWORD, res->reason);
        break;
    case ACCOUNTS_EMAIL_TAKEN:
        gh_fail(r, GH_E_EMAIL_TAKEN);
        break;
    case ACCOUNTS_BAD_CREDENTIALS:
        gh_fail(r, GH_E_INVALID_CREDENTIALS);
        break;
    case ACCOUNTS_LOCKED:
        gh_reply_locked(r, res->retry_after);
        break;
    case ACCOUNTS_NOT_VERIFIED:
        gh_fail_msg(r, GH_E_EMAIL_NOT_VERIFIED,
                    "Confirm your email address first; the link is in your inbox.");
        break;
    case ACCOUNTS_LIMITED:
        gh_reply_limited(r, LIMIT_MFA_ACCOUNT, &res->lim);
        break;
    case ACCOUNTS_BAD_CODE:
        gh_fail(r, GH_E_INVALID_CODE);
        break;
    case ACCOUNTS_STEP_INVALID:
        gh_fail_msg(r, GH_E_INVALID_TOKEN,
                    "This sign-in step expired, was used or had too many attempts; sign in "
                    "again.");
        break;
    case ACCOUNTS_STEP_GONE:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This sign-in step is no longer valid.");
        break;
    case ACCOUNTS_STEP_USED:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This sign-in step was already used.");
        break;
    case ACCOUNTS_LINK_INVALID:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is invalid or was already used.");
        break;
    case ACCOUNTS_LINK_EXPIRED:
        gh_fail(r, GH_E_TOKEN_EXPIRED);
        break;
    case ACCOUNTS_LINK_GONE:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is no longer valid.");
        break;
    case ACCOUNTS_LINK_USED:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link was already used.");
        break;
    case ACCOUNTS_LINK_REQUIRED:
        gh_fail(r, GH_E_LINK_REQUIRED);
        break;
    case ACCOUNTS_SIGNUP_CLOSED:
        gh_fail(r, GH_E_SIGNUP_CLOSED);
        break;
    default: /* not a refusal: answer() handles the others */
        gh_reply_fail(r, GH_ERR_INTERNAL);
        break;
    }
}

/* Maps a logic function's result to the reply (signed_in_status: 201 for
 * a sign-up, 200 for a sign-in), then wipes res. */
static void answer(struct gh_req *r, enum gh_err rc, struct accounts_result *res,
                   int signed_in_status, bool cookie)
{
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (res->outcome == ACCOUNTS_SIGNED_IN) {
        accounts_reply_signed_in(r, signed_in_status, res, cookie);
    } else if (res->outcome == ACCOUNTS_MFA_REQUIRED) {
        accounts_reply_mfa_required(r, res);
    } else if (res->outcome == ACCOUNTS_VERIFY_PENDING) {
        gh_reply(r, 202, json_pack("{s:b}", "email_verification_required", 1));
    } else if (res->outcome == ACCOUNTS_DONE) {
        gh_reply(r, 204, NULL);
    } else {
        reply_refused(r, res);
    }
    accounts_result_clear(res);
}

void accounts_http_answer(struct gh_req *r, enum gh_err rc, struct accounts_result *res,
                          int signed_in_status, bool cookie)
{
    answer(r, rc, res, signed_in_status, cookie);
}

/* Sign-up and sign-in take the same body {email, password[, mode]}. */
typedef enum gh_err (*email_password_fn)(const struct store_ops *ops, struct store_conn *c,
                                         const struct accounts_req *in, const char *email,
                                         size_t email_len, const char *pw, size_t pw_len,
                                         struct accounts_result *res);

static void email_password(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                           email_password_fn fn, int signed_in_status)
{
    const char *email, *pw;
    size_t email_len, pw_len;
    const char *mode_in;
    const struct gh_field f[] = {{"email", true, &email, &email_len},
                                 {"password", true, &pw, &pw_len},
                                 {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 3)) return;
    int cookie = accounts_signin_mode(r, mode_in);
    if (cookie < 0) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = fn(ops, c, accounts_http_request(r, &in, &base, cookie), email, email_len, pw,
                        pw_len, &res);
    answer(r, rc, &res, signed_in_status, cookie);
}

void accounts_http_signup(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    email_password(r, ops, c, signup_password, 201);
}

void accounts_http_signin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    email_password(r, ops, c, signin_password, 200);
}

/* POST /v1/signin/mfa {mfa_token, code}: the second step of a sign-in. */
void accounts_http_signin_mfa(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok, *code;
    size_t tok_len, code_len;
    const char *mode_in;
    const struct gh_field f[] = {{"mfa_token", true, &tok, &tok_len},
                                 {"code", true, &code, &code_len},
                                 {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 3)) return;
    int cookie = accounts_signin_mode(r, mode_in);
    if (cookie < 0) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = signin_mfa(ops, c, accounts_http_request(r, &in, &base, cookie), tok, tok_len,
                                code, code_len, &res);
    answer(r, rc, &res, 200, cookie);
}

void accounts_http_password(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *cur, *next;
    size_t cur_len, next_len;
    const struct gh_field f[] = {{"current_password", true, &cur, &cur_len},
                                 {"new_password", true, &next, &next_len}};
    if (gh_body_fields(r, f, 2)) return;
    password_change(r, ops, c, cur, cur_len, next, next_len);
}

void accounts_http_me(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    json_t *u = accounts_user_json(r->ident.user_id, r->ident.email, r->ident.created_at);
    /* From the auth cache: a role changed by the CLI shows within a second. */
    if (u && json_object_set_new(u, "role", json_string(r->ident.role)) != 0) {
        json_decref(u);
        u = NULL;
    }
    if (!u) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    if (r->cookie_auth) { /* how a page of an allowlisted origin learns it again */
        char csrf[COOKIE_CSRF_LEN + 1];
        bool ok = cookie_csrf_token(r->ident.session_id, csrf) == GH_OK &&
                  json_object_set_new(u, "csrf_token", json_string(csrf)) == 0;
        gh_wipe(csrf, sizeof csrf);
        if (!ok) {
            json_decref(u);
            gh_reply_fail(r, GH_ERR_INTERNAL);
            return;
        }
    }
    gh_reply(r, 200, u);
}

/* POST /v1/magic-link and /v1/password/forgot {email}: always 202 with
 * the same body. */
static void send_link(struct gh_req *r, enum link_kind kind)
{
    const char *email_in;
    size_t email_len;
    const struct gh_field f[] = {{"email", true, &email_in, &email_len}};
    if (gh_body_fields(r, f, 1)) return;
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(email_in, email_len, email, key) == GH_OK)
        link_mail_queue(email, key, kind);
    gh_reply(r, 202,
             json_pack("{s:s}", "message",
                       "If an account exists for this address, a link is on its way."));
}

void accounts_http_magic_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    send_link(r, LINK_SIGNIN);
}

void accounts_http_password_forgot(struct gh_req *r, const struct store_ops *ops,
                                   struct store_conn *c)
{
    send_link(r, LINK_RESET);
}

/* POST /v1/magic-link/verify {token}: signs in (or up, when enabled). */
void accounts_http_magic_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    const char *mode_in;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len}, {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 2)) return;
    int cookie = accounts_signin_mode(r, mode_in); /* before the link is spent */
    if (cookie < 0) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = links_magic_verify(ops, c, accounts_http_request(r, &in, &base, cookie), tok,
                                        tok_len, &res);
    answer(r, rc, &res, 200, cookie);
}

/* POST /v1/password/reset {token, new_password}: sets the password, revokes
 * every session, and does not sign in (a reset never skips a second factor:
 * the user signs in afterwards, with it). */
void accounts_http_password_reset(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c)
{
    const char *tok, *pw;
    size_t tok_len, pw_len;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len},
                                 {"new_password", true, &pw, &pw_len}};
    if (gh_body_fields(r, f, 2)) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = links_password_reset(ops, c, accounts_http_request(r, &in, &base, false), tok,
                                          tok_len, pw, pw_len, &res);
    answer(r, rc, &res, 200, false);
}

/* POST /v1/email/verify {token}: confirms the address the link was sent to. */
void accounts_http_email_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len}};
    if (gh_body_fields(r, f, 1)) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc =
        links_email_verify(ops, c, accounts_http_request(r, &in, &base, false), tok, tok_len, &res);
    answer(r, rc, &res, 200, false);
}

/* POST /v1/email/verify/resend (bearer): a new confirmation link. */
void accounts_http_email_resend(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(r->ident.email, strlen(r->ident.email), email, key) != GH_OK) {
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    /* The same budgets as /v1/magic-link: mail goes out. */
    const enum limit_rule rules[] = {LIMIT_EMAIL_ACCOUNT, LIMIT_EMAIL_IP};
    char ipk[PROXY_KEY_MAX];
    gh_client_key(r, ipk);
    const char *subjects[] = {key, ipk};
    if (!gh_take(r, rules, subjects, 2)) return;
    link_mail_queue(email, key, LINK_VERIFY);
    gh_reply(r, 202, json_pack("{s:s}", "message", "A confirmation link is on its way."));
}
