#include "pages/pages_http.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "http/reqparse.h"
#include "mfa/mfa.h"
#include "guard/guard.h"
#include "mfa/stepup.h"
#include "pages/pages.h"
#include "pages/pages_config.h"
#include "pages/pages_reply.h"
#include "sessions/sessions.h"

void pages_http_stylesheet(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    size_t n;
    const char *css = pages_stylesheet(&n);
    char *copy = malloc(n + 1);
    if (!copy) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    memcpy(copy, css, n + 1);
    gh_reply_body(r, 200, "text/css; charset=utf-8", copy, n);
}

/* The step-up form, with error ("" for none) shown and announced. */
static void step_up_form(struct gh_req *r, int status, const char *error, const char *rd)
{
    char csrf[COOKIE_CSRF_LEN + 1];
    if (!pages_session_csrf(r, csrf)) return;
    const struct page_var v[] = {{"error", error}, {"csrf", csrf}, {"rd", rd}};
    pages_send(r, status, "Confirm it's you", PAGES_STEP_UP, v, 3);
    gh_wipe(csrf, sizeof csrf);
}

void pages_http_step_up_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    bool on = false;
    enum gh_err rc = mfa_enabled(ops, c, r->ident.user_id, &on);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    if (!on) {
        gh_fail(r, GH_E_MFA_NOT_ENABLED);
        return;
    }
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    step_up_form(r, 200, "", rd);
}

void pages_http_step_up(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *code = NULL, *rdv = NULL;
    size_t code_len = 0, rd_len = 0;
    const struct gh_field f[] = {{"code", false, &code, &code_len}, {"rd", false, &rdv, &rd_len}};
    if (gh_body_fields(r, f, 2)) return;
    char rd[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    if (!code || code_len == 0) {
        step_up_form(r, 422, "Enter the code.", rd);
        r->error_code = "missing_field";
        return;
    }
    struct store_audit base;
    struct limit_result lim;
    enum mfa_stepup_outcome o;
    int64_t at;
    enum gh_err rc = mfa_step_up(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                 r->ident.user_id, r->ident.session_id, code, &o, &at, &lim);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    switch (o) {
    case MFA_STEPUP_OK: {
        char done[REDIRECT_OUT_MAX];
        pages_url(done, "/step-up/done");
        pages_see_other(r, rd[0] ? rd : done);
        break;
    }
    case MFA_STEPUP_WRONG:
        step_up_form(r, 422,
                     "That code is not valid. Enter the current code from your authenticator "
                     "app, or an unused backup code.",
                     rd);
        r->error_code = "code_mismatch"; /* for the request log */
        break;
    case MFA_STEPUP_LIMITED:
        gh_reply_limited(r, LIMIT_MFA_ACCOUNT, &lim);
        break;
    case MFA_STEPUP_NO_FACTOR:
        gh_fail(r, GH_E_MFA_NOT_ENABLED);
        break;
    case MFA_STEPUP_SESSION_GONE:
        r->clear_cookies = r->cookie_auth;
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This session has ended; sign in again.");
        break;
    }
}

void pages_http_stepped_up(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    pages_send(r, 200, "Confirmed", PAGES_STEPPED_UP, NULL, 0);
}

void pages_http_signout_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    char rd[REDIRECT_OUT_MAX], csrf[COOKIE_CSRF_LEN + 1];
    pages_rd(r, rd);
    if (!pages_session_csrf(r, csrf)) return;
    const struct page_var v[] = {{"csrf", csrf}, {"rd", rd}};
    pages_send(r, 200, "Sign out", PAGES_SIGN_OUT, v, 2);
    gh_wipe(csrf, sizeof csrf);
}

