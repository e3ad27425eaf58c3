#include "pages/account_pages.h"

#include <string.h>

#include "accounts/accounts_http.h"
#include "accounts/password_change.h"
#include "core/util.h"
#include "mfa/mfa.h"
#include "pages/identity_pages.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"

const char ACCOUNT_PAGE[] =
    "<h1>Your account</h1>\n"
    "<p class=\"lead\">Signed in as <strong>{{email}}</strong></p>\n"
    "{{#notice}}<p class=\"notice\" role=\"status\">{{notice}}</p>{{/notice}}\n"
    "<section aria-labelledby=\"email-heading\">\n"
    "<h2 id=\"email-heading\">Email</h2>\n"
    "<p>{{email}} {{#verified}}<span class=\"tag\">Confirmed</span>{{/verified}}{{^verified}}<span "
    "class=\"tag\">Not confirmed</span>{{/verified}}</p>\n"
    "{{^verified}}<p class=\"muted\">Confirm your address to set up two-step verification and to "
    "recover your account.</p>\n"
    "<form method=\"post\" action=\"{{base}}/account/resend-confirmation\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<button type=\"submit\" class=\"secondary\">Send confirmation email</button>\n"
    "</form>\n"
    "{{/verified}}<p class=\"links\"><a href=\"{{base}}/account/email\">Change email</a></p>\n"
    "</section>\n"
    "<section aria-labelledby=\"password-heading\">\n"
    "<h2 id=\"password-heading\">Password</h2>\n"
    "{{#pw_error}}<p class=\"alert\" role=\"alert\" id=\"password-error\">{{pw_error}}</p>\n"
    "{{/pw_error}}{{^has_pw}}<p>Your account has no password: you sign in with links we email "
    "you.</p>\n"
    "<p class=\"links\"><a href=\"{{base}}/forgot-password\">Set a password</a></p>\n"
    "{{/has_pw}}{{#has_pw}}<form method=\"post\" action=\"{{base}}/account/password\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"current-password\">Current password</label>\n"
    "<input type=\"password\" id=\"current-password\" name=\"current_password\" "
    "autocomplete=\"current-password\" required{{#cur_bad}} aria-invalid=\"true\" "
    "aria-describedby=\"password-error\"{{/cur_bad}}>\n"
    "</div>\n"
    "<div class=\"field\">\n"
    "<label for=\"new-password\">New password</label>\n"
    "<input type=\"password\" id=\"new-password\" name=\"new_password\" "
    "autocomplete=\"new-password\" required{{#new_bad}} aria-invalid=\"true\"{{/new_bad}} "
    "aria-describedby=\"{{#new_bad}}password-error {{/new_bad}}new-password-hint\">\n"
    "<p class=\"hint\" id=\"new-password-hint\">Changing your password signs you out on every "
    "other device.</p>\n"
    "</div>\n"
    "<button type=\"submit\">Change password</button>\n"
    "</form>\n"
    "{{/has_pw}}"
    "</section>\n"
    "<section aria-labelledby=\"mfa-heading\">\n"
    "<h2 id=\"mfa-heading\">Two-step verification</h2>\n"
    "{{#mfa_on}}<p><span class=\"tag\">On</span> Signing in asks for a code from your "
    "authenticator app (or a backup code) after your password.</p>\n"
    "<p class=\"muted\">Both actions below need a current code from your app (or an unused backup "
    "code) and your password.</p>\n"
    "<h3>New backup codes</h3>\n"
    "{{#codes_error}}<p class=\"alert\" role=\"alert\" id=\"codes-error\">{{codes_error}}</p>\n"
    "{{/codes_error}}<form method=\"post\" action=\"{{base}}/account/backup-codes\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"codes-code\">Authentication code</label>\n"
    "<input type=\"text\" id=\"codes-code\" name=\"code\" inputmode=\"numeric\" "
    "autocomplete=\"one-time-code\" required{{#codes_error}} aria-invalid=\"true\" "
    "aria-describedby=\"codes-error\"{{/codes_error}}>\n"
    "</div>\n"
    "{{#has_pw}}<div class=\"field\">\n"
    "<label for=\"codes-password\">Password</label>\n"
    "<input type=\"password\" id=\"codes-password\" name=\"password\" "
    "autocomplete=\"current-password\">\n"
    "</div>\n{{/has_pw}}"
    "<button type=\"submit\" class=\"secondary\">Get new backup codes</button>\n"
    "</form>\n"
    "<h3>Turn it off</h3>\n"
    "{{#remove_error}}<p class=\"alert\" role=\"alert\" id=\"remove-error\">{{remove_error}}</p>\n"
    "{{/remove_error}}<form method=\"post\" action=\"{{base}}/account/totp/remove\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"remove-code\">Authentication code</label>\n"
    "<input type=\"text\" id=\"remove-code\" name=\"code\" inputmode=\"numeric\" "
    "autocomplete=\"one-time-code\" required{{#remove_error}} aria-invalid=\"true\" "
    "aria-describedby=\"remove-error\"{{/remove_error}}>\n"
    "</div>\n"
    "{{#has_pw}}<div class=\"field\">\n"
    "<label for=\"remove-password\">Password</label>\n"
    "<input type=\"password\" id=\"remove-password\" name=\"password\" "
    "autocomplete=\"current-password\">\n"
    "</div>\n{{/has_pw}}"
    "<button type=\"submit\" class=\"danger\">Turn off two-step verification</button>\n"
    "</form>\n"
    "{{/mfa_on}}{{^mfa_on}}<p><span class=\"tag\">Off</span> Add a code from an authenticator app "
    "on your phone to your password.</p>\n"
    "{{^verified}}<p class=\"muted\">Confirm your email address first (above).</p>\n"
    "{{/verified}}<p class=\"actions\"><a class=\"button\" href=\"{{base}}/account/totp\">Set up "
    "authenticator app</a></p>\n"
    "{{/mfa_on}}</section>\n"
    "{{{methods}}}"
    "<section aria-labelledby=\"sessions-heading\">\n"
    "<h2 id=\"sessions-heading\">Sessions</h2>\n"
    "<p><a href=\"{{base}}/account/sessions\">Sessions and devices</a></p>\n"
    "</section>\n"
    "<p class=\"links\"><a href=\"{{base}}/signout\">Sign out</a></p>\n";

