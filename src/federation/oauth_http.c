#include "federation/oauth_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "accounts/signin_reply.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "federation/federated.h"
#include "federation/oidc.h"
#include "federation/pending_link.h"
#include "federation/state_cookie.h"
#include "http/reqparse.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"
#include "pages/signin_pages.h"
#include "sessions/cookie.h"
#include "sessions/sessions.h"

_Static_assert(STATE_COOKIE_VALUE_MAX <= GH_OAUTH_COOKIE_MAX, "r->oauth_cookie holds the cookie");
_Static_assert(STATE_COOKIE_PROVIDER_MAX == FED_NAME_MAX, "a provider name fits the cookie");

/* The authorization URL goes out in a Location header (gh_reply_header_ok). */
#define LOCATION_MAX 1023
#define APPLE_USER_MAX 4096 /* Apple's `user` form field: a small JSON object */

static const char OAUTH_ERROR_PAGE[] =
    "<h1>Sign-in with {{display}} didn't work</h1>\n"
    "<p role=\"alert\">{{message}}</p>\n"
    "<p class=\"links\"><a href=\"{{back}}\">{{back_words}}</a></p>\n"
    "{{#request_id}}<p class=\"muted\">If this keeps happening, tell the people who run this "
    "site and quote this reference: <code>{{request_id}}</code></p>\n{{/request_id}}";

void oauth_redirect_uri(const struct fed_provider *p, char out[REDIRECT_OUT_MAX])
{
    char path[64];
    snprintf(path, sizeof path, "/v1/oauth/%s/callback", p->name);
    pages_url(out, path);
}

/* The refusal page of provider p: status, the error table's code (for the
 * log line and the tests), and a sentence in plain words; back to the
 * sign-in page keeping rd (or to the account page for a link). */
static void error_page(struct gh_req *r, const struct fed_provider *p, int status, enum gh_error e,
                       const char *message, const char *rd, bool link)
{
    char back[3 * REDIRECT_OUT_MAX + 16], title[128];
    if (link)
        pages_url(back, "/account");
    else
        pages_url_rd(back, sizeof back, "/signin", rd);
    snprintf(title, sizeof title, "Sign-in with %s didn't work", p->display);
    const struct page_var v[] = {{"display", p->display},
                                 {"message", message},
                                 {"back", back},
                                 {"back_words", link ? "Back to your account" : "Back to sign in"},
                                 {"request_id", status >= 500 ? r->request_id : ""}};
    pages_send(r, status, title, OAUTH_ERROR_PAGE, v, sizeof v / sizeof v[0]);
    r->error_code = gh_error_row(e)->code;
}

/* A refused callback: the signin.failure row (provider and a reason word,
 * never a secret), then the page. */
static void refuse(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                   const struct fed_provider *p, int status, enum gh_error e, const char *reason,
                   const char *message, const char *rd, bool link)
{
    char details[160];
    struct store_audit base, ev;
    snprintf(details, sizeof details,
             "{\"method\":\"oidc\",\"provider\":\"%s\",\"reason\":\"%s\"%s}", p->name, reason,
             link ? ",\"link\":true" : "");
    const struct store_audit *b = gh_audit_event(r, &base, NULL, NULL, NULL, NULL);
    const char *actor = link && r->ident.user_id[0] ? r->ident.user_id : "anonymous";
    const struct store_audit *evp = audit_event(b, &ev, "signin.failure", actor, "", details);
    if (evp && audit_failure_append(ops, c, evp) != GH_OK)
        gh_log(GH_LOG_WARN, "request %s: the refused callback's audit row failed", r->request_id);
    error_page(r, p, status, e, message, rd, link);
}

/* Pages that sign in need cookie mode (as the sign-in page says). */
static bool cookie_mode_missing(struct gh_req *r)
{
    if (cookie_available()) return false;
    gh_fail(r, GH_E_COOKIE_MODE_UNAVAILABLE);
    return true;
}

/* The signed-in account of the session cookie r carries (R_SIGNIN read it)
 * into user_id; false when none is live. GH_ERR_* of the store in *rc. */
