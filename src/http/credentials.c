/* The credential checks: a short list of checkers (bearer JWT, session
 * cookie), each reading its credential from the request, checking it from
 * memory on the loop and settling it from the store on a worker, and each
 * answering with the same result type. The first checker whose kind of
 * credential was presented decides alone: an Authorization header is never
 * overruled by a cookie, not even when it is bad (decision 0011). A new kind
 * (API keys) is one more row. Also the checks that need the identity: the
 * CSRF rule for cookies (the token from X-CSRF-Token, or on a page from
 * its form's "csrf" field), the form token of pages used before sign-in
 * (R_FORM) and the MFA-enrolment restriction. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "federation/state_cookie.h"
#include "http/internal.h"
#include "http/reqparse.h"
#include "federation/pending_link.h"
#include "pages/form_token.h"
#include "pages/signin_pages.h"
#include "sessions/sessions.h"

/* A session made under GATEHOUSE_MFA_REQUIRED for a user without a second
 * factor may only enrol one (and sign out). */
bool http_restricted_denied(struct gh_req *r)
{
    if (!r->authed || !r->ident.restricted || (r->route->flags & (R_MFA_SETUP | R_GATE)))
        return false; /* the gate decides itself: a restricted session passes public rules */
    gh_fail(r, GH_E_MFA_ENROLMENT_REQUIRED);
    return true;
}

/* A state-changing request authenticated by cookie needs an Origin /
 * Sec-Fetch-Site that is ours or allowlisted (r->origin_ok) and the CSRF
 * token of its session in X-CSRF-Token (a page: its form's "csrf" field).
 * Needs r->ident. */
bool http_csrf_denied(struct gh_req *r)
{
    if (!r->cookie_auth || r->method == GH_GET) return false;
    if (r->origin_ok && cookie_csrf_valid(r->ident.session_id, r->csrf, r->csrf_len)) return false;
    gh_log(GH_LOG_WARN, "request %s: CSRF check failed (%s) for session %s", r->request_id,
           !r->origin_ok                ? "Origin/Sec-Fetch-Site"
           : (r->route->flags & R_PAGE) ? "the form's csrf field"
                                        : "X-CSRF-Token",
           r->ident.session_id);
    gh_count_csrf_failed();
    gh_fail(r, GH_E_CSRF_FAILED);
    return true;
}

/* A session cookie that is not (or no longer) good: 401, and both cookies
 * are expired so the browser stops sending it. */
static void cookie_refused(struct gh_req *r, enum gh_error e)
{
    r->clear_cookies = true;
    if (e == GH_E_TOKEN_REUSED)
        gh_fail_msg(r, e,
                    "This session cookie was already replaced; every session of the account "
                    "has been signed out.");
    else if (e == GH_E_SESSION_EXPIRED)
        gh_fail(r, e);
    else
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "The session cookie is missing or invalid.");
}

/* Worker: a cookie the memory could not settle (not cached, due for
 * rotation, or just rotated by a parallel request). */
static enum gh_cred_result cookie_store(struct gh_req *r, const struct store_ops *ops,
                                        struct store_conn *c)
{
    struct store_audit ev;
    struct store_audit *reuse =
        (struct store_audit *)gh_audit_event(r, &ev, "token.reuse_detected", "system", NULL, NULL);
    enum sessions_refresh_result res;
    struct limit_result lim = {0};
    enum gh_err rc = sessions_cookie_check(ops, c, r->token, r->token_len, reuse, &res, &lim,
                                           r->set_session, &r->ident);
    if (rc) {
        gh_reply_fail(r, rc);
        return GH_CRED_REFUSED;
    }
    switch (res) {
    case SESSIONS_REFRESHED:
        r->authed = true;
        return GH_CRED_OK;
    case SESSIONS_REUSED:
        cookie_refused(r, GH_E_TOKEN_REUSED);
        break;
    case SESSIONS_INVALID:
        cookie_refused(r, GH_E_INVALID_TOKEN);
        break;
    case SESSIONS_LIMITED:
        gh_reply_limited(r, LIMIT_REFRESH_SESSION, &lim);
        break;
    case SESSIONS_EXPIRED:
        cookie_refused(r, GH_E_SESSION_EXPIRED);
        break;
    }
    return GH_CRED_REFUSED;
}

