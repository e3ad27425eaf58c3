#include "pages/link_pages.h"

#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "accounts/accounts_http.h"
#include "accounts/link_peek.h"
#include "accounts/links.h"
#include "core/config.h"
#include "core/util.h"
#include "http/reqparse.h"
#include "pages/form_token.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"
#include "pages/signin_pages.h"
#include "sessions/cookie.h"
#include "sessions/sessions.h"

/* ---- templates (variables in each comment; the layout adds base, brand) ---- */

/* email, csrf, token */
static const char MAGIC_FORM[] =
    "<h1>Sign in as {{email}}?</h1>\n"
    "<p class=\"lead\">You asked for a link to sign in to {{brand}}. Press the button to sign "
    "in on this device.</p>\n"
    "<form method=\"post\" action=\"{{base}}/magic-link\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"token\" value=\"{{token}}\">\n"
    "<button type=\"submit\">Sign in</button>\n"
    "</form>\n"
    "<p class=\"muted\">If you did not ask for this link, close this page: nobody is signed in "
    "until the button is pressed.</p>\n";

/* email (may be ""), error, csrf, token */
static const char RESET_FORM[] =
    "<h1>Choose a new password</h1>\n"
    "{{#email}}<p class=\"lead\">For {{email}}. Afterwards you sign in again with the new "
    "password on every device.</p>\n{{/email}}"
    "{{^email}}<p class=\"lead\">Afterwards you sign in again with the new password on every "
    "device.</p>\n{{/email}}"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"password-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/reset-password\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"token\" value=\"{{token}}\">\n"
    /* no name: never sent; tells a password manager whose password this is */
    "{{#email}}<input type=\"email\" autocomplete=\"username\" value=\"{{email}}\" hidden "
    "readonly>\n{{/email}}"
    "<div class=\"field\">\n"
    "<label for=\"new-password\">New password</label>\n"
    "<input id=\"new-password\" name=\"new_password\" type=\"password\" "
    "autocomplete=\"new-password\" minlength=\"12\" maxlength=\"1024\" required autofocus "
    "aria-describedby=\"password-hint{{#error}} password-error{{/error}}\""
    "{{#error}} aria-invalid=\"true\"{{/error}}>\n"
    "<p class=\"hint\" id=\"password-hint\">At least 12 characters, and hard to guess: a few "
    "unrelated words work well.</p>\n"
    "</div>\n"
    "<button type=\"submit\">Set password</button>\n"
    "</form>\n";

/* email, csrf, token */
static const char VERIFY_FORM[] =
    "<h1>Confirm your email address</h1>\n"
    "<p class=\"lead\">Confirm that {{email}} is your address for {{brand}}.</p>\n"
    "<form method=\"post\" action=\"{{base}}/verify-email\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"token\" value=\"{{token}}\">\n"
    "<button type=\"submit\">Confirm</button>\n"
    "</form>\n";

/* (none) */
static const char VERIFIED[] =
    "<h1>Your email address is confirmed</h1>\n"
    "<p class=\"notice\" role=\"status\">Thank you: your address is confirmed.</p>\n"
    "<p class=\"actions\"><a class=\"button\" href=\"{{base}}/signin\">Sign in</a></p>\n";

/* life, next, path, action */
static const char EXPIRED[] =
    "<h1>This link has expired or was already used</h1>\n"
    "<p>A link from our emails works once, and for {{life}}.</p>\n"
    "<p>{{next}}</p>\n"
    "<p class=\"actions\"><a class=\"button\" href=\"{{base}}{{path}}\">{{action}}</a></p>\n";

/* ---- the three kinds of link ---- */

enum lp_kind { LP_MAGIC, LP_RESET, LP_VERIFY };

static const struct {
    const char *purpose; /* magic_links.purpose */
    const char *next;    /* the expired page: what to do now */
    const char *path;    /* ... where, under the public URL */
    const char *action;  /* ... its button */
} kinds[] = {
    [LP_MAGIC] = {"signin",
                  "Ask for a new one: on the sign-in page, choose \"Email me a sign-in "
                  "link\", or sign in with your password.",
                  "/signin", "Go to sign in"},
    [LP_RESET] = {"reset", "Ask for a new link to choose your password.", "/forgot-password",
                  "Send a new reset link"},
    [LP_VERIFY] = {"verify",
                   "If your address is not confirmed yet, sign in and ask for a new "
                   "confirmation link.",
                   "/signin", "Go to sign in"},
};

/* Links are 43 base64url characters; room for a little more, so a longer
 * value is read (and refused) rather than cut into a valid-looking one. */
#define LP_TOKEN_CAP 64

