#include "http/routes.h"

#include <string.h>

#include "accounts/accounts_http.h"
#include "accounts/audit_http.h"
#include "accounts/email_change_http.h"
#include "federation/native_http.h"
#include "federation/oauth_http.h"
#include "gate/gate_http.h"
#include "guard/guard.h"
#include "http/health.h"
#include "mfa/mfa_http.h"
#include "federation/identities_http.h"
#include "pages/account_pages.h"
#include "pages/identity_pages.h"
#include "pages/factor_pages.h"
#include "pages/email_pages.h"
#include "pages/forgot_pages.h"
#include "pages/link_pages.h"
#include "pages/pages_http.h"
#include "pages/signin_pages.h"
#include "pages/sessions_pages.h"
#include "sessions/sessions_http.h"

const struct gh_route gh_routes[] = {
    {GH_GET, "/healthz", NULL, R_LOOP, http_healthz, GUARD_NONE},
    {GH_GET, "/readyz", NULL, R_LOOP, http_readyz, GUARD_NONE},
    {GH_GET, "/metrics", NULL, R_LOOP, http_metrics, GUARD_NONE},
    {GH_GET, "/v1/audit", NULL, R_AUTH, audit_http_list, GUARD_NONE},
    {GH_GET, "/.well-known/jwks.json", NULL, R_LOOP | R_CACHEABLE, sessions_http_jwks, GUARD_NONE},
    {GH_GET, "/.well-known/openid-configuration", NULL, R_LOOP | R_CACHEABLE,
     sessions_http_discovery, GUARD_NONE},
    {GH_POST, "/v1/signup", NULL, R_BODY | R_HASH | R_SIGNIN, accounts_http_signup, GUARD_SIGNUP},
    {GH_POST, "/v1/signin", NULL, R_BODY | R_HASH | R_SIGNIN, accounts_http_signin, GUARD_SIGNIN},
    {GH_POST, "/v1/magic-link", NULL, R_BODY, accounts_http_magic_link, GUARD_EMAIL},
    {GH_POST, "/v1/magic-link/verify", NULL, R_BODY | R_SIGNIN, accounts_http_magic_verify,
     GUARD_LINK},
    {GH_POST, "/v1/password/forgot", NULL, R_BODY, accounts_http_password_forgot, GUARD_EMAIL},
    {GH_POST, "/v1/password/reset", NULL, R_BODY | R_HASH, accounts_http_password_reset,
     GUARD_LINK},
    {GH_POST, "/v1/email/verify", NULL, R_BODY, accounts_http_email_verify, GUARD_LINK},
    {GH_POST, "/v1/email/verify/resend", NULL, R_AUTH | R_MFA_SETUP, accounts_http_email_resend,
     GUARD_NONE},
    {GH_POST, "/v1/email/change", NULL, R_AUTH | R_BODY | R_HASH, email_change_http_request,
     GUARD_NONE},
    {GH_POST, "/v1/email/change/confirm", NULL, R_BODY, email_change_http_confirm, GUARD_LINK},
    {GH_POST, "/v1/signin/mfa", NULL, R_BODY | R_SIGNIN, accounts_http_signin_mfa, GUARD_MFA},
    {GH_POST, "/v1/mfa/totp", NULL, R_AUTH | R_MFA_SETUP, mfa_http_totp_begin, GUARD_NONE},
    {GH_POST, "/v1/mfa/totp/confirm", NULL, R_AUTH | R_BODY | R_HASH | R_MFA_SETUP,
     mfa_http_totp_confirm, GUARD_NONE},
    {GH_DELETE, "/v1/mfa/totp", NULL, R_AUTH | R_BODY | R_HASH, mfa_http_totp_delete, GUARD_NONE},
    {GH_POST, "/v1/mfa/step-up", NULL, R_AUTH | R_BODY, mfa_http_step_up, GUARD_NONE},
    {GH_POST, "/v1/mfa/backup-codes", NULL, R_AUTH | R_BODY | R_HASH, mfa_http_backup_codes,
     GUARD_NONE},
    {GH_POST, "/v1/token", NULL, R_BODY, sessions_http_token, GUARD_REFRESH},
    {GH_POST, "/v1/signout", NULL, R_AUTH | R_MFA_SETUP, sessions_http_signout, GUARD_NONE},
    {GH_GET, "/v1/me", NULL, R_AUTH | R_LOOP, accounts_http_me, GUARD_NONE},
    /* Every method (R_GATE): a proxy may forward the original one. */
    {GH_GET, "/v1/verify", NULL, R_GATE | R_LOOP, gate_http_verify, GUARD_VERIFY},
    {GH_GET, "/v1/sessions", NULL, R_AUTH, sessions_http_list, GUARD_NONE},
    {GH_POST, "/v1/sessions/revoke-others", NULL, R_AUTH, sessions_http_revoke_others, GUARD_NONE},
    {GH_DELETE, "/v1/sessions/*", "/v1/sessions/{id}", R_AUTH, sessions_http_revoke, GUARD_NONE},
    {GH_GET, "/v1/identities", NULL, R_AUTH, identities_http_list, GUARD_NONE},
    {GH_DELETE, "/v1/identities/*", "/v1/identities/{provider}", R_AUTH | R_BODY,
     identities_http_delete, GUARD_NONE},
    {GH_POST, "/v1/password", NULL, R_AUTH | R_BODY | R_HASH, accounts_http_password, GUARD_NONE},
    /* Sign-in with an identity provider (docs/api.md "Sign-in with a provider"):
     * the browser's flow runs on the network lane (R_NET: a provider may be
     * slow) and reads the session cookie (R_SIGNIN: a callback's sign-in ends
     * it; link=1 needs it); the form_post callback has no R_FORM, its state
     * is its CSRF defence (decision 0036). The native app's nonce
     * and token. All on the per-IP sign-in budget (GUARD_OAUTH). */
    {GH_GET, "/v1/oauth/*/start", "/v1/oauth/{provider}/start", R_PAGE | R_NET | R_SIGNIN,
     oauth_http_start, GUARD_OAUTH},
    {GH_GET, "/v1/oauth/*/callback", "/v1/oauth/{provider}/callback", R_PAGE | R_NET | R_SIGNIN,
     oauth_http_callback, GUARD_OAUTH},
    {GH_POST, "/v1/oauth/*/callback", "/v1/oauth/{provider}/callback",
     R_PAGE | R_NET | R_SIGNIN | R_BODY, oauth_http_callback, GUARD_OAUTH},
    {GH_POST, "/v1/oauth/*/nonce", "/v1/oauth/{provider}/nonce", 0, native_http_nonce, GUARD_OAUTH},
    {GH_POST, "/v1/oauth/*/token", "/v1/oauth/{provider}/token", R_BODY | R_NET | R_SIGNIN,
     native_http_token, GUARD_OAUTH},
    /* Pages (R_PAGE: HTML, forms, the page CSP): docs/api.md "Pages". */
    {GH_GET, "/assets/gatehouse.css", NULL, R_LOOP | R_CACHEABLE | R_PAGE, pages_http_stylesheet,
     GUARD_NONE},
    {GH_GET, "/assets/logo", NULL, R_LOOP | R_CACHEABLE | R_ASSET, pages_http_logo, GUARD_NONE},
    {GH_GET, "/denied", NULL, R_LOOP | R_PAGE, pages_http_denied, GUARD_NONE},
    {GH_GET, "/step-up", NULL, R_AUTH | R_PAGE, pages_http_step_up_form, GUARD_NONE},
    {GH_POST, "/step-up", NULL, R_AUTH | R_BODY | R_PAGE, pages_http_step_up, GUARD_NONE},
    {GH_GET, "/step-up/done", NULL, R_LOOP | R_PAGE, pages_http_stepped_up, GUARD_NONE},
    {GH_GET, "/signout", NULL, R_AUTH | R_MFA_SETUP | R_PAGE, pages_http_signout_form, GUARD_NONE},
    {GH_POST, "/signout", NULL, R_AUTH | R_BODY | R_MFA_SETUP | R_PAGE, pages_http_signout,
     GUARD_NONE},
    {GH_GET, "/signout/done", NULL, R_LOOP | R_PAGE, pages_http_signed_out, GUARD_NONE},
    /* Emailed links land here: the GET reads the link (spends nothing), the
     * POST spends it like its /v1 twin, on the same budget. */
    {GH_GET, "/magic-link", NULL, R_PAGE, link_pages_magic_form, GUARD_LINK},
    {GH_POST, "/magic-link", NULL, R_FORM | R_PAGE | R_BODY | R_SIGNIN, link_pages_magic,
     GUARD_LINK},
    {GH_GET, "/reset-password", NULL, R_PAGE, link_pages_reset_form, GUARD_LINK},
    {GH_POST, "/reset-password", NULL, R_FORM | R_PAGE | R_BODY | R_HASH, link_pages_reset,
     GUARD_LINK},
    {GH_GET, "/verify-email", NULL, R_PAGE, link_pages_verify_form, GUARD_LINK},
    {GH_POST, "/verify-email", NULL, R_FORM | R_PAGE | R_BODY | R_SIGNIN, link_pages_verify,
     GUARD_LINK},
    {GH_GET, "/verify-email/done", NULL, R_LOOP | R_PAGE, link_pages_verified, GUARD_NONE},
    {GH_GET, "/forgot-password", NULL, R_LOOP | R_PAGE, forgot_pages_form, GUARD_NONE},
    {GH_POST, "/forgot-password", NULL, R_FORM | R_PAGE | R_BODY, forgot_pages_send, GUARD_EMAIL},
    {GH_GET, "/forgot-password/sent", NULL, R_LOOP | R_PAGE, forgot_pages_sent, GUARD_NONE},
    /* Signing in and up (R_FORM: the pre-session form token); each POST has
     * its JSON twin's flags and budget. */
    {GH_GET, "/signin", NULL, R_LOOP | R_PAGE, signin_pages_form, GUARD_NONE},
    {GH_POST, "/signin", NULL, R_FORM | R_PAGE | R_BODY | R_HASH | R_SIGNIN, signin_pages_signin,
     GUARD_SIGNIN},
    {GH_GET, "/signin/mfa", NULL, R_LOOP | R_PAGE, signin_pages_mfa_form, GUARD_NONE},
    {GH_POST, "/signin/mfa", NULL, R_FORM | R_PAGE | R_BODY | R_SIGNIN, signin_pages_mfa,
     GUARD_MFA},
    {GH_POST, "/signin/magic-link", NULL, R_FORM | R_PAGE | R_BODY, signin_pages_magic_link,
     GUARD_EMAIL},
    {GH_GET, "/signin/check-email", NULL, R_LOOP | R_PAGE, signin_pages_check_email, GUARD_NONE},
    {GH_GET, "/signup", NULL, R_LOOP | R_PAGE, signin_pages_signup_form, GUARD_NONE},
    {GH_POST, "/signup", NULL, R_FORM | R_PAGE | R_BODY | R_HASH | R_SIGNIN, signin_pages_signup,
     GUARD_SIGNUP},
    {GH_GET, "/signup/check-email", NULL, R_LOOP | R_PAGE, signin_pages_signup_check_email,
     GUARD_NONE},
    /* The signed-in account (docs/api.md "Pages"): each calls its JSON twin's logic. */
    {GH_GET, "/account", NULL, R_AUTH | R_MFA_SETUP | R_PAGE, account_pages_show, GUARD_NONE},
    {GH_GET, "/signin/link", NULL, R_LOOP | R_PAGE, identity_pages_signin_link, GUARD_NONE},
    {GH_GET, "/account/link", NULL, R_AUTH | R_PAGE, identity_pages_link_form, GUARD_NONE},
    {GH_POST, "/account/link", NULL, R_AUTH | R_BODY | R_PAGE, identity_pages_link, GUARD_NONE},
    {GH_POST, "/account/identities/remove", NULL, R_AUTH | R_BODY | R_PAGE, identity_pages_remove,
     GUARD_NONE},
    {GH_POST, "/account/password", NULL, R_AUTH | R_BODY | R_HASH | R_PAGE, account_pages_password,
     GUARD_NONE},
    {GH_POST, "/account/resend-confirmation", NULL, R_AUTH | R_BODY | R_MFA_SETUP | R_PAGE,
     account_pages_resend, GUARD_NONE},
    {GH_GET, "/account/totp", NULL, R_AUTH | R_MFA_SETUP | R_PAGE, factor_pages_start_form,
     GUARD_NONE},
    {GH_POST, "/account/totp/start", NULL, R_AUTH | R_BODY | R_MFA_SETUP | R_PAGE,
     factor_pages_start, GUARD_NONE},
    {GH_GET, "/account/totp/confirm", NULL, R_AUTH | R_MFA_SETUP | R_PAGE,
     factor_pages_confirm_form, GUARD_NONE},
    {GH_POST, "/account/totp/confirm", NULL, R_AUTH | R_BODY | R_HASH | R_MFA_SETUP | R_PAGE,
     factor_pages_confirm, GUARD_NONE},
    {GH_POST, "/account/backup-codes", NULL, R_AUTH | R_BODY | R_HASH | R_PAGE,
     factor_pages_backup_codes, GUARD_NONE},
    {GH_POST, "/account/totp/remove", NULL, R_AUTH | R_BODY | R_HASH | R_PAGE, factor_pages_remove,
     GUARD_NONE},
    {GH_GET, "/account/sessions", NULL, R_AUTH | R_PAGE, sessions_pages_list, GUARD_NONE},
    {GH_POST, "/account/sessions/revoke", NULL, R_AUTH | R_BODY | R_PAGE, sessions_pages_revoke,
     GUARD_NONE},
    {GH_POST, "/account/sessions/revoke-others", NULL, R_AUTH | R_BODY | R_PAGE,
     sessions_pages_revoke_others, GUARD_NONE},
    {GH_GET, "/account/email", NULL, R_AUTH | R_PAGE, email_pages_form, GUARD_NONE},
    {GH_POST, "/account/email", NULL, R_AUTH | R_BODY | R_HASH | R_PAGE, email_pages_request,
     GUARD_NONE},
    {GH_GET, "/account/email/sent", NULL, R_LOOP | R_PAGE, email_pages_sent, GUARD_NONE},
    /* The emailed link's landing: the GET reads it, only the POST spends it. */
    {GH_GET, "/email-change", NULL, R_PAGE, email_pages_landing, GUARD_LINK},
    {GH_POST, "/email-change", NULL, R_FORM | R_BODY | R_SIGNIN | R_PAGE, email_pages_confirm,
     GUARD_LINK},
    {GH_GET, "/email-change/done", NULL, R_LOOP | R_PAGE, email_pages_done, GUARD_NONE},
};

const size_t gh_routes_count = sizeof gh_routes / sizeof gh_routes[0];

/* A path segment a route's "*" may stand for: never empty, never "." or
 * "..", no "/", no escapes. */
static bool segment_ok(const char *s, size_t n)
{
    if (n == 0 || n > GH_PARAM_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

bool gh_route_path_match(const char *pattern, const char *path, char param[GH_PARAM_MAX + 1])
{
    const char *star = strchr(pattern, '*');
    if (!star) return strcmp(pattern, path) == 0;
    size_t pre = (size_t)(star - pattern);
    const char *suffix = star + 1;
    if (strchr(suffix, '*') || strncmp(path, pattern, pre) != 0) return false;
    const char *seg = path + pre;
    size_t n = strcspn(seg, "/");
    if (!segment_ok(seg, n) || strcmp(seg + n, suffix) != 0) return false;
    memcpy(param, seg, n);
    param[n] = '\0';
    return true;
}
