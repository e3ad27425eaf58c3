#include "pages/factor_pages.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/config.h"
#include "core/util.h"
#include "mfa/mfa.h"
#include "mfa/mfa_http.h"
#include "mfa/pending.h"
#include "pages/account_pages.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"

const char FACTOR_START[] =
    "<h1>Set up your authenticator app</h1>\n"
    "{{#restricted}}<p class=\"notice\" role=\"status\">Your account needs two-step verification. "
    "Set it up to continue.</p>\n"
    "{{/restricted}}{{#on}}<p class=\"notice\" role=\"status\">Two-step verification is already "
    "on.</p>\n"
    "{{/on}}{{^on}}{{#unverified}}<p class=\"alert\" role=\"alert\" id=\"totp-error\">Confirm your "
    "email address first: two-step verification can only be set up on an address you proved is "
    "yours. Open the link we emailed you, or send a new one.</p>\n"
    "<form method=\"post\" action=\"{{base}}/account/resend-confirmation\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<button type=\"submit\">Send confirmation email</button>\n"
    "</form>\n"
    "{{/unverified}}{{^unverified}}<p class=\"lead\">Each time you sign in, after your password, "
    "you will type a code from an authenticator app on your phone.</p>\n"
    "<p>You need an authenticator app (such as one from your phone's app store) that reads a QR "
    "code.</p>\n"
    "<form method=\"post\" action=\"{{base}}/account/totp/start\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<button type=\"submit\">Set up</button>\n"
    "</form>\n"
    "{{/unverified}}{{/on}}<p class=\"links\"><a href=\"{{base}}/account\">Back to your "
    "account</a></p>\n";

const char FACTOR_CONFIRM[] =
    "<h1>Set up your authenticator app</h1>\n"
    "<p class=\"lead\">Scan the QR code with your authenticator app, then type the code it "
    "shows.</p>\n"
    "<p><img class=\"qr\" alt=\"QR code\" src=\"{{qr}}\"></p>\n"
    "<p>Can't scan it? Enter this key in the app instead:</p>\n"
    "<p><code class=\"secret\" id=\"totp-secret\">{{secret}}</code></p>\n"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"code-error\">{{error}}</p>\n"
    "{{/error}}<form method=\"post\" action=\"{{base}}/account/totp/confirm\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"totp-code\">Code from the app</label>\n"
    "<input type=\"text\" id=\"totp-code\" name=\"code\" inputmode=\"numeric\" "
    "autocomplete=\"one-time-code\" maxlength=\"10\" required{{#code_bad}} aria-invalid=\"true\" "
    "aria-describedby=\"code-error\"{{/code_bad}}>\n"
    "</div>\n"
    "{{#need_pw}}<div class=\"field\">\n"
    "<label for=\"totp-password\">Password</label>\n"
    "<input type=\"password\" id=\"totp-password\" name=\"password\" "
    "autocomplete=\"current-password\" required{{#pw_bad}} aria-invalid=\"true\"{{/pw_bad}} "
    "aria-describedby=\"{{#pw_bad}}code-error {{/pw_bad}}totp-password-hint\">\n"
    "<p class=\"hint\" id=\"totp-password-hint\">You signed in a while ago: enter your password to "
    "confirm it's you.</p>\n"
    "</div>\n"
    "{{/need_pw}}<button type=\"submit\">Turn on</button>\n"
    "</form>\n"
    "<p class=\"links\"><a href=\"{{base}}/account\">Cancel</a></p>\n";

const char FACTOR_CODES[] =
    "<h1>Save your backup codes</h1>\n"
    "{{#enabled}}<p class=\"notice\" role=\"status\">Two-step verification is on. Your other "
    "sessions were signed out.</p>\n"
    "{{/enabled}}<p class=\"lead\">If you lose your phone, each of these codes signs you in once "
    "instead of a code from the app. Save them somewhere safe now: they are shown only this "
    "once{{#replaced}}, and your old codes no longer work{{/replaced}}.</p>\n"
    "<ol class=\"codes\" id=\"backup-codes\">\n"
    "{{{rows}}}</ol>\n"
    "<p class=\"actions\"><a class=\"button\" href=\"{{base}}/account\">Continue</a></p>\n";