void link_pages_life(char *out, size_t cap)
{
    long long ttl = (long long)gh_cfg.magic_link_ttl;
    long long n = ttl >= 3600 && ttl % 3600 == 0 ? ttl / 3600 : ttl / 60;
    const char *unit = ttl >= 3600 && ttl % 3600 == 0 ? "hour" : "minute";
    snprintf(out, cap, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

/* The expired-or-used page: 401 with the API's code for the same link
 * (invalid_token, or token_expired for a real link past its time). */
static void expired_page(struct gh_req *r, enum lp_kind k, bool expired)
{
    char life[32];
    link_pages_life(life, sizeof life);
    const struct page_var v[] = {{"life", life},
                                 {"next", kinds[k].next},
                                 {"path", kinds[k].path},
                                 {"action", kinds[k].action}};
    pages_send(r, 401, "Link expired", EXPIRED, v, 4);
    if (r->status == 401) r->error_code = expired ? "token_expired" : "invalid_token";
}

/* The ?token= of r into tok (NUL-terminated); its length, 0 when absent,
 * too long, or the query is malformed or was cut. Every copy the request
 * held (the query, the parsed form) is wiped. */
static size_t query_token(struct gh_req *r, char tok[LP_TOKEN_CAP])
{
    size_t ql = strlen(r->query), n = 0;
    json_t *q = NULL;
    tok[0] = '\0';
    if (ql > 0 && ql < sizeof r->query - 1 &&
        reqparse_form_body(r->query, ql, &q) == REQPARSE_BODY_OK) {
        json_t *v = json_object_get(q, "token");
        if (json_is_string(v) && json_string_length(v) < LP_TOKEN_CAP) {
            n = json_string_length(v);
            memcpy(tok, json_string_value(v), n + 1);
        }
    }
    gh_json_wipe(q);
    json_decref(q);
    gh_wipe(r->query, sizeof r->query);
    return n;
}

/* The GET's part: reads the link of r's query for kind k without spending
 * it. true: tok, *tok_len and email hold it; false: the reply is set (the
 * expired page, or 500). */
static bool peek(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                 enum lp_kind k, char tok[LP_TOKEN_CAP], char email[STORE_EMAIL_MAX + 1])
{
    size_t n = query_token(r, tok);
    enum link_peek_outcome o;
    enum gh_err rc = link_peek(ops, c, tok, n, kinds[k].purpose, &o, email);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (o != LINK_PEEK_OK) {
        expired_page(r, k, o == LINK_PEEK_EXPIRED);
    }
    return rc == GH_OK && o == LINK_PEEK_OK;
}

/* A landing page's form: body with email, csrf (the form token) and token;
 * error and the reset form's extra variable when given. */
static void link_form(struct gh_req *r, int status, const char *title, const char *body,
                      const char *email, const char *token, const char *error)
{
    char csrf[PAGES_FORM_TOKEN_LEN + 1];
    if (!pages_form_token(r, csrf)) return;
    const struct page_var v[] = {
        {"email", email}, {"csrf", csrf}, {"token", token}, {"error", error}};
    pages_send(r, status, title, body, v, 4);
    gh_wipe(csrf, sizeof csrf);
}

/* GET of kind k: the page with its one button, or the expired page. */
static void landing(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                    enum lp_kind k, const char *title, const char *body)
{
    char tok[LP_TOKEN_CAP], email[STORE_EMAIL_MAX + 1];
    if (peek(r, ops, c, k, tok, email)) link_form(r, 200, title, body, email, tok, "");
    gh_wipe(tok, sizeof tok);
}

void link_pages_magic_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    landing(r, ops, c, LP_MAGIC, "Sign in", MAGIC_FORM);
}

void link_pages_reset_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    landing(r, ops, c, LP_RESET, "Choose a new password", RESET_FORM);
}

void link_pages_verify_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    landing(r, ops, c, LP_VERIFY, "Confirm your email address", VERIFY_FORM);
}

/* ---- the POSTs: the API's logic, then 303 ---- */

/* The form's "token" (and "new_password" when pw is not NULL): false when
 * the body has other fields (the reply is set, 422). Absent reads "". */
static bool form_fields(struct gh_req *r, const char **tok, size_t *tok_len, const char **pw,
                        size_t *pw_len)
{
    const struct gh_field f[] = {{"token", false, tok, tok_len},
                                 {"new_password", false, pw, pw_len}};
    *tok = NULL, *tok_len = 0;
    if (pw) *pw = NULL, *pw_len = 0;
    if (gh_body_fields(r, f, pw ? 2 : 1)) return false;
    if (!*tok) *tok = "", *tok_len = 0;
    if (pw && !*pw) *pw = "", *pw_len = 0;
    return true;
}