static bool session_user(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                         char user_id[STORE_ID_LEN + 1], enum gh_err *rc)
{
    bool found = false;
    struct authcache_identity id;
    memset(&id, 0, sizeof id);
    *rc = GH_OK;
    if (r->token_len == 0) return false;
    *rc = sessions_cookie_peek(ops, c, r->token, r->token_len, &found, &id);
    if (*rc || !found) return false;
    memcpy(user_id, id.user_id, STORE_ID_LEN + 1);
    return true;
}

/* Linking adds a way into the account that outlives a password change and
 * the revocation of every session: it needs a recent sign-in, as the
 * pending-link page does (GATEHOUSE_REAUTH_WINDOW). A stale or stolen
 * session cookie alone cannot link a provider identity. 1 recent, 0 not,
 * -1 a failure in *rc. */
static int session_recent(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                          enum gh_err *rc)
{
    struct authcache_identity id;
    struct store_session s;
    bool found = false;
    memset(&id, 0, sizeof id);
    *rc = sessions_cookie_peek(ops, c, r->token, r->token_len, &found, &id);
    if (*rc == GH_OK && !found) return 0;
    if (*rc == GH_OK) *rc = ops->sessions.get(c, id.session_id, &s);
    if (*rc == GH_ERR_NOT_FOUND)
        *rc = GH_OK;
    else if (*rc == GH_OK)
        return gh_now_s() - s.created_at <= gh_cfg.reauth_window;
    return *rc ? -1 : 0;
}

/* The row that makes a state single use on the server too (a copied
 * cookie replayed with its state finds it spent): SHA-256 of a label and
 * the state in the store's oauth_nonces, under a label no native nonce's
 * hash (SHA-256 of the bare nonce) can equal. */
static enum gh_err state_hash(const char *state, uint8_t h[GH_SHA256_BYTES])
{
    char buf[32 + STATE_COOKIE_RANDOM_LEN + 1];
    int n = snprintf(buf, sizeof buf, "gatehouse oauth state v1:%s", state);
    enum gh_err rc =
        n > 0 && (size_t)n < sizeof buf ? gh_sha256(h, buf, (size_t)n) : GH_ERR_INVALID;
    gh_wipe(buf, sizeof buf);
    return rc;
}

void oauth_http_start(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const struct fed_provider *p = fed_provider_find(r->param);
    if (!p) {
        gh_fail_msg(r, GH_E_NOT_FOUND, "No such identity provider.");
        return;
    }
    if (cookie_mode_missing(r)) return;
    char rd[REDIRECT_OUT_MAX], link[4], uid[STORE_ID_LEN + 1] = "";
    pages_rd(r, rd);
    bool want_link = pages_query_param(r, "link", link, sizeof link) && strcmp(link, "1") == 0;
    enum gh_err rc = GH_OK;
    if (want_link && !session_user(r, ops, c, uid, &rc)) {
        if (rc)
            gh_reply_fail(r, rc);
        else
            gh_fail_msg(r, GH_E_INVALID_TOKEN, "Sign in first to link an account.");
        return;
    }
    int recent = want_link ? session_recent(r, ops, c, &rc) : 1;
    if (recent < 0) {
        gh_reply_fail(r, rc);
        return;
    }
    if (recent == 0) { /* sign in again, then link from the account page */
        char here[REDIRECT_OUT_MAX], signin[4 * REDIRECT_OUT_MAX];
        pages_url(here, "/account");
        pages_url_rd(signin, sizeof signin, "/signin", here);
        pages_see_other(r, signin);
        return;
    }
    struct state_cookie sc;
    char challenge[STATE_COOKIE_RANDOM_LEN + 1], redirect_uri[REDIRECT_OUT_MAX];
    char url[LOCATION_MAX + 1], value[STATE_COOKIE_VALUE_MAX + 1];
    oauth_redirect_uri(p, redirect_uri);
    rc = state_cookie_new(&sc, p->name, rd, want_link ? uid : NULL, gh_now_s());
    if (rc == GH_OK) rc = state_cookie_challenge(&sc, challenge);
    if (rc == GH_OK)
        rc = fed_authorize_url(p, redirect_uri, sc.state, sc.nonce, challenge, url, sizeof url);
    uint8_t h[GH_SHA256_BYTES];
    if (rc == GH_OK && (rc = state_hash(sc.state, h)) == GH_OK)
        rc = ops->oauth_nonces.create(c, h, p->name, sc.expires_at);
    gh_wipe(h, sizeof h);
    if (rc == GH_ERR_BUSY) {
        gh_log(GH_LOG_WARN, "request %s: provider %s cannot be reached (authorization URL)",
               r->request_id, p->name);
        error_page(r, p, 502, GH_E_PROVIDER_UNAVAILABLE,
                   "We could not reach it just now. Try again in a few minutes.", rd, want_link);
    } else if (rc == GH_OK && (rc = state_cookie_seal(&sc, value)) == GH_OK &&
               (rc = gh_reply_cookie_ex(r, state_cookie_name(), value, STATE_COOKIE_TTL_S,
                                        p->form_post)) == GH_OK) {
        pages_see_other(r, url);
    } else {
        gh_reply_fail(r, rc == GH_ERR_NOMEM ? rc : GH_ERR_INTERNAL);
    }
    state_cookie_wipe(&sc);
    gh_wipe(value, sizeof value);
    gh_wipe(url, sizeof url);
}