/* The notices of GET /account: a fixed query key and value choose fixed
 * words (the query itself is never shown). */
static const struct {
    const char *key, *value, *words;
} notices[] = {
    {"verified", "1", "Your email address is confirmed."},
    {"password", "changed", "Your password was changed. Your other sessions were signed out."},
    {"email", "changed", "Your email address was changed."},
    {"email", "sent",
     "We sent a confirmation link to the new address. Your email changes once "
     "you open it."},
    {"confirmation", "sent",
     "A confirmation link is on its way. Open it to confirm your "
     "address."},
    {"totp", "off", "Two-step verification is off. Your other sessions were signed out."},
};

static const char *notice_of(struct gh_req *r)
{
    char v[16];
    for (size_t i = 0; i < sizeof notices / sizeof notices[0]; i++)
        if (pages_query_param(r, notices[i].key, v, sizeof v) && strcmp(v, notices[i].value) == 0)
            return notices[i].words;
    return NULL;
}

void account_pages_render(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                          int status, const struct account_view *v)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    bool on = false;
    enum gh_err rc = ops->users.by_id(c, r->ident.user_id, &u);
    bool has_pw = u.password_hash[0] && u.password_hash[0] != '!'; /* "!": email links only */
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc == GH_OK) rc = mfa_enabled(ops, c, r->ident.user_id, &on);
    if (rc) {
        if (rc == GH_ERR_NOT_FOUND)
            gh_fail(r, GH_E_INVALID_TOKEN); /* the account is gone */
        else
            gh_reply_fail(r, rc);
        return;
    }
    char csrf[COOKIE_CSRF_LEN + 1];
    if (!pages_session_csrf(r, csrf)) return;
    struct page_buf methods = {0}; /* the "Sign-in methods" section (identity_pages.h) */
    if ((rc =
             identity_pages_section(r, ops, c, has_pw, u.email_verified_at != 0, csrf, &methods))) {
        page_buf_free(&methods);
        gh_wipe(csrf, sizeof csrf);
        gh_reply_fail(r, rc);
        return;
    }
    const char *set = "1";
    const struct page_var vars[] = {
        {"email", u.email},
        {"verified", u.email_verified_at ? set : ""},
        {"notice", v->notice},
        {"csrf", csrf},
        {"pw_error", v->pw_error},
        {"cur_bad", v->cur_bad ? set : ""},
        {"new_bad", v->new_bad ? set : ""},
        {"mfa_on", on ? set : ""},
        {"codes_error", v->codes_error},
        {"remove_error", v->remove_error},
        {"has_pw", has_pw ? set : ""},
        {"methods", methods.data ? methods.data : ""},
    };
    pages_send_width(r, status, PAGES_WIDE, "Your account", ACCOUNT_PAGE, vars,
                     sizeof vars / sizeof vars[0]);
    if (methods.data) gh_wipe(methods.data, methods.len);
    page_buf_free(&methods);
    gh_wipe(csrf, sizeof csrf);
}

