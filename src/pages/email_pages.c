#include "pages/email_pages.h"

#include <string.h>

#include "accounts/email_change.h"
#include "accounts/email_change_http.h"
#include "core/util.h"
#include "pages/form_token.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"

/* ---- templates (variables in each comment; the layout adds base) ---- */

/* current, csrf, new_email, has_password, error (above the form),
 * email_error, password_error */
static const char EMAIL_FORM[] =
    "<h1>Change your email</h1>\n"
    "<p class=\"lead\">You sign in as <strong>{{current}}</strong>. We will email a link to "
    "the new address; your email changes when you follow it.</p>\n"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"form-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/account/email\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"new-email\">New email</label>\n"
    "<input id=\"new-email\" name=\"new_email\" type=\"email\" autocomplete=\"email\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\" required "
    "value=\"{{new_email}}\"{{#email_error}} aria-invalid=\"true\" "
    "aria-describedby=\"new-email-error\"{{/email_error}}>\n"
    "{{#email_error}}<p class=\"alert\" role=\"alert\" id=\"new-email-error\">{{email_error}}"
    "</p>\n{{/email_error}}"
    "</div>\n"
    "{{#has_password}}<div class=\"field\">\n"
    "<label for=\"current-password\">Current password</label>\n"
    "<input id=\"current-password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required{{#password_error}} aria-invalid=\"true\" "
    "aria-describedby=\"current-password-error\"{{/password_error}}>\n"
    "{{#password_error}}<p class=\"alert\" role=\"alert\" id=\"current-password-error\">"
    "{{password_error}}</p>\n{{/password_error}}"
    "</div>\n{{/has_password}}"
    "{{^has_password}}<p class=\"muted\">Your account has no password: this works for a few "
    "minutes after you sign in with an email link.</p>\n{{/has_password}}"
    "<button type=\"submit\">Send confirmation link</button>\n"
    "</form>\n"
    "<p class=\"links\"><a href=\"{{base}}/account\">Back to your account</a></p>\n";

static const char EMAIL_SENT[] =
    "<h1>Check your new inbox</h1>\n"
    "<p class=\"notice\" role=\"status\">We sent a confirmation link to your new email "
    "address. Open it to finish the change.</p>\n"
    "<p>Until then you keep signing in with your current address. We also told your current "
    "address about the request.</p>\n"
    "<p class=\"links\"><a href=\"{{base}}/account\">Back to your account</a></p>\n";

/* new_email, token, csrf */
static const char EMAIL_LANDING[] =
    "<h1>Confirm your new email address</h1>\n"
    "<p>Your account's email address will change to <strong>{{new_email}}</strong>. From then "
    "on you sign in with it.</p>\n"
    "<form method=\"post\" action=\"{{base}}/email-change\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"token\" value=\"{{token}}\">\n"
    "<button type=\"submit\">Confirm</button>\n"
    "</form>\n";

/* message */
static const char EMAIL_LINK_ERROR[] = "<h1>{{heading}}</h1>\n"
                                       "<p class=\"alert\" role=\"alert\">{{message}}</p>\n"
                                       "<p class=\"links\"><a href=\"{{base}}/account/email\">"
                                       "Ask for a new link</a></p>\n";

static const char EMAIL_DONE[] =
    "<h1>Your email address was changed</h1>\n"
    "<p class=\"notice\" role=\"status\">From now on, sign in with your new email "
    "address.</p>\n";

/* ---- signed in: ask for the change ---- */

struct form_state {
    const char *new_email, *error, *email_error, *password_error;
};

/* The form with what the person typed (never the password) and the
 * errors of st; status 200 or the refusal's. */
static void email_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                       int status, const struct form_state *st)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = ops->users.by_id(c, r->ident.user_id, &u);
    bool has_pw = u.password_hash[0] && u.password_hash[0] != '!'; /* "!": magic links only */
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc) {
        if (rc == GH_ERR_NOT_FOUND)
            gh_fail(r, GH_E_INVALID_TOKEN);
        else
            gh_reply_fail(r, rc);
        return;
    }
    char csrf[COOKIE_CSRF_LEN + 1];
    if (!pages_session_csrf(r, csrf)) return;
    const struct page_var v[] = {{"current", u.email},
                                 {"csrf", csrf},
                                 {"new_email", st->new_email},
                                 {"has_password", has_pw ? "1" : ""},
                                 {"error", st->error},
                                 {"email_error", st->email_error},
                                 {"password_error", st->password_error}};
    pages_send(r, status, "Change your email", EMAIL_FORM, v, sizeof v / sizeof v[0]);
    gh_wipe(csrf, sizeof csrf);
}

void email_pages_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const struct form_state st = {0};
    email_form(r, ops, c, 200, &st);
}

/* A refusal the form shows (true), with its status and the API's code;
 * false for the others (an error page). */
