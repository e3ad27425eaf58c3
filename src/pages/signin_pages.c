#include "pages/signin_pages.h"

#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "accounts/accounts_http.h"
#include "accounts/email.h"
#include "accounts/link_mail.h"
#include "accounts/signin.h"
#include "accounts/signup.h"
#include "core/config.h"
#include "core/util.h"
#include "federation/providers.h"
#include "mfa/mfa.h"
#include "pages/form_token.h"
#include "pages/identity_pages.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"
#include "sessions/cookie.h"

_Static_assert(GH_MFA_COOKIE_LEN == MFA_TOKEN_LEN, "r->mfa_cookie holds one mfa_token");

const char *pages_mfa_cookie_name(void)
{
    return cookie_secure() ? "__Host-gh_mfa" : "gh_mfa";
}

/* ---- shared steps ---- */

/* Percent-encodes s for a query value (RFC 3986 unreserved kept). false
 * when it does not fit. */
static bool pct_encode(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    return gh_pct_append(out, cap, &o, s, NULL);
}

/* The checked rd, percent-encoded for a link's query ("" when none or it
 * does not fit: the link then simply goes without it). */
static void rd_query(char out[3 * REDIRECT_OUT_MAX], const char *rd)
{
    if (!rd[0] || !pct_encode(out, 3 * REDIRECT_OUT_MAX, rd)) out[0] = '\0';
}

/* A Location header holds at most this much (gh_reply_header_ok). */
#define LOCATION_MAX 1023

/* Our page at path, with ?rd=<checked rd> when there is one and the whole
 * still fits a Location header (else without it). */
static void page_url_rd(char out[REDIRECT_OUT_MAX], const char *path, const char *rd)
{
    char q[3 * REDIRECT_OUT_MAX], p[REDIRECT_OUT_MAX];
    rd_query(q, rd);
    int n = snprintf(p, sizeof p, "%s%s%s", path, q[0] ? "?rd=" : "", q);
    if (n > 0 && (size_t)n < sizeof p) {
        pages_url(out, p);
        if (strlen(out) <= LOCATION_MAX) return;
    }
    pages_url(out, path);
}

/* "2 minutes", "30 seconds", "3 hours": a wait in words, rounded up. */
static void wait_words(char *out, size_t cap, int64_t s)
{
    if (s < 1) s = 1;
    if (s < 60) {
        snprintf(out, cap, "%lld second%s", (long long)s, s == 1 ? "" : "s");
        return;
    }
    int64_t m = (s + 59) / 60;
    if (m < 120) {
        snprintf(out, cap, "%lld minute%s", (long long)m, m == 1 ? "" : "s");
        return;
    }
    int64_t h = (m + 59) / 60;
    snprintf(out, cap, "%lld hours", (long long)h);
}

/* Pages that sign in need cookie mode: without it (an http public URL
 * that is not loopback development) they say so instead of showing a form
 * that cannot work. true: r's reply is that page. */
static bool cookie_mode_missing(struct gh_req *r)
{
    if (cookie_available()) return false;
    const struct page_var v[] = {
        {"heading", "Sign-in is not available here"},
        {"message", "This server cannot keep you signed in: browsers only keep its session "
                    "cookie over https. The operator must set GATEHOUSE_PUBLIC_URL to the https "
                    "address people use (or, for development on this machine only, set "
                    "GATEHOUSE_INSECURE_DEV_COOKIES=on with a loopback http address)."},
        {"signin", ""},
        {"wait", ""},
        {"request_id", ""}};
    pages_send(r, 400, "Sign-in is not available here", PAGES_ERROR, v, 5);
    r->error_code = "cookie_mode_unavailable";
    return true;
}

/* The "signed in" path's reply on a page: the session cookie (and its
 * CSRF cookie: http_finish sets both), then 303 to rd or /account; a
 * session that may only enrol a second factor goes to /account/totp. */
static void signed_in(struct gh_req *r, const struct accounts_result *res, const char *rd)
{
    gh_wipe(r->token, sizeof r->token); /* its session has ended (signin_session_start) */
    r->token_len = 0;
    r->authed = true; /* for the log line */
    snprintf(r->ident.user_id, sizeof r->ident.user_id, "%s", res->u.id);
    memcpy(r->ident.session_id, res->pair.session_id, sizeof r->ident.session_id);
    memcpy(r->set_session, res->pair.refresh, sizeof r->set_session);
    char to[REDIRECT_OUT_MAX];
    if (res->restricted)
        pages_url(to, "/account/totp");
    else if (rd[0] && strlen(rd) <= LOCATION_MAX)
        snprintf(to, sizeof to, "%s", rd);
    else
        pages_url(to, "/account");
    pages_see_other(r, to);
}