void account_pages_show(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (r->ident.restricted) { /* it may only enrol a factor: that page */
        char url[REDIRECT_OUT_MAX];
        pages_url(url, "/account/totp");
        pages_see_other(r, url);
        return;
    }
    char words[160];
    const char *notice = notice_of(r);
    if (!notice) notice = identity_pages_notice(r, ops, c, words, sizeof words);
    const struct account_view v = {.notice = notice};
    account_pages_render(r, ops, c, 200, &v);
}

void account_pages_password(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *cur = NULL, *next = NULL;
    size_t cur_len = 0, next_len = 0;
    const struct gh_field f[] = {{"current_password", false, &cur, &cur_len},
                                 {"new_password", false, &next, &next_len}};
    if (gh_body_fields(r, f, 2)) return;
    if (!cur_len || !next_len) {
        const struct account_view v = {.pw_error = "Enter your current password and a new one.",
                                       .cur_bad = !cur_len,
                                       .new_bad = cur_len && !next_len};
        account_pages_render(r, ops, c, 422, &v);
        r->error_code = "missing_field";
        return;
    }
    password_change(r, ops, c, cur, cur_len, next, next_len);
    if (r->status == 204) {
        char url[REDIRECT_OUT_MAX];
        pages_url(url, "/account?password=changed");
        pages_see_other(r, url);
        return;
    }
    int status = r->status;
    char msg[256];
    account_pages_error_message(r, msg, sizeof msg);
    if (account_pages_is_error(r, "proof_failed")) {
        const struct account_view v = {.pw_error = "Your current password is not right.",
                                       .cur_bad = true};
        account_pages_render(r, ops, c, status, &v);
        r->error_code = "proof_failed";
    } else if (account_pages_is_error(r, "weak_password")) {
        const struct account_view v = {.pw_error = msg, .new_bad = true};
        account_pages_render(r, ops, c, status, &v);
        r->error_code = "weak_password";
    } /* else: 401, 429, 5xx stay; pages_http_error makes them a page */
}

void account_pages_resend(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    accounts_http_email_resend(r, ops, c);
    if (r->status != 202) return; /* 429 or a failure: an error page */
    char url[REDIRECT_OUT_MAX];
    pages_url(url, "/account?confirmation=sent");
    pages_see_other(r, url);
}

void account_pages_blank_fields(struct gh_req *r)
{
    const char *key;
    json_t *val;
    void *tmp;
    if (!json_is_object(r->body)) return;
    json_object_foreach_safe(r->body, tmp, key, val)
    {
        if (json_is_string(val) && json_string_length(val) == 0) json_object_del(r->body, key);
    }
}

void account_pages_error_message(const struct gh_req *r, char *out, size_t cap)
{
    json_t *m = json_object_get(json_object_get(r->resp, "error"), "message");
    const char *s = json_is_string(m) ? json_string_value(m) : "";
    size_t n = strlen(s);
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

bool account_pages_is_error(const struct gh_req *r, const char *code)
{
    return r->error_code && strcmp(r->error_code, code) == 0;
}

void account_pages_wipe_reply(struct gh_req *r)
{
    gh_json_wipe(r->resp);
    json_decref(r->resp);
    r->resp = NULL;
}