const char FACTOR_CODE_ROW[] = "<li>{{code}}</li>\n";

#define DATA_SVG "data:image/svg+xml;base64,"

static void see_other(struct gh_req *r, const char *path)
{
    char url[REDIRECT_OUT_MAX];
    pages_url(url, path);
    pages_see_other(r, url);
}

/* The start page in status (its state read again). */
static void start_page(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                       int status)
{
    bool on = false;
    enum gh_err rc = mfa_enabled(ops, c, r->ident.user_id, &on);
    enum gh_err may = rc || on ? GH_OK : mfa_may_enrol(ops, c, r->ident.user_id);
    if (rc || (may && may != GH_ERR_DENIED)) {
        gh_reply_fail(r, rc ? rc : may);
        return;
    }
    char csrf[COOKIE_CSRF_LEN + 1];
    if (!pages_session_csrf(r, csrf)) return;
    const struct page_var v[] = {{"restricted", r->ident.restricted ? "1" : ""},
                                 {"on", on ? "1" : ""},
                                 {"unverified", may == GH_ERR_DENIED ? "1" : ""},
                                 {"csrf", csrf}};
    pages_send(r, status, "Set up your authenticator app", FACTOR_START, v, 4);
    gh_wipe(csrf, sizeof csrf);
}

void factor_pages_start_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    start_page(r, ops, c, 200);
}

void factor_pages_start(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    mfa_http_totp_begin(r, ops, c);
    if (r->status == 200) {
        account_pages_wipe_reply(r); /* the key: the confirm page shows it again */
        see_other(r, "/account/totp/confirm");
        return;
    }
    const char *code = r->error_code;
    int status = r->status;
    if (account_pages_is_error(r, "email_not_verified") ||
        account_pages_is_error(r, "mfa_already_enabled")) {
        start_page(r, ops, c, status);
        if (r->status == status) r->error_code = code;
    }
}

