#include "pages/forgot_pages.h"

#include <string.h>

#include "accounts/email.h"
#include "accounts/link_mail.h"
#include "core/util.h"
#include "pages/form_token.h"
#include "pages/link_pages.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"

/* error, email, csrf (the layout adds base, brand) */
static const char FORGOT_FORM[] =
    "<h1>Forgot your password?</h1>\n"
    "<p class=\"lead\">Enter the email address of your account. We will send you a link to "
    "choose a new password.</p>\n"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"email-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/forgot-password\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"email\">Email</label>\n"
    "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\" required autofocus "
    "value=\"{{email}}\"{{#error}} aria-invalid=\"true\" aria-describedby=\"email-error\""
    "{{/error}}>\n"
    "</div>\n"
    "<button type=\"submit\">Send reset link</button>\n"
    "</form>\n"
    "<p class=\"links\"><a href=\"{{base}}/signin\">Back to sign in</a></p>\n";

/* life */
static const char FORGOT_SENT[] =
    "<h1>Check your email</h1>\n"
    "<p class=\"notice\" role=\"status\">If an account exists for that address, a link to "
    "choose a new password is on its way.</p>\n"
    "<p>The link works once, for {{life}}. Nothing arrived? Look in your spam "
    "folder, or ask again.</p>\n"
    "<p class=\"links\"><a href=\"{{base}}/forgot-password\">Send another link</a> "
    "<a href=\"{{base}}/signin\">Back to sign in</a></p>\n";

/* The form, with error ("" for none) and what was typed. */
static void forgot_form(struct gh_req *r, int status, const char *error, const char *email)
{
    char csrf[PAGES_FORM_TOKEN_LEN + 1];
    if (!pages_form_token(r, csrf)) return;
    const struct page_var v[] = {{"error", error}, {"email", email}, {"csrf", csrf}};
    pages_send(r, status, "Forgot password", FORGOT_FORM, v, 3);
    gh_wipe(csrf, sizeof csrf);
}

void forgot_pages_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    forgot_form(r, 200, "", "");
}

void forgot_pages_send(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    const char *email_in = NULL;
    size_t email_len = 0;
    const struct gh_field f[] = {{"email", false, &email_in, &email_len}};
    if (gh_body_fields(r, f, 1)) return;
    if (!email_in || email_len == 0) {
        forgot_form(r, 422, "Enter your email address.", "");
        if (r->status == 422) r->error_code = "missing_field";
        return;
    }
    /* POST /v1/password/forgot's logic: an address that is not one, and
     * one without an account, are answered alike (nothing is sent). */
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(email_in, email_len, email, key) == GH_OK)
        link_mail_queue(email, key, LINK_RESET);
    gh_wipe(email, sizeof email);
    gh_wipe(key, sizeof key);
    char url[REDIRECT_OUT_MAX];
    pages_url(url, "/forgot-password/sent");
    pages_see_other(r, url);
}

void forgot_pages_sent(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    char life[32];
    link_pages_life(life, sizeof life);
    const struct page_var v[] = {{"life", life}};
    pages_send(r, 200, "Check your email", FORGOT_SENT, v, 1);
}