/* Bearer token from the Authorization header only (never the URL). */
static bool bearer(const char *value, struct gh_req *r)
{
    const char *a;
    size_t n;
    if (!reqparse_bearer(value, GH_TOKEN_MAX, &a, &n)) return false;
    memcpy(r->token, a, n);
    r->token[n] = '\0';
    r->token_len = n;
    gh_wipe((char *)a, n); /* libevent's copy of the header */
    return true;
}

/* The cookie called name over every Cookie header (reqparse_cookies_result). */
static int named_cookie(struct evkeyvalq *in, const char *name, const char **val, size_t *len,
                        size_t want_len)
{
    struct reqparse_cookies s = {0};
    for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next)
        if (strcasecmp(kv->key, "Cookie") == 0) reqparse_cookies_add(&s, kv->value, name);
    return reqparse_cookies_result(&s, want_len, val, len);
}

/* The session cookie from every Cookie header: 1 with r->token set, 0 if
 * absent, 2 if sent more than once, -1 if not shaped like a token. With a
 * cookie domain, a __Host- cookie of before it is read only when the new
 * name is absent: when both are sent the new one decides alone (the old
 * one is expired by the reply that sets the new one, so a browser holding
 * both is mid-upgrade, and one name must decide, never a mix). */
static int session_cookie(struct evkeyvalq *in, struct gh_req *r)
{
    const char *val, *legacy = cookie_legacy_session_name();
    size_t len;
    int got = named_cookie(in, cookie_session_name(), &val, &len, REFRESH_TOKEN_LEN);
    if (got == 0 && legacy) got = named_cookie(in, legacy, &val, &len, REFRESH_TOKEN_LEN);
    if (got != 1) return got;
    memcpy(r->token, val, len);
    r->token[len] = '\0';
    r->token_len = len;
    gh_wipe((char *)val, len); /* libevent's copy of the header */
    return 1;
}

/* ---- the checkers ---- */

static enum gh_cred_result bearer_read(struct gh_req *r, struct evkeyvalq *in)
{
    const char *value = evhttp_find_header(in, "Authorization");
    if (!value) return GH_CRED_ABSENT;
    if (bearer(value, r)) return GH_CRED_UNKNOWN;
    gh_fail(r, GH_E_INVALID_TOKEN);
    return GH_CRED_REFUSED;
}

static enum gh_cred_result bearer_memory(struct gh_req *r)
{
    switch (authcache_check(r->token, r->token_len, gh_now_s(), &r->ident)) {
    case AUTHCACHE_OK:
        return GH_CRED_OK;
    case AUTHCACHE_MISS:
        return GH_CRED_UNKNOWN;
    default:
        gh_fail(r, GH_E_INVALID_TOKEN);
        return GH_CRED_REFUSED;
    }
}

static enum gh_cred_result bearer_store(struct gh_req *r, const struct store_ops *ops,
                                        struct store_conn *c)
{
    enum gh_err rc = authcache_check_store(ops, c, r->token, r->token_len, gh_now_s(), &r->ident);
    if (rc == GH_ERR_DENIED) {
        gh_fail(r, GH_E_INVALID_TOKEN);
    } else if (rc) {
        gh_reply_fail(r, rc);
    } else {
        r->authed = true;
        return GH_CRED_OK;
    }
    return GH_CRED_REFUSED;
}

static enum gh_cred_result cookie_read(struct gh_req *r, struct evkeyvalq *in)
{
    if (!cookie_available()) return GH_CRED_ABSENT;
    int got = session_cookie(in, r);
    if (got == 0) return GH_CRED_ABSENT;
    if (got == 2) {
        gh_fail(r, GH_E_DUPLICATE_COOKIE);
        return GH_CRED_REFUSED;
    }
    r->cookie_auth = true;
    if (got < 0) {
        cookie_refused(r, GH_E_INVALID_TOKEN);
        return GH_CRED_REFUSED;
    }
    return GH_CRED_UNKNOWN;
}

static enum gh_cred_result cookie_memory(struct gh_req *r)
{
    uint8_t h[32];
    enum authcache_result ar = AUTHCACHE_DENY;
    if (refresh_hash(r->token, r->token_len, h) == GH_OK) {
        int64_t now = gh_now_s();
        ar = authcache_check_cookie(h, now, now - gh_cfg.access_ttl, &r->ident);
    }
    switch (ar) {
    case AUTHCACHE_OK:
        return GH_CRED_OK;
    case AUTHCACHE_MISS:
        return GH_CRED_UNKNOWN;
    default:
        cookie_refused(r, GH_E_INVALID_TOKEN);
        return GH_CRED_REFUSED;
    }
}