void pages_http_signout(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *rdv = NULL;
    size_t rd_len = 0;
    const struct gh_field f[] = {{"rd", false, &rdv, &rd_len}};
    if (gh_body_fields(r, f, 1)) return;
    struct store_audit base;
    enum gh_err rc = sessions_signout(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                      r->ident.user_id, r->ident.session_id);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    if (r->cookie_auth) r->clear_cookies = true;
    char rd[REDIRECT_OUT_MAX], done[REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    pages_url(done, "/signout/done");
    pages_see_other(r, rd[0] ? rd : done);
}

void pages_http_signed_out(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    char signin[2048];
    pages_signin_link(signin, sizeof signin, NULL);
    const struct page_var v[] = {{"signin", signin}};
    pages_send(r, 200, "Signed out", PAGES_SIGNED_OUT, v, 1);
}

void pages_http_logo(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    size_t n;
    const char *type;
    const unsigned char *logo = pages_assets_logo(&n, &type);
    if (!logo) {
        gh_fail(r, GH_E_NOT_FOUND);
        return;
    }
    char *copy = malloc(n);
    if (!copy) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    memcpy(copy, logo, n);
    gh_reply_body(r, 200, type, copy, n);
}

void pages_http_denied(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    char rd[REDIRECT_OUT_MAX], signout[4 * REDIRECT_OUT_MAX];
    pages_rd(r, rd);
    r->form_origin[0] = '\0'; /* links only: no form leads to rd */
    pages_url_rd(signout, sizeof signout, "/signout", rd);
    const struct page_var v[] = {{"back", rd}, {"signout", signout}};
    pages_send(r, 403, "You don't have access", PAGES_DENIED, v, 2);
}

/* No route of ours: logged as "unmatched" like any other miss. */
static const struct gh_route not_found_route = {GH_GET, "/*", "unmatched",
                                                R_PAGE, NULL, GUARD_NONE};

const struct gh_route *pages_not_found_route(int method, const char *path, const char *accept)
{
    if (method != GH_GET || !path || !accept || !strstr(accept, "text/html")) return NULL;
    if (strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0 ||
        strncmp(path, "/.well-known/", 13) == 0)
        return NULL;
    return &not_found_route;
}

/* What an error page says: a heading and, for some codes, our own calm
 * words (the table's message otherwise). */
static const char *error_heading(const char *code, int status, const char **message)
{
    static const struct {
        const char *code, *heading, *message;
    } words[] = {
        {"token_expired", "This link has expired or was already used",
         "Links we email work once and for a short time. Ask for a new one."},
        {"csrf_failed", "Please try again",
         "This form could not be checked: it may have expired or come from another site. Go "
         "back, reload the page and try again."},
        {"mfa_not_enabled", "No second factor",
         "Your account has no authenticator app or backup codes to confirm with. Set one up "
         "first."},
        {"reauth_required", "Sign in again", "For your safety, sign in again to do this."},
        {"forbidden", "You don't have access", "Your account may not open this page."},
        {"signup_closed", "Sign-up is closed",
         "New accounts cannot be created here. If you already have an account, sign in."},
        {"not_found", "Page not found",
         "There is no page at this address. Check the link, or go back."},
        {"rate_limited", "Too many attempts", "You have tried this too many times."},
        {"rate_limiter_unavailable", "Please try again shortly",
         "Part of the service is unavailable, so nothing was attempted."},
        {"internal_error", "Something went wrong",
         "Something went wrong on our side and nothing was changed. Please try again."},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(code, words[i].code) == 0) {
            *message = words[i].message;
            return words[i].heading;
        }
    if (status == 401) {
        *message = "Sign in first, then come back to this page.";
        return "You are not signed in";
    }
    if (status == 429) return "Too many attempts";
    if (status == 403) return "You don't have access";
    if (status >= 500) return "Please try again shortly";
    return "This did not work";
}

/* Where a 401 page's sign-in link brings the person back to: the checked
 * rd when the request names one (a refused one: nowhere), else, on a GET,
 * this page of ours (its path only: a query may hold a link's token). */
static void return_here(struct gh_req *r, char rd[REDIRECT_OUT_MAX])
{
    pages_rd(r, rd);
    bool named = rd[0] || strstr(r->query, "rd=") || (r->body && json_object_get(r->body, "rd"));
    if (named || r->method != GH_GET || !r->route || strchr(r->route->path, '*')) return;
    char here[REDIRECT_OUT_MAX];
    pages_url(here, r->route->path);
    pages_return_url(here, strlen(here), rd);
}

void pages_http_error(struct gh_req *r)
{
    const char *code = r->error_code;
    int status = r->status;
    json_t *m = json_object_get(json_object_get(r->resp, "error"), "message");
    const char *message = json_is_string(m) ? json_string_value(m) : "";
    const char *heading = error_heading(code, status, &message);
    char signin[2048] = "", rd[REDIRECT_OUT_MAX], wait[64] = "";
    if (status == 401) {
        return_here(r, rd);
        pages_signin_link(signin, sizeof signin, rd);
    }
    /* The wait Retry-After will name (http_finish), in words. */
    if (r->rl_name && (r->rl.unavailable || !r->rl.allowed) && (status == 429 || status == 503))
        pages_wait_words(r->rl.retry_after_s, wait, sizeof wait);
    const struct page_var v[] = {{"heading", heading},
                                 {"message", message},
                                 {"wait", wait},
                                 {"signin", signin},
                                 {"request_id", status >= 500 ? r->request_id : ""}};
    struct page_buf b = {0};
    if (pages_render(&b, heading, PAGES_ERROR, v, 5) != GH_OK) {
        page_buf_free(&b);
        return; /* the JSON reply stays */
    }
    gh_reply_body(r, status, PAGES_HTML, b.data, b.len);
    r->form_origin[0] = '\0'; /* an error page has no form */
    r->error_code = code;     /* the log names the error as for the API */
}
