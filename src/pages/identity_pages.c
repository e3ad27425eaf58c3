#include "pages/identity_pages.h"

#include <stdio.h>
#include <string.h>

#include "accounts/accounts_http.h"
#include "core/config.h"
#include "core/util.h"
#include "federation/federated.h"
#include "federation/identities_http.h"
#include "federation/pending_link.h"
#include "federation/providers.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"

const char IDENTITY_SIGNIN_LINK_PAGE[] =
    "<h1>Sign in to link your {{display}} account</h1>\n"
    "<p class=\"lead\">To use {{display}} here, sign in to your account once to link it. If you "
    "have no account yet, your {{display}} email address must be verified.</p>\n"
    "<p class=\"actions\"><a class=\"button\" href=\"{{signin}}\">Sign in</a></p>\n";

const char IDENTITY_LINK_PAGE[] =
    "<h1>Link {{display}}?</h1>\n"
    "{{^unverified}}<p class=\"lead\">You can then sign in to this account with {{display}} as "
    "<strong>{{email}}</strong>.</p>\n"
    "<form method=\"post\" action=\"{{base}}/account/link\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<button type=\"submit\">Link account</button>\n"
    "</form>\n{{/unverified}}"
    "{{#unverified}}<p class=\"alert\" role=\"alert\">{{display}} has not verified the address "
    "<strong>{{email}}</strong>, so it cannot be linked to your account. Verify it with "
    "{{display}}, then try again.</p>\n{{/unverified}}"
    "<p class=\"links\"><a href=\"{{base}}/account\">Back to your account</a></p>\n";

const char IDENTITY_METHODS_SECTION[] =
    "<section aria-labelledby=\"methods-heading\">\n"
    "<h2 id=\"methods-heading\">Sign-in methods</h2>\n"
    "<ul>\n"
    "{{#has_pw}}<li>Password</li>\n{{/has_pw}}"
    "{{#email_links}}<li>Links emailed to your address</li>\n{{/email_links}}"
    "{{{rows}}}</ul>\n"
    "{{#links}}<p class=\"links\">{{{links}}}</p>\n{{/links}}"
    "</section>\n";

const char IDENTITY_METHODS_ROW[] =
    "<li>{{display}}{{#email}} <span class=\"muted\">{{email}}</span>{{/email}} <form "
    "class=\"inline\" method=\"post\" action=\"{{action}}\"><input type=\"hidden\" name=\"csrf\" "
    "value=\"{{csrf}}\"><input type=\"hidden\" name=\"provider\" value=\"{{provider}}\"><input "
    "type=\"hidden\" name=\"subject\" value=\"{{subject}}\"><button type=\"submit\" "
    "class=\"secondary\" aria-label=\"Remove {{display}}\">Remove</button></form></li>\n";

const char IDENTITY_METHODS_LINK[] = "<a href=\"{{href}}\">Link {{display}}</a> ";

/* The words naming a provider: its display name, or its name when it is
 * no longer configured. */
static const char *display_of(const char *provider)
{
    const struct fed_provider *p = fed_provider_find(provider);
    return p && p->display[0] ? p->display : provider;
}

void identity_pages_signin_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    (void)ops;
    (void)c;
    char provider[FED_NAME_MAX + 1], to[REDIRECT_OUT_MAX];
    struct fed_claims cl;
    bool pending = fed_pending_get(r, provider, &cl);
    gh_wipe(&cl, sizeof cl); /* only the provider is shown */
    if (!pending) {
        pages_url(to, "/signin");
        pages_see_other(r, to);
        return;
    }
    char here[REDIRECT_OUT_MAX], signin[4 * REDIRECT_OUT_MAX];
    pages_url(here, "/account/link");
    pages_url_rd(signin, sizeof signin, "/signin", here);
    const struct page_var v[] = {{"display", display_of(provider)}, {"signin", signin}};
    char title[128];
    snprintf(title, sizeof title, "Sign in to link your %s account", display_of(provider));
    pages_send(r, 200, title, IDENTITY_SIGNIN_LINK_PAGE, v, 2);
}

/* Linking proves the account by a recent sign-in: the session must have
 * started within GATEHOUSE_REAUTH_WINDOW (the person just signed in on
 * /signin?rd=/account/link), as enrolling a factor without a password.
 * 1 recent, 0 not (r's reply: the "sign in to link" page, status), -1 r's
 * reply is set (a failure). */