static const struct gh_credential checkers[] = {
    {"bearer", bearer_read, bearer_memory, bearer_store},
    {"cookie", cookie_read, cookie_memory, cookie_store},
};

bool http_credentials_check(struct gh_req *r, struct evkeyvalq *in)
{
    enum gh_cred_result res = GH_CRED_ABSENT;
    for (size_t i = 0; res == GH_CRED_ABSENT && i < sizeof checkers / sizeof checkers[0]; i++) {
        res = checkers[i].read(r, in);
        if (res != GH_CRED_ABSENT) r->cred = &checkers[i];
    }
    if (res == GH_CRED_ABSENT) { /* nothing presented */
        gh_fail(r, GH_E_INVALID_TOKEN);
        return false;
    }
    if (res == GH_CRED_REFUSED) return false;
    res = r->cred->memory(r);
    if (res == GH_CRED_REFUSED) return false;
    r->authed = res == GH_CRED_OK;
    if (r->cookie_auth && r->method != GH_GET && (r->route->flags & R_PAGE)) {
        /* A page's form carries its token (http_form_csrf, once the body
         * is read; settled on the worker): the origin now. */
        if (!r->origin_ok && http_csrf_denied(r)) return false;
    } else if (r->cookie_auth && r->method != GH_GET) {
        const char *ct = evhttp_find_header(in, "X-CSRF-Token");
        size_t cl = ct ? strlen(ct) : 0;
        if (cl > 0 && cl <= COOKIE_CSRF_LEN) {
            memcpy(r->csrf, ct, cl);
            r->csrf[cl] = '\0';
            r->csrf_len = cl;
        }
        /* The origin now; the token once the session is known. */
        if ((!r->origin_ok || r->authed) && http_csrf_denied(r)) return false;
    }
    return true;
}

bool http_form_csrf(struct gh_req *r)
{
    json_t *v = r->body ? json_object_get(r->body, "csrf") : NULL;
    const char *t = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = t ? json_string_length(v) : 0;
    r->csrf[0] = '\0';
    r->csrf_len = 0;
    if (n > 0 && n <= COOKIE_CSRF_LEN) {
        memcpy(r->csrf, t, n);
        r->csrf[n] = '\0';
        r->csrf_len = n;
    }
    if (r->body) json_object_del(r->body, "csrf"); /* the handler's fields are its own */
    if (r->route->flags & R_FORM) return !http_form_token_denied(r);
    /* Settled from memory: checked now (else on the worker, in work()). */
    return !(r->authed && r->cookie_auth && http_csrf_denied(r));
}

_Static_assert(PAGES_FORM_TOKEN_LEN <= COOKIE_CSRF_LEN, "r->csrf holds a form token");

/* A form used before sign-in (R_FORM): the form-token cookie, its field in
 * r->csrf, and the origin, all three (pages/form_token.h). */
bool http_form_token_denied(struct gh_req *r)
{
    if (r->method == GH_GET || !(r->route->flags & R_FORM)) return false;
    enum pages_form_result res = pages_form_request_check(r);
    if (r->origin_ok && res == PAGES_FORM_OK) return false;
    static const char *const why[] = {
        [PAGES_FORM_OK] = "Origin/Sec-Fetch-Site",
        [PAGES_FORM_NO_COOKIE] = "no form cookie",
        [PAGES_FORM_BAD_COOKIE] = "a forged form cookie",
        [PAGES_FORM_EXPIRED] = "an expired form cookie",
        [PAGES_FORM_BAD_FIELD] = "the form's csrf field",
    };
    gh_log(GH_LOG_WARN, "request %s: form token check failed (%s) on %s", r->request_id,
           !r->origin_ok ? why[PAGES_FORM_OK] : why[res], r->route->path);
    gh_count_csrf_failed();
    gh_fail(r, GH_E_CSRF_FAILED);
    return true;
}

/* The cookie called name, of exactly cap - 1 token characters, into out
 * ("" when absent, sent twice or not so shaped). */
static void page_cookie(struct evkeyvalq *in, const char *name, char *out, size_t cap)
{
    const char *val;
    size_t len;
    out[0] = '\0';
    if (named_cookie(in, name, &val, &len, cap - 1) != 1) return;
    memcpy(out, val, len);
    out[len] = '\0';
}