/* ---- the callback ---- */

/* The callback's parameters: the form (form_post) or the query (borrowed
 * from params, which the caller frees). */
struct callback_in {
    json_t *params;
    const char *state, *code, *error, *user;
    size_t state_len;
};

static const char *param(json_t *o, const char *name, size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) return NULL;
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

/* Reads the callback's parameters and wipes the request's copies of the
 * query (it holds the code). false: nothing readable (a query that was
 * cut or is malformed). */
static bool callback_params(struct gh_req *r, struct callback_in *in)
{
    memset(in, 0, sizeof *in);
    if (r->method == GH_POST) {
        in->params = json_incref(r->body);
    } else {
        size_t ql = strlen(r->query);
        if (ql > 0 && ql < sizeof r->query - 1) (void)reqparse_form_body(r->query, ql, &in->params);
        gh_wipe(r->query, sizeof r->query);
    }
    if (!json_is_object(in->params)) return false;
    in->state = param(in->params, "state", &in->state_len);
    in->code = param(in->params, "code", NULL);
    in->error = param(in->params, "error", NULL);
    in->user = param(in->params, "user", NULL);
    return true;
}

/* Apple sends the person's name once, on the first sign-in, as JSON in
 * the form's `user` field: {"name":{"firstName","lastName"},"email"}. Kept
 * only when the ID token had none, at most sizeof cl->name - 1 bytes of
 * valid UTF-8; anything else is ignored (a name is optional). */
static void apple_name(const char *user, struct fed_claims *cl)
{
    if (!user || cl->name[0] || strlen(user) > APPLE_USER_MAX) return;
    json_t *u = json_loads(user, JSON_REJECT_DUPLICATES, NULL);
    json_t *n = json_object_get(u, "name");
    const char *first = json_string_value(json_object_get(n, "firstName"));
    const char *last = json_string_value(json_object_get(n, "lastName"));
    char name[sizeof cl->name];
    int w = snprintf(name, sizeof name, "%s%s%s", first ? first : "", first && last ? " " : "",
                     last ? last : "");
    if (w > 0 && (size_t)w < sizeof name && gh_utf8_valid(name, (size_t)w))
        memcpy(cl->name, name, (size_t)w + 1);
    json_decref(u);
}

/* What the state cookie allowed: the checked rd of the start. */
static void checked_rd(const struct state_cookie *sc, char rd[REDIRECT_OUT_MAX])
{
    rd[0] = '\0';
    if (sc->rd[0] && !pages_return_url(sc->rd, strlen(sc->rd), rd)) rd[0] = '\0';
}