static bool form_refusal(const struct email_change_result *res, struct form_state *st, int *status,
                         const char **code)
{
    switch (res->outcome) {
    case EMAIL_CHANGE_INVALID_EMAIL:
        *status = 422, *code = "invalid_email";
        st->email_error = "Enter an email address like name@example.com.";
        return true;
    case EMAIL_CHANGE_NOT_VERIFIED:
        *status = 403, *code = "email_not_verified";
        st->error = "Confirm your current email address first: your account page can send "
                    "the confirmation email again.";
        return true;
    case EMAIL_CHANGE_SAME:
        *status = 422, *code = "invalid_field";
        st->email_error = "That already is your email address.";
        return true;
    case EMAIL_CHANGE_NO_PASSWORD:
        *status = 422, *code = "missing_field";
        st->password_error = "Enter your current password.";
        return true;
    case EMAIL_CHANGE_BAD_PASSWORD:
        *status = 403, *code = "proof_failed";
        st->password_error = "The current password is incorrect.";
        return true;
    case EMAIL_CHANGE_REAUTH:
        *status = 403, *code = "reauth_required";
        st->error = "Sign in again with an email link, then change your email within a few "
                    "minutes.";
        return true;
    default:
        return false;
    }
}

void email_pages_request(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *email = NULL, *pw = NULL;
    size_t email_len = 0, pw_len = 0;
    const struct gh_field f[] = {{"new_email", false, &email, &email_len},
                                 {"password", false, &pw, &pw_len}};
    if (gh_body_fields(r, f, 2)) return;
    if (pw && pw_len == 0) pw = NULL; /* an empty field is no password */
    struct email_change_result res;
    enum gh_err rc =
        email_change_request(r, ops, c, email ? email : "", email_len, pw, pw_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    if (res.outcome == EMAIL_CHANGE_SENT) {
        char sent[REDIRECT_OUT_MAX];
        pages_url(sent, "/account/email/sent");
        pages_see_other(r, sent);
        return;
    }
    struct form_state st = {.new_email = email ? email : ""};
    int status = 0;
    const char *code = NULL;
    if (!form_refusal(&res, &st, &status, &code)) {
        email_change_http_refused(r, &res); /* an error page (http_finish) */
        return;
    }
    email_form(r, ops, c, status, &st);
    if (r->status == status) r->error_code = code; /* for the request log */
}

void email_pages_sent(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    pages_send(r, 200, "Check your new inbox", EMAIL_SENT, NULL, 0);
}

/* ---- the emailed link ---- */

/* A link that cannot be used: its own page (not the "not signed in" one),
 * with the API's status and code. */
static void link_error(struct gh_req *r, const struct email_change_result *res)
{
    const char *heading = "This link has expired or was already used";
    const char *message = "Ask for a new link from your account's email page.";
    int status = 401;
    const char *code =
        res->outcome == EMAIL_CHANGE_LINK_EXPIRED ? "token_expired" : "invalid_token";
    if (res->outcome == EMAIL_CHANGE_TAKEN) {
        heading = "This email address is taken";
        message = "Another account already uses this email address, so your email was not "
                  "changed. Choose another address.";
        status = 409, code = "email_taken";
    }
    const struct page_var v[] = {{"heading", heading}, {"message", message}};
    pages_send(r, status, heading, EMAIL_LINK_ERROR, v, 2);
    if (r->status == status) r->error_code = code;
}

void email_pages_landing(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char tok[64];
    struct email_change_result res;
    memset(&res, 0, sizeof res);
    res.outcome = EMAIL_CHANGE_LINK_INVALID;
    enum gh_err rc = GH_OK;
    if (pages_query_param(r, "token", tok, sizeof tok))
        rc = email_change_peek(ops, c, tok, strlen(tok), &res);
    gh_wipe(r->query, sizeof r->query); /* the token's other copy */
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (res.outcome != EMAIL_CHANGE_PENDING) {
        link_error(r, &res);
    } else {
        char csrf[PAGES_FORM_TOKEN_LEN + 1]; /* no session yet: the form token */
        if (pages_form_token(r, csrf)) {
            const struct page_var v[] = {{"new_email", res.email}, {"token", tok}, {"csrf", csrf}};
            pages_send(r, 200, "Confirm your new email address", EMAIL_LANDING, v, 3);
        }
        gh_wipe(csrf, sizeof csrf);
    }
    gh_wipe(tok, sizeof tok);
}

void email_pages_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok = NULL;
    size_t tok_len = 0;
    const struct gh_field f[] = {{"token", false, &tok, &tok_len}};
    if (gh_body_fields(r, f, 1)) return;
    struct store_audit base;
    struct email_change_result res;
    enum gh_err rc = email_change_confirm(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                          tok ? tok : "", tok_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    if (res.outcome != EMAIL_CHANGE_DONE) {
        link_error(r, &res);
        return;
    }
    /* A browser with a session cookie (R_SIGNIN read it) goes back to its
     * account page; another sees the done page. */
    char next[REDIRECT_OUT_MAX];
    pages_url(next, r->token_len ? "/account?email=changed" : "/email-change/done");
    pages_see_other(r, next);
}

void email_pages_done(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    pages_send(r, 200, "Email changed", EMAIL_DONE, NULL, 0);
}