/* The fields of a sign-in or sign-up form (all optional: a missing one is
 * shown on the form, not as an error page). false: r's reply is set
 * (422: an unknown field). */
static bool form_fields(struct gh_req *r, const char **email, size_t *email_len, const char **pw,
                        size_t *pw_len)
{
    const char *rdv = NULL;
    size_t rd_len = 0;
    *email = *pw = NULL;
    *email_len = *pw_len = 0;
    const struct gh_field f[] = {{"email", false, email, email_len},
                                 {"password", false, pw, pw_len},
                                 {"rd", false, &rdv, &rd_len}};
    return gh_body_fields(r, f, 3) == GH_OK;
}

/* The buttons of the configured identity providers, each a link to
 * /v1/oauth/<name>/start keeping the checked rd, rendered row by row from
 * PAGES_PROVIDER_BUTTON (heap, free(); NULL: none configured, or out of
 * memory: the page goes without them). */
static char *provider_buttons(const char *rd)
{
    struct page_buf b = {0};
    for (size_t i = 0; i < fed_provider_count(); i++) {
        const struct fed_provider *p = fed_provider_at(i);
        char path[64], href[2048];
        snprintf(path, sizeof path, "/v1/oauth/%s/start", p->name);
        pages_url_rd(href, sizeof href, path, rd);
        const struct page_var v[] = {{"href", href}, {"display", p->display}};
        if (page_fill(&b, PAGES_PROVIDER_BUTTON, v, 2) != GH_OK) {
            page_buf_free(&b);
            return NULL;
        }
    }
    return b.data;
}

/* ---- sign in ---- */

/* The sign-in page with its notice, error (on the password form) or
 * magic_error, the email typed kept; status and error code for the log. */
static void signin_page(struct gh_req *r, int status, const char *code, const char *notice,
                        const char *error, const char *magic_error, const char *email,
                        const char *rd)
{
    char csrf[PAGES_FORM_TOKEN_LEN + 1], rdq[3 * REDIRECT_OUT_MAX];
    if (!pages_form_token(r, csrf)) return;
    rd_query(rdq, rd);
    char *providers = provider_buttons(rd);
    const struct page_var v[] = {{"notice", notice},
                                 {"error", error},
                                 {"email", email},
                                 {"csrf", csrf},
                                 {"rd", rd},
                                 {"rdq", rdq},
                                 {"magic_error", magic_error},
                                 {"providers", providers}};
    pages_send(r, status, "Sign in", PAGES_SIGN_IN, v, sizeof v / sizeof v[0]);
    free(providers);
    gh_wipe(csrf, sizeof csrf);
    if (code) r->error_code = code;
}

void signin_pages_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    if (cookie_mode_missing(r)) return;
    char rd[REDIRECT_OUT_MAX], reset[8];
    pages_rd(r, rd);
    bool done = pages_query_param(r, "reset", reset, sizeof reset) && strcmp(reset, "done") == 0;
    signin_page(r, 200, NULL, done ? "Your password was changed. Sign in with the new one." : "",
                "", "", "", rd);
}

/* A lockout (or spent budget) on the form, with the wait in words; the
 * 429 keeps its Retry-After. Redis down (503): the error page stays. */
static void signin_locked(struct gh_req *r, int64_t retry_after, const char *email, const char *rd)
{
    gh_reply_locked(r, retry_after);
    if (r->status != 429) return;
    char wait[32], msg[160];
    wait_words(wait, sizeof wait, retry_after);
    snprintf(msg, sizeof msg, "Too many failed attempts for this address. Try again in %s.", wait);
    signin_page(r, 429, "rate_limited", "", msg, "", email, rd);
}

/* The mfa cookie: set to tok for the challenge's life, or expired (""). */
static bool mfa_cookie(struct gh_req *r, const char *tok)
{
    enum gh_err rc =
        gh_reply_cookie(r, pages_mfa_cookie_name(), tok, tok[0] ? MFA_CHALLENGE_TTL : 0);
    if (rc) gh_reply_fail(r, GH_ERR_INTERNAL);
    return rc == GH_OK;
}

bool signin_pages_signed_in(struct gh_req *r, const struct accounts_result *res, const char *rd)
{
    if (res->outcome == ACCOUNTS_SIGNED_IN) {
        signed_in(r, res, rd);
        return true;
    }
    if (res->outcome != ACCOUNTS_MFA_REQUIRED) return false;
    char to[REDIRECT_OUT_MAX];
    page_url_rd(to, "/signin/mfa", rd);
    if (mfa_cookie(r, res->mfa_token)) pages_see_other(r, to);
    return true;
}