static int recent_signin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                         const char *provider, int status)
{
    struct store_session s;
    enum gh_err rc = ops->sessions.get(c, r->ident.session_id, &s);
    if (rc) {
        gh_reply_fail(r, rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc);
        return -1;
    }
    if (gh_now_s() - s.created_at <= gh_cfg.reauth_window) return 1;
    char here[REDIRECT_OUT_MAX], signin[4 * REDIRECT_OUT_MAX], title[128];
    pages_url(here, "/account/link");
    pages_url_rd(signin, sizeof signin, "/signin", here);
    const struct page_var v[] = {{"display", display_of(provider)}, {"signin", signin}};
    snprintf(title, sizeof title, "Sign in to link your %s account", display_of(provider));
    pages_send(r, status, title, IDENTITY_SIGNIN_LINK_PAGE, v, 2);
    if (status != 200) r->error_code = "reauth_required";
    return 0;
}

void identity_pages_link_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char provider[FED_NAME_MAX + 1], to[REDIRECT_OUT_MAX], csrf[COOKIE_CSRF_LEN + 1];
    struct fed_claims cl;
    if (!fed_pending_get(r, provider, &cl)) {
        pages_url(to, "/account");
        pages_see_other(r, to);
        return;
    }
    if (recent_signin(r, ops, c, provider, 200) != 1) {
        gh_wipe(&cl, sizeof cl);
        return;
    }
    if (pages_session_csrf(r, csrf)) {
        const char *d = display_of(provider);
        const struct page_var v[] = {{"display", d},
                                     {"email", cl.email},
                                     {"csrf", csrf},
                                     {"unverified", cl.email_verified ? "" : "1"}};
        char title[96];
        snprintf(title, sizeof title, "Link %s?", d);
        pages_send(r, cl.email_verified ? 200 : 403, title, IDENTITY_LINK_PAGE, v, 4);
        if (!cl.email_verified) r->error_code = "forbidden";
    }
    gh_wipe(csrf, sizeof csrf);
    gh_wipe(&cl, sizeof cl);
}

/* A link refused: the error page with our own words (403). */
static void link_refused(struct gh_req *r, const char *message)
{
    const struct page_var v[] = {{"heading", "This account cannot be linked"},
                                 {"message", message},
                                 {"wait", ""},
                                 {"signin", ""},
                                 {"request_id", ""}};
    pages_send(r, 403, "This account cannot be linked", PAGES_ERROR, v, 5);
    r->error_code = "forbidden";
}

void identity_pages_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const struct gh_field *none = NULL;
    if (gh_body_fields(r, none, 0)) return;
    char provider[FED_NAME_MAX + 1], to[REDIRECT_OUT_MAX];
    struct fed_claims cl;
    if (!fed_pending_get(r, provider, &cl)) { /* expired meanwhile: nothing to link */
        pages_url(to, "/account");
        pages_see_other(r, to);
        return;
    }
    if (recent_signin(r, ops, c, provider, 403) != 1) { /* the pending link stays */
        gh_wipe(&cl, sizeof cl);
        return;
    }
    struct accounts_req in;
    struct store_audit base;
    enum gh_err rc = federated_link(ops, c, accounts_http_request(r, &in, &base, false),
                                    r->ident.user_id, provider, &cl);
    gh_wipe(&cl, sizeof cl);
    char msg[200];
    if (!fed_pending_clear(r)) return; /* used or refused: the pending link ends either way */
    if (rc == GH_OK) {
        pages_url(to, "/account?linked=1");
        pages_see_other(r, to);
    } else if (rc == GH_ERR_DENIED) {
        snprintf(msg, sizeof msg,
                 "%s has not verified this email address, so it cannot be linked to your "
                 "account.",
                 display_of(provider));
        link_refused(r, msg);
    } else if (rc == GH_ERR_CONFLICT) {
        snprintf(msg, sizeof msg, "This %s account is already linked to another account.",
                 display_of(provider));
        link_refused(r, msg);
    } else {
        gh_reply_fail(r, rc);
    }
}

void identity_pages_remove(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *provider = NULL, *subject = NULL;
    size_t plen = 0, slen = 0;
    const struct gh_field f[] = {{"provider", false, &provider, &plen},
                                 {"subject", false, &subject, &slen}};
    if (gh_body_fields(r, f, 2)) return;
    if (!provider || !plen || !federated_provider_name_ok(provider)) {
        gh_fail_msg(r, GH_E_MISSING_FIELD, "Choose the sign-in method to remove.");
        return;
    }
    identities_http_unlink(r, ops, c, provider, subject && slen ? subject : NULL);
    if (r->status != 204) return; /* pages_http_error makes the error a page */
    char to[REDIRECT_OUT_MAX];
    pages_url(to, "/account?unlinked=1");
    pages_see_other(r, to);
}

