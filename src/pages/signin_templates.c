/* The templates of the sign-in and sign-up pages (signin_pages.h lists
 * their variables). Class names are the pages' shared vocabulary
 * (docs/api.md "Pages"); no inline style, no script. */
#include "pages/signin_pages.h"

/* The provider buttons under a divider "or" ({{{providers}}}: rows that
 * page_fill rendered from PAGES_PROVIDER_BUTTON; none configured, none shown). */
#define PROVIDERS_SECTION                                                                          \
    "{{#providers}}<p class=\"divider\">or</p>\n"                                                  \
    "<div class=\"providers\" role=\"group\" aria-label=\"Other ways to sign in\">\n"              \
    "{{{providers}}}</div>\n{{/providers}}"

const char PAGES_SIGN_IN[] =
    "<h1>Sign in</h1>\n"
    "{{#notice}}<p class=\"notice\" role=\"status\">{{notice}}</p>\n{{/notice}}"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"signin-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/signin\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"email\">Email</label>\n"
    "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\" value=\"{{email}}\" required "
    "autofocus{{#error}} aria-invalid=\"true\" aria-describedby=\"signin-error\"{{/error}}>\n"
    "</div>\n"
    "<div class=\"field\">\n"
    "<label for=\"password\">Password</label>\n"
    "<input id=\"password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required{{#error}} aria-invalid=\"true\" "
    "aria-describedby=\"signin-error\"{{/error}}>\n"
    "</div>\n"
    "<button type=\"submit\">Sign in</button>\n"
    "</form>\n"
    "<p class=\"links\"><a href=\"{{base}}/forgot-password\">Forgot password?</a> "
    "<a href=\"{{base}}/signup{{#rdq}}?rd={{rdq}}{{/rdq}}\">Create an account</a></p>\n"
    "<p class=\"divider\">or</p>\n"
    "{{#magic_error}}<p class=\"alert\" role=\"alert\" id=\"magic-error\">{{magic_error}}</p>\n"
    "{{/magic_error}}"
    "<form method=\"post\" action=\"{{base}}/signin/magic-link\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"magic-email\">Email</label>\n"
    "<input id=\"magic-email\" name=\"email\" type=\"email\" autocomplete=\"email\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\" required{{#magic_error}} "
    "aria-invalid=\"true\" aria-describedby=\"magic-error\"{{/magic_error}}>\n"
    "</div>\n"
    "<button type=\"submit\" class=\"secondary\">Email me a sign-in link</button>\n"
    "</form>\n"
    /* Sign-in buttons of the identity providers (rows of PAGES_PROVIDER_BUTTON) */
    PROVIDERS_SECTION;

const char PAGES_SIGN_IN_MFA[] =
    "<h1>Two-step verification</h1>\n"
    "<p class=\"lead\">Enter the code from your authenticator app, or one of your backup "
    "codes.</p>\n"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"code-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/signin/mfa\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"code\">Authentication code</label>\n"
    "<input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"one-time-code\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\" required autofocus"
    "{{#error}} aria-invalid=\"true\" aria-describedby=\"code-error\"{{/error}}>\n"
    "</div>\n"
    "<button type=\"submit\">Verify</button>\n"
    "</form>\n"
    "<p class=\"links\"><a href=\"{{base}}/signin{{#rdq}}?rd={{rdq}}{{/rdq}}\">Start "
    "again</a></p>\n";

const char PAGES_SIGN_UP[] =
    "<h1>Create your account</h1>\n"
    "{{#email_error}}<p class=\"alert\" role=\"alert\" id=\"email-error\">{{email_error}}</p>\n"
    "{{/email_error}}"
    "{{#taken}}<p class=\"alert\" role=\"alert\" id=\"email-error\">An account with this email "
    "already exists. <a href=\"{{base}}/signin{{#rdq}}?rd={{rdq}}{{/rdq}}\">Sign in</a> or "
    "<a href=\"{{base}}/forgot-password\">reset your password</a>.</p>\n{{/taken}}"
    "{{#password_error}}<p class=\"alert\" role=\"alert\" id=\"password-error\">"
    "{{password_error}}</p>\n{{/password_error}}"
    "<form method=\"post\" action=\"{{base}}/signup\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"email\">Email</label>\n"
    "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\" value=\"{{email}}\" required "
    "autofocus{{#email_error}} aria-invalid=\"true\" aria-describedby=\"email-error\""
    "{{/email_error}}{{#taken}} aria-invalid=\"true\" aria-describedby=\"email-error\""
    "{{/taken}}>\n"
    "</div>\n"
    "<div class=\"field\">\n"
    "<label for=\"password\">Password</label>\n"
    "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" "
    "required aria-describedby=\"{{#password_error}}password-error {{/password_error}}"
    "password-hint\"{{#password_error}} aria-invalid=\"true\"{{/password_error}}>\n"
    "<p class=\"hint\" id=\"password-hint\">At least 12 characters. A few unrelated words are "
    "easy to remember and hard to guess.</p>\n"
    "</div>\n"
    "<button type=\"submit\">Create account</button>\n"
    "</form>\n"
    "<p class=\"muted\">Already have an account? <a href=\"{{base}}/signin{{#rdq}}?rd={{rdq}}"
    "{{/rdq}}\">Sign in</a></p>\n" PROVIDERS_SECTION;

const char PAGES_PROVIDER_BUTTON[] =
    "<a class=\"button secondary provider\" href=\"{{href}}\">Continue with {{display}}</a>\n";

const char PAGES_CHECK_EMAIL[] =
    "<h1>Check your email</h1>\n"
    "<p class=\"notice\" role=\"status\">{{message}}</p>\n"
    "<p class=\"links\"><a href=\"{{base}}/signin\">{{back}}</a></p>\n";