/* federated_signin's outcome as the page's reply. */
static void signed_in_reply(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                            const struct fed_provider *p, const struct fed_claims *cl,
                            struct accounts_result *res, const char *rd)
{
    char to[REDIRECT_OUT_MAX];
    if (signin_pages_signed_in(r, res, rd)) return; /* in, or on to /signin/mfa */
    if (res->outcome == ACCOUNTS_LINK_REQUIRED) {
        pages_url(to, "/signin/link");
        if (fed_pending_set(r, p->name, cl)) pages_see_other(r, to);
    } else if (res->outcome == ACCOUNTS_SIGNUP_CLOSED) {
        refuse(r, ops, c, p, 403, GH_E_SIGNUP_CLOSED, "signup_closed",
               "There is no account for you here, and new accounts cannot be created.", rd, false);
    } else if (res->outcome == ACCOUNTS_NOT_VERIFIED) { /* verification "required" */
        refuse(r, ops, c, p, 403, GH_E_EMAIL_NOT_VERIFIED, "email_not_verified",
               "Your account's email address is not confirmed yet. Follow the link we emailed "
               "you, then sign in again.",
               rd, false);
    } else {
        gh_reply_fail(r, GH_ERR_INTERNAL); /* no other outcome: never "in" by mistake */
    }
}

/* Links cl to the account signed in at the start, which must still be the
 * one this browser is signed in to. */
static void link_reply(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                       const struct fed_provider *p, const struct fed_claims *cl,
                       const struct state_cookie *sc)
{
    char uid[STORE_ID_LEN + 1], to[REDIRECT_OUT_MAX];
    enum gh_err rc = GH_OK;
    if (!session_user(r, ops, c, uid, &rc) || strcmp(uid, sc->user_id) != 0) {
        if (rc) {
            gh_reply_fail(r, rc);
            return;
        }
        refuse(r, ops, c, p, 400, GH_E_OAUTH_STATE_INVALID, "session_changed",
               "You are no longer signed in to the account you started from. Sign in and try "
               "again.",
               "", true);
        return;
    }
    snprintf(r->ident.user_id, sizeof r->ident.user_id, "%s", uid); /* the log line, audit */
    struct accounts_req in;
    struct store_audit base;
    rc = federated_link(ops, c, accounts_request_of(r, &in, &base, true), uid, p->name, cl);
    if (rc == GH_OK) {
        pages_url(to, "/account?linked=1");
        pages_see_other(r, to);
    } else if (rc == GH_ERR_DENIED) {
        refuse(r, ops, c, p, 400, GH_E_OAUTH_FAILED, "email_not_verified",
               "It did not confirm your email address, so it cannot be linked.", "", true);
    } else if (rc == GH_ERR_CONFLICT) {
        refuse(r, ops, c, p, 409, GH_E_IDENTITY_IN_USE, "linked_elsewhere",
               "That account is already linked to another account here.", "", true);
    } else {
        gh_reply_fail(r, rc);
    }
}

/* The code for claims: the provider's answer checked. false: r's reply is
 * set (the refusal page). */