/* A refusal of a link's POST: the expired page (the API's 401 and code). */
static void refused(struct gh_req *r, enum lp_kind k, enum accounts_outcome o)
{
    switch (o) {
    case ACCOUNTS_LINK_EXPIRED:
        expired_page(r, k, true);
        break;
    case ACCOUNTS_LINK_INVALID:
    case ACCOUNTS_LINK_GONE:
    case ACCOUNTS_LINK_USED:
        expired_page(r, k, false);
        break;
    default: /* an outcome this route cannot have: never "done" */
        gh_reply_fail(r, GH_ERR_INTERNAL);
        break;
    }
}

/* Signed in by cookie (the API's reply_signed_in in cookie mode): finish()
 * sets the session and CSRF cookies; the session the browser sent along
 * has ended (signin_session_start). */
static void signed_in(struct gh_req *r, const struct accounts_result *res)
{
    r->authed = true; /* for the log line */
    snprintf(r->ident.user_id, sizeof r->ident.user_id, "%s", res->u.id);
    memcpy(r->ident.session_id, res->pair.session_id, sizeof r->ident.session_id);
    memcpy(r->set_session, res->pair.refresh, sizeof r->set_session);
    gh_wipe(r->token, sizeof r->token);
    r->token_len = 0;
    char url[REDIRECT_OUT_MAX];
    /* a session restricted to enrolling a second factor can only do that */
    pages_url(url, res->restricted ? "/account/totp" : "/account");
    pages_see_other(r, url);
}

/* The account has a second factor: the sign-in goes on at the page sign-in's
 * second step (/signin/mfa), its mfa_token in that step's HttpOnly cookie
 * (pages/signin_pages.h), never in the page. */
static void second_factor(struct gh_req *r, const struct accounts_result *res)
{
    if (gh_reply_cookie(r, pages_mfa_cookie_name(), res->mfa_token, MFA_CHALLENGE_TTL)) {
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    char url[REDIRECT_OUT_MAX];
    pages_url(url, "/signin/mfa");
    pages_see_other(r, url);
}

void link_pages_magic(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    if (!form_fields(r, &tok, &tok_len, NULL, NULL)) return;
    if (!cookie_available()) { /* before the link is spent */
        gh_fail(r, GH_E_COOKIE_MODE_UNAVAILABLE);
        return;
    }
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc =
        links_magic_verify(ops, c, accounts_http_request(r, &in, &base, true), tok, tok_len, &res);
    if (rc)
        gh_reply_fail(r, rc);
    else if (res.outcome == ACCOUNTS_SIGNED_IN)
        signed_in(r, &res);
    else if (res.outcome == ACCOUNTS_MFA_REQUIRED)
        second_factor(r, &res);
    else
        refused(r, LP_MAGIC, res.outcome);
    accounts_result_clear(&res);
}

void link_pages_reset(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok, *pw;
    size_t tok_len, pw_len;
    if (!form_fields(r, &tok, &tok_len, &pw, &pw_len)) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = links_password_reset(ops, c, accounts_http_request(r, &in, &base, false), tok,
                                          tok_len, pw, pw_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (res.outcome == ACCOUNTS_DONE) {
        char url[REDIRECT_OUT_MAX];
        pages_url(url, "/signin?reset=done");
        pages_see_other(r, url);
    } else if (res.outcome == ACCOUNTS_WEAK_PASSWORD) {
        /* the link is not spent: the same form again, with the reasons */
        char t[LP_TOKEN_CAP] = "";
        if (tok_len < sizeof t) memcpy(t, tok, tok_len + 1);
        link_form(r, 422, "Choose a new password", RESET_FORM, "", t, res.reason);
        if (r->status == 422) r->error_code = "weak_password";
        gh_wipe(t, sizeof t);
    } else {
        refused(r, LP_RESET, res.outcome);
    }
    accounts_result_clear(&res);
}

/* Whether the session cookie r carries (R_SIGNIN reads it) is a live
 * session of user_id: then the account page says the address is confirmed. */
static bool signed_in_as(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                         const char *user_id)
{
    if (r->token_len == 0) return false;
    bool found = false;
    struct authcache_identity id;
    memset(&id, 0, sizeof id);
    enum gh_err rc = sessions_cookie_peek(ops, c, r->token, r->token_len, &found, &id);
    return rc == GH_OK && found && strcmp(id.user_id, user_id) == 0;
}

void link_pages_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    if (!form_fields(r, &tok, &tok_len, NULL, NULL)) return;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc =
        links_email_verify(ops, c, accounts_http_request(r, &in, &base, false), tok, tok_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (res.outcome == ACCOUNTS_DONE) {
        char url[REDIRECT_OUT_MAX];
        pages_url(url,
                  signed_in_as(r, ops, c, res.u.id) ? "/account?verified=1" : "/verify-email/done");
        pages_see_other(r, url);
    } else {
        refused(r, LP_VERIFY, res.outcome);
    }
    accounts_result_clear(&res);
}

void link_pages_verified(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    pages_send(r, 200, "Email address confirmed", VERIFIED, NULL, 0);
}