void signin_pages_signin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *email, *pw;
    size_t email_len, pw_len;
    if (cookie_mode_missing(r) || !form_fields(r, &email, &email_len, &pw, &pw_len)) return;
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    const char *shown = email && email_len <= STORE_EMAIL_MAX ? email : "";
    if (!email || !email_len || !pw || !pw_len) {
        signin_page(r, 422, "missing_field", "", "Enter your email and password.", "", shown, rd);
        return;
    }
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = signin_password(ops, c, accounts_http_request(r, &in, &base, true), email,
                                     email_len, pw, pw_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (signin_pages_signed_in(r, &res, rd)) {
        /* in, or on to the second step */
    } else if (res.outcome == ACCOUNTS_BAD_CREDENTIALS) { /* unknown address alike */
        signin_page(r, 401, "invalid_credentials", "", "Incorrect email or password.", "", shown,
                    rd);
    } else if (res.outcome == ACCOUNTS_LOCKED) {
        signin_locked(r, res.retry_after, shown, rd);
    } else if (res.outcome == ACCOUNTS_NOT_VERIFIED) {
        signin_page(r, 403, "email_not_verified", "",
                    "Confirm your email address first: open the link we emailed you, then sign "
                    "in.",
                    "", shown, rd);
    } else {
        gh_reply_fail(r, GH_ERR_INTERNAL); /* no other outcome: never "in" by mistake */
    }
    accounts_result_clear(&res);
}

/* ---- the second factor ---- */

static void mfa_page(struct gh_req *r, int status, const char *code, const char *error,
                     const char *rd)
{
    char csrf[PAGES_FORM_TOKEN_LEN + 1], rdq[3 * REDIRECT_OUT_MAX];
    if (!pages_form_token(r, csrf)) return;
    rd_query(rdq, rd);
    const struct page_var v[] = {{"error", error}, {"csrf", csrf}, {"rd", rd}, {"rdq", rdq}};
    pages_send(r, status, "Two-step verification", PAGES_SIGN_IN_MFA, v, 4);
    gh_wipe(csrf, sizeof csrf);
    if (code) r->error_code = code;
}

void signin_pages_mfa_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    if (cookie_mode_missing(r)) return;
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    if (!r->mfa_cookie[0]) { /* no sign-in waiting for its second factor here */
        char to[REDIRECT_OUT_MAX];
        page_url_rd(to, "/signin", rd);
        pages_see_other(r, to);
        return;
    }
    mfa_page(r, 200, NULL, "", rd);
}

/* The step is over (expired, used, out of attempts, or the password
 * changed): its cookie goes, and the sign-in page says to start again. */
static void mfa_step_over(struct gh_req *r, const char *rd)
{
    if (!mfa_cookie(r, "")) return;
    signin_page(r, 401, "invalid_token", "",
                "This sign-in attempt expired or was already used. Sign in again.", "", "", rd);
}

void signin_pages_mfa(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *code = NULL, *rdv = NULL;
    size_t code_len = 0, rd_len = 0;
    const struct gh_field f[] = {{"code", false, &code, &code_len}, {"rd", false, &rdv, &rd_len}};
    if (cookie_mode_missing(r) || gh_body_fields(r, f, 2)) return;
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    if (!r->mfa_cookie[0]) {
        mfa_step_over(r, rd);
        return;
    }
    if (!code || code_len == 0) {
        mfa_page(r, 422, "missing_field", "Enter the code.", rd);
        return;
    }
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = signin_mfa(ops, c, accounts_http_request(r, &in, &base, true), r->mfa_cookie,
                                strlen(r->mfa_cookie), code, code_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (res.outcome == ACCOUNTS_SIGNED_IN) {
        if (mfa_cookie(r, "")) signed_in(r, &res, rd);
    } else if (res.outcome == ACCOUNTS_BAD_CODE) {
        mfa_page(r, 401, "invalid_code",
                 "That code is not valid. Enter the current code from your authenticator app, or "
                 "an unused backup code.",
                 rd);
    } else if (res.outcome == ACCOUNTS_LIMITED) {
        gh_reply_limited(r, LIMIT_MFA_ACCOUNT, &res.lim); /* the 429 page, with its wait */
    } else if (res.outcome == ACCOUNTS_STEP_INVALID || res.outcome == ACCOUNTS_STEP_GONE ||
               res.outcome == ACCOUNTS_STEP_USED || res.outcome == ACCOUNTS_BAD_CREDENTIALS) {
        mfa_step_over(r, rd);
    } else {
        gh_reply_fail(r, GH_ERR_INTERNAL);
    }
    accounts_result_clear(&res);
}

/* ---- magic link ---- */

void signin_pages_magic_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    const char *email = NULL;
    size_t email_len = 0;
    const struct gh_field f[] = {{"email", false, &email, &email_len}};
    if (cookie_mode_missing(r) || gh_body_fields(r, f, 1)) return;
    if (!email || email_len == 0) {
        char rd[REDIRECT_OUT_MAX];
        pages_rd(r, rd);
        signin_page(r, 422, "missing_field", "", "", "Enter your email address.", "", rd);
        return;
    }
    /* As POST /v1/magic-link: the same answer whether or not the address
     * is one, or has an account (the job decides, in the background). */
    char norm[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(email, email_len, norm, key) == GH_OK)
        link_mail_queue(norm, key, LINK_SIGNIN);
    char to[REDIRECT_OUT_MAX];
    pages_url(to, "/signin/check-email");
    pages_see_other(r, to);
}