/* One row per linked identity, with its Remove form. */
static enum gh_err identity_rows(const struct store_identity *ids, size_t n, const char *csrf,
                                 struct page_buf *rows)
{
    char action[REDIRECT_OUT_MAX];
    pages_url(action, "/account/identities/remove");
    enum gh_err rc = GH_OK;
    for (size_t i = 0; rc == GH_OK && i < n; i++) {
        const struct page_var v[] = {{"display", display_of(ids[i].provider)},
                                     {"email", ids[i].email},
                                     {"action", action},
                                     {"csrf", csrf},
                                     {"provider", ids[i].provider},
                                     {"subject", ids[i].subject}};
        rc = page_fill(rows, IDENTITY_METHODS_ROW, v, 6);
    }
    return rc;
}

/* "Link <Display>" for each configured provider the account has none of. */
static enum gh_err provider_links(const struct store_identity *ids, size_t n,
                                  struct page_buf *links)
{
    enum gh_err rc = GH_OK;
    for (size_t i = 0; rc == GH_OK && i < fed_provider_count(); i++) {
        const struct fed_provider *p = fed_provider_at(i);
        bool linked = false;
        for (size_t k = 0; !linked && k < n; k++)
            linked = strcmp(ids[k].provider, p->name) == 0;
        if (linked) continue;
        char path[128], href[REDIRECT_OUT_MAX];
        snprintf(path, sizeof path, "/v1/oauth/%s/start?link=1&rd=/account", p->name);
        pages_url(href, path);
        const struct page_var v[] = {{"display", p->display[0] ? p->display : p->name},
                                     {"href", href}};
        rc = page_fill(links, IDENTITY_METHODS_LINK, v, 2);
    }
    return rc;
}

enum gh_err identity_pages_section(struct gh_req *r, const struct store_ops *ops,
                                   struct store_conn *c, bool has_pw, bool verified,
                                   const char *csrf, struct page_buf *out)
{
    struct store_identity ids[IDENTITIES_LIST_MAX];
    size_t n = 0;
    enum gh_err rc = ops->identities.list(c, r->ident.user_id, ids, IDENTITIES_LIST_MAX, &n);
    if (rc) return rc;
    struct page_buf rows = {0}, links = {0};
    rc = identity_rows(ids, n, csrf, &rows);
    if (rc == GH_OK) rc = provider_links(ids, n, &links);
    if (rc == GH_OK) {
        const struct page_var v[] = {{"has_pw", has_pw ? "1" : ""},
                                     {"email_links", verified ? "1" : ""},
                                     {"rows", rows.data ? rows.data : ""},
                                     {"links", links.data ? links.data : ""}};
        rc = page_fill(out, IDENTITY_METHODS_SECTION, v, 4);
    }
    if (rows.data) gh_wipe(rows.data, rows.len); /* holds the CSRF token */
    page_buf_free(&rows);
    page_buf_free(&links);
    return rc;
}

const char *identity_pages_notice(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c, char *out, size_t cap)
{
    char v[4];
    if (pages_query_param(r, "unlinked", v, sizeof v) && strcmp(v, "1") == 0) {
        snprintf(out, cap, "The sign-in method was removed.");
        return out;
    }
    if (!pages_query_param(r, "linked", v, sizeof v) || strcmp(v, "1") != 0) return NULL;
    struct store_identity ids[IDENTITIES_LIST_MAX];
    size_t n = 0;
    if (ops->identities.list(c, r->ident.user_id, ids, IDENTITIES_LIST_MAX, &n) != GH_OK || !n)
        return NULL;
    size_t newest = 0; /* oldest first: the last one, or the latest created */
    for (size_t i = 1; i < n; i++)
        if (ids[i].created_at >= ids[newest].created_at) newest = i;
    snprintf(out, cap, "Your %s account is linked.", display_of(ids[newest].provider));
    return out;
}

bool identity_pages_signup_closed(struct gh_req *r)
{
    if (!gh_cfg.signup_closed) return false;
    gh_fail_msg(r, GH_E_SIGNUP_CLOSED,
                "New accounts cannot be created here. If you already have an account, sign in.");
    return true;
}