/* "data:image/svg+xml;base64,..." of svg (heap; wipe it: it holds the key). */
static char *svg_data_uri(const char *svg)
{
    size_t n = strlen(svg), pre = sizeof DATA_SVG - 1;
    size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(pre + enc);
    if (!out) return NULL;
    memcpy(out, DATA_SVG, pre);
    sodium_bin2base64(out + pre, enc, (const unsigned char *)svg, n,
                      sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* What the confirm form shows besides the enrolment. */
struct confirm_view {
    const char *error;
    bool code_bad, pw_bad, need_pw;
};

/* The confirm page in status; no pending enrolment: 303 to the start. */
static void confirm_page(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                         int status, struct confirm_view v)
{
    struct store_session s;
    enum gh_err rc = ops->sessions.get(c, r->ident.session_id, &s);
    if (rc) {
        gh_reply_fail(r, rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc);
        return;
    }
    /* The password field when the logic will want it (mfa_http.c
     * check_recent_auth: a sign-in older than the window). */
    if (gh_now_s() - s.created_at > gh_cfg.reauth_window) v.need_pw = true;
    char b32[TOTP_BASE32_LEN + 1], *svg = NULL;
    rc = mfa_totp_pending(ops, c, r->ident.user_id, r->ident.email, b32, &svg);
    if (rc == GH_ERR_NOT_FOUND) {
        see_other(r, "/account/totp");
        return;
    }
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    char *qr = svg_data_uri(svg), csrf[COOKIE_CSRF_LEN + 1];
    if (!qr)
        gh_reply_fail(r, GH_ERR_NOMEM);
    else if (pages_session_csrf(r, csrf)) {
        const struct page_var vars[] = {{"qr", qr},
                                        {"secret", b32},
                                        {"error", v.error},
                                        {"csrf", csrf},
                                        {"code_bad", v.code_bad ? "1" : ""},
                                        {"need_pw", v.need_pw ? "1" : ""},
                                        {"pw_bad", v.pw_bad ? "1" : ""}};
        pages_send(r, status, "Set up your authenticator app", FACTOR_CONFIRM, vars, 7);
        gh_wipe(csrf, sizeof csrf);
    }
    gh_free_secret_str(qr);
    gh_free_secret_str(svg);
    gh_wipe(b32, sizeof b32);
}

void factor_pages_confirm_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    confirm_page(r, ops, c, 200, (struct confirm_view){0});
}

/* The codes page from the twin's 200 {"backup_codes": [...]}, in place of
 * it. */
static void codes_page(struct gh_req *r, bool enabled)
{
    json_t *arr = json_object_get(r->resp, "backup_codes"), *it;
    struct page_buf rows = {0};
    enum gh_err rc = json_is_array(arr) && json_array_size(arr) ? GH_OK : GH_ERR_INTERNAL;
    size_t i;
    json_array_foreach(arr, i, it)
    {
        const struct page_var v[] = {{"code", json_string_value(it)}};
        if (rc == GH_OK) rc = page_fill(&rows, FACTOR_CODE_ROW, v, 1);
    }
    account_pages_wipe_reply(r);
    if (rc) {
        gh_reply_fail(r, rc == GH_ERR_NOMEM ? rc : GH_ERR_INTERNAL);
    } else {
        const struct page_var v[] = {
            {"enabled", enabled ? "1" : ""}, {"replaced", enabled ? "" : "1"}, {"rows", rows.data}};
        pages_send(r, 200, "Save your backup codes", FACTOR_CODES, v, 3);
    }
    if (rows.data) gh_wipe(rows.data, rows.len);
    page_buf_free(&rows);
}

void factor_pages_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    account_pages_blank_fields(r);
    if (!json_object_get(r->body, "code")) {
        confirm_page(
            r, ops, c, 422,
            (struct confirm_view){.error = "Enter the code from the app.", .code_bad = true});
        if (r->status == 422) r->error_code = "missing_field";
        return;
    }
    mfa_http_totp_confirm(r, ops, c);
    if (r->status == 200) {
        codes_page(r, true);
        return;
    }
    const char *code = r->error_code;
    int status = r->status;
    struct confirm_view v = {0};
    if (account_pages_is_error(r, "code_mismatch"))
        v = (struct confirm_view){.error = "That code is not right. Type the code the app shows "
                                           "now; if it keeps failing, check your phone's clock.",
                                  .code_bad = true};
    else if (account_pages_is_error(r, "proof_failed"))
        v = (struct confirm_view){
            .error = "Your password is not right.", .pw_bad = true, .need_pw = true};
    else if (account_pages_is_error(r, "reauth_required"))
        v = (struct confirm_view){
            .error = "Enter your password to confirm it's you.", .pw_bad = true, .need_pw = true};
    else if (account_pages_is_error(r, "email_not_verified")) {
        start_page(r, ops, c, status);
        if (r->status == status) r->error_code = code;
        return;
    } else {
        return; /* no pending enrolment, 429, a failure: an error page */
    }
    confirm_page(r, ops, c, status, v);
    if (r->status == status) r->error_code = code;
}

/* The account page with the error of a factor change's proof at its form
 * (remove: the "Turn off" form, else "Get new backup codes"). false: not
 * such an error (the reply stays). */
static bool proof_error(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                        bool remove)
{
    const char *code = r->error_code, *words;
    char msg[256];
    int status = r->status;
    account_pages_error_message(r, msg, sizeof msg);
    if (account_pages_is_error(r, "missing_field"))
        words = "Enter a code from your authenticator app (or a backup code) and your password.";
    else if (account_pages_is_error(r, "proof_failed"))
        words = "That code or password is not right.";
    else if (account_pages_is_error(r, "reauth_required"))
        words = msg;
    else
        return false;
    struct account_view v = {0};
    if (remove)
        v.remove_error = words;
    else
        v.codes_error = words;
    account_pages_render(r, ops, c, status, &v);
    if (r->status == status) r->error_code = code;
    return true;
}

void factor_pages_backup_codes(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    account_pages_blank_fields(r);
    mfa_http_backup_codes(r, ops, c);
    if (r->status == 200)
        codes_page(r, false);
    else
        proof_error(r, ops, c, false);
}

void factor_pages_remove(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    account_pages_blank_fields(r);
    mfa_http_totp_delete(r, ops, c);
    if (r->status == 204)
        see_other(r, "/account?totp=off");
    else
        proof_error(r, ops, c, true);
}