void signin_pages_check_email(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    char msg[256], wait[32];
    wait_words(wait, sizeof wait, gh_cfg.magic_link_ttl);
    snprintf(msg, sizeof msg,
             "If an account exists for that address, we sent it a sign-in link. The link works "
             "once and expires in %s.",
             wait);
    const struct page_var v[] = {{"message", msg}, {"back", "Back to sign in"}};
    pages_send(r, 200, "Check your email", PAGES_CHECK_EMAIL, v, 2);
}

/* ---- sign up ---- */

/* The sign-up page; one of email_error, taken ("1") or password_error. */
static void signup_page(struct gh_req *r, int status, const char *code, const char *email_error,
                        const char *taken, const char *password_error, const char *email,
                        const char *rd)
{
    char csrf[PAGES_FORM_TOKEN_LEN + 1], rdq[3 * REDIRECT_OUT_MAX];
    if (!pages_form_token(r, csrf)) return;
    rd_query(rdq, rd);
    char *providers = provider_buttons(rd);
    const struct page_var v[] = {{"email_error", email_error},
                                 {"taken", taken},
                                 {"password_error", password_error},
                                 {"email", email},
                                 {"csrf", csrf},
                                 {"rd", rd},
                                 {"rdq", rdq},
                                 {"providers", providers}};
    pages_send(r, status, "Create your account", PAGES_SIGN_UP, v, sizeof v / sizeof v[0]);
    free(providers);
    gh_wipe(csrf, sizeof csrf);
    if (code) r->error_code = code;
}

void signin_pages_signup_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    if (cookie_mode_missing(r) || identity_pages_signup_closed(r)) return;
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    signup_page(r, 200, NULL, "", "", "", "", rd);
}

void signin_pages_signup(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *email, *pw;
    size_t email_len, pw_len;
    if (cookie_mode_missing(r) || identity_pages_signup_closed(r) ||
        !form_fields(r, &email, &email_len, &pw, &pw_len))
        return;
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    const char *shown = email && email_len <= STORE_EMAIL_MAX ? email : "";
    if (!email || !email_len) {
        signup_page(r, 422, "missing_field", "Enter your email address.", "", "", shown, rd);
        return;
    }
    if (!pw || !pw_len) {
        signup_page(r, 422, "missing_field", "", "", "Choose a password.", shown, rd);
        return;
    }
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    enum gh_err rc = signup_password(ops, c, accounts_http_request(r, &in, &base, true), email,
                                     email_len, pw, pw_len, &res);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (res.outcome == ACCOUNTS_SIGNED_IN) {
        signed_in(r, &res, rd);
    } else if (res.outcome == ACCOUNTS_VERIFY_PENDING) { /* the same, taken or not (0014) */
        char to[REDIRECT_OUT_MAX];
        pages_url(to, "/signup/check-email");
        pages_see_other(r, to);
    } else if (res.outcome == ACCOUNTS_INVALID_EMAIL) {
        signup_page(r, 422, "invalid_email", "Enter a valid email address, like name@example.com.",
                    "", "", shown, rd);
    } else if (res.outcome == ACCOUNTS_WEAK_PASSWORD) {
        signup_page(r, 422, "weak_password", "", "", res.reason, shown, rd);
    } else if (res.outcome == ACCOUNTS_EMAIL_TAKEN) { /* as the API: 409 (0014) */
        signup_page(r, 409, "email_taken", "", "1", "", shown, rd);
    } else {
        gh_reply_fail(r, GH_ERR_INTERNAL);
    }
    accounts_result_clear(&res);
}

void signin_pages_signup_check_email(struct gh_req *r, const struct store_ops *ops,
                                     struct store_conn *c)
{
    (void)ops;
    (void)c;
    const struct page_var v[] = {
        {"message", "We sent a message to the address you gave. Open the link in it to confirm "
                    "your address, then sign in."},
        {"back", "Go to sign in"}};
    pages_send(r, 200, "Check your email", PAGES_CHECK_EMAIL, v, 2);
}