/* The same for a cookie of 1 to cap - 1 token characters. */
static void page_cookie_upto(struct evkeyvalq *in, const char *name, char *out, size_t cap)
{
    struct reqparse_cookies s = {0};
    const char *val;
    size_t len;
    out[0] = '\0';
    for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next)
        if (strcasecmp(kv->key, "Cookie") == 0) reqparse_cookies_add(&s, kv->value, name);
    if (s.found != 1 || s.len == 0 || s.len >= cap ||
        reqparse_cookies_result(&s, s.len, &val, &len) != 1)
        return;
    memcpy(out, val, len);
    out[len] = '\0';
}

void http_page_cookies(struct gh_req *r, struct evkeyvalq *in)
{
    page_cookie_upto(in, fed_pending_cookie_name(), r->link_cookie, sizeof r->link_cookie);
    page_cookie(in, pages_form_cookie_name(), r->form_cookie, sizeof r->form_cookie);
    page_cookie(in, pages_mfa_cookie_name(), r->mfa_cookie, sizeof r->mfa_cookie);
    if (r->route->flags & R_NET)
        page_cookie_upto(in, state_cookie_name(), r->oauth_cookie, sizeof r->oauth_cookie);
}

bool http_credentials_settle(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    /* Checked again here: a revocation may have landed while the request
     * waited in the queue. Memory only, unless the entry was evicted. */
    if (r->authed) {
        enum gh_cred_result res = r->cred->memory(r);
        r->authed = res == GH_CRED_OK;
        if (res == GH_CRED_REFUSED) return false;
    }
    return r->authed || r->cred->store(r, ops, c) == GH_CRED_OK;
}

void http_signin_cookie(struct gh_req *r, struct evkeyvalq *in)
{
    if (session_cookie(in, r) != 1) {
        gh_wipe(r->token, sizeof r->token);
        r->token_len = 0;
    }
}

/* ---- the gate (R_GATE, GET /v1/verify) ----
 * The gate never sets, rotates or clears a cookie: nginx auth_request and
 * Caddy forward_auth drop the Set-Cookie of a 200, so a rotated cookie
 * would never reach the browser, which would keep sending the old value;
 * after the grace window that reads as reuse and signs the user out
 * everywhere. So a cached live token that is merely due for rotation is
 * good here, a cache miss is settled without rotating
 * (sessions_cookie_peek), and a token that is spent or unknown is simply
 * not signed in: reuse is judged only where rotation happens. No CSRF
 * check either: the proxy asks with a GET of its own. */

void http_gate_credentials(struct gh_req *r, struct evkeyvalq *in)
{
    const char *auth = evhttp_find_header(in, "Authorization");
    enum authcache_result ar = AUTHCACHE_DENY;
    if (auth) { /* decides alone, as on every route (decision 0011) */
        if (!bearer(auth, r)) return;
        ar = authcache_check(r->token, r->token_len, gh_now_s(), &r->ident);
    } else if (cookie_available() && session_cookie(in, r) == 1) {
        uint8_t h[32];
        r->cookie_auth = true;
        if (refresh_hash(r->token, r->token_len, h) == GH_OK)
            ar = authcache_check_cookie(h, gh_now_s(), INT64_MIN, &r->ident);
    } else {
        return;
    }
    r->authed = ar == AUTHCACHE_OK;
    r->cred_pending = ar == AUTHCACHE_MISS;
    if (ar == AUTHCACHE_DENY) memset(&r->ident, 0, sizeof r->ident);
}

bool http_gate_settle(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (!r->cred_pending) return true;
    enum gh_err rc;
    if (r->cookie_auth) {
        bool found = false;
        rc = sessions_cookie_peek(ops, c, r->token, r->token_len, &found, &r->ident);
        if (rc == GH_OK && !found) rc = GH_ERR_DENIED;
    } else {
        rc = authcache_check_store(ops, c, r->token, r->token_len, gh_now_s(), &r->ident);
    }
    r->authed = rc == GH_OK;
    if (rc == GH_OK || rc == GH_ERR_DENIED) {
        if (!r->authed) memset(&r->ident, 0, sizeof r->ident);
        return true;
    }
    gh_reply_fail(r, rc); /* the store failed: never a pass, never "not signed in" */
    return false;
}