static bool exchange(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                     const struct fed_provider *p, const struct callback_in *in,
                     const struct state_cookie *sc, const char *rd, struct fed_claims *cl)
{
    char redirect_uri[REDIRECT_OUT_MAX], why[128] = "";
    if (in->error) {
        bool denied = strcmp(in->error, "access_denied") == 0;
        refuse(r, ops, c, p, 400, GH_E_OAUTH_FAILED, denied ? "access_denied" : "provider_error",
               denied ? "You cancelled, or it did not let you in. Nothing was changed."
                      : "It answered with an error. Nothing was changed.",
               rd, sc->link);
        return false;
    }
    if (!in->code || !in->code[0]) {
        refuse(r, ops, c, p, 400, GH_E_OAUTH_FAILED, "code_missing",
               "Its answer was incomplete. Start again.", rd, sc->link);
        return false;
    }
    oauth_redirect_uri(p, redirect_uri);
    enum gh_err rc =
        fed_exchange_code(p, in->code, sc->verifier, redirect_uri, sc->nonce, cl, why, sizeof why);
    if (rc == GH_OK) return true;
    if (rc == GH_ERR_BUSY) {
        gh_log(GH_LOG_WARN, "request %s: provider %s cannot be reached (%s)", r->request_id,
               p->name, why);
        refuse(r, ops, c, p, 502, GH_E_PROVIDER_UNAVAILABLE, "provider_unavailable",
               "We could not reach it just now. Try again in a few minutes.", rd, sc->link);
    } else if (rc == GH_ERR_DENIED) {
        gh_log(GH_LOG_WARN, "request %s: provider %s: the code or ID token was refused (%s)",
               r->request_id, p->name, why);
        refuse(r, ops, c, p, 400, GH_E_OAUTH_FAILED, "token_refused",
               "Its answer did not pass our checks. Start again.", rd, sc->link);
    } else {
        gh_reply_fail(r, rc);
    }
    return false;
}

/* The callback once its parameters are read and the state cookie expired. */
static void callback(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                     const struct fed_provider *p, const struct callback_in *in, bool readable)
{
    struct state_cookie sc;
    struct fed_claims cl;
    char rd[REDIRECT_OUT_MAX];
    memset(&cl, 0, sizeof cl);
    if (!readable || !in->state ||
        state_cookie_open(r->oauth_cookie, strlen(r->oauth_cookie), p->name, gh_now_s(), &sc) ||
        !state_cookie_state_ok(&sc, in->state, in->state_len)) {
        refuse(r, ops, c, p, 400, GH_E_OAUTH_STATE_INVALID, "state_invalid",
               "This sign-in expired, was already used, or was started in another browser. "
               "Start again.",
               "", false);
        return;
    }
    uint8_t h[GH_SHA256_BYTES];
    enum gh_err rc = state_hash(sc.state, h);
    if (rc == GH_OK) rc = ops->oauth_nonces.consume(c, h, p->name, gh_now_s());
    gh_wipe(h, sizeof h);
    if (rc) {
        if (rc == GH_ERR_DENIED)
            refuse(r, ops, c, p, 400, GH_E_OAUTH_STATE_INVALID, "state_replayed",
                   "This sign-in was already used. Start again.", "", false);
        else
            gh_reply_fail(r, rc);
        state_cookie_wipe(&sc);
        return;
    }
    checked_rd(&sc, rd);
    if (exchange(r, ops, c, p, in, &sc, rd, &cl)) {
        if (p->form_post) apple_name(in->user, &cl);
        if (sc.link) {
            link_reply(r, ops, c, p, &cl, &sc);
        } else {
            struct accounts_req areq;
            struct store_audit base;
            struct accounts_result res;
            rc = federated_signin(ops, c, accounts_request_of(r, &areq, &base, true), p->name, &cl,
                                  p->trust_provider_mfa, &res);
            if (rc)
                gh_reply_fail(r, rc);
            else
                signed_in_reply(r, ops, c, p, &cl, &res, rd);
            accounts_result_clear(&res);
        }
    }
    gh_wipe(&cl, sizeof cl);
    state_cookie_wipe(&sc);
}

void oauth_http_callback(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const struct fed_provider *p = fed_provider_find(r->param);
    struct callback_in in;
    bool readable = callback_params(r, &in);
    if (!p) {
        gh_fail_msg(r, GH_E_NOT_FOUND, "No such identity provider.");
    } else if (!cookie_mode_missing(r)) {
        /* One cookie, one callback: expired whatever happens next. */
        if (gh_reply_cookie_ex(r, state_cookie_name(), "", 0, p->form_post) == GH_OK)
            callback(r, ops, c, p, &in, readable);
        else
            gh_reply_fail(r, GH_ERR_INTERNAL);
    }
    if (in.params) gh_json_wipe(in.params); /* the code (the form's is r->body) */
    json_decref(in.params);
    gh_wipe(r->oauth_cookie, sizeof r->oauth_cookie);
}
