/* Building and sending replies: the reply setters handlers call, the
 * security, CORS, cookie and rate-limit headers, the body, the per-status
 * counters, finish() which sends, logs and puts the request back, and the
 * JSON error replies built from the error table (gh_fail, gh_reply_fail). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "guard/cors.h"
#include "guard/guard.h"
#include "http/conn.h"
#include "http/framing.h"
#include "http/internal.h"
#include "pages/pages_http.h"

void gh_reply(struct gh_req *r, int status, json_t *body)
{
    if (r->resp) json_decref(r->resp);
    if (r->resp_text || r->resp_type) { /* the last reply set wins */
        /* a page may hold tokens */
        if (r->resp_text) gh_wipe(r->resp_text, r->resp_len);
        free(r->resp_text);
        r->resp_text = NULL;
        r->resp_len = 0;
        r->resp_type = NULL;
    }
    r->status = status;
    r->resp = body;
    r->error_code = NULL;
}

void gh_reply_body(struct gh_req *r, int status, const char *type, char *body, size_t len)
{
    if (r->resp) json_decref(r->resp);
    r->resp = NULL;
    if (r->resp_text) gh_wipe(r->resp_text, r->resp_len); /* a page may hold tokens */
    free(r->resp_text);
    r->status = status;
    r->resp_text = body;
    r->resp_len = body ? len : 0;
    r->resp_type = type;
    r->error_code = NULL;
}

void gh_reply_text(struct gh_req *r, int status, const char *type, char *text)
{
    gh_reply_body(r, status, type, text, text ? strlen(text) : 0);
}

/* ---- profiles and extra headers ---- */

/* A page's Referrer-Policy is same-origin: an emailed link's page has its
 * token in the URL, and no other site may see it in a Referer. Not
 * no-referrer: under it a browser sends "Origin: null" with the page's own
 * form POST, which the Origin check refuses (decision 0031). */
static const struct gh_profile_info profiles[] = {
    [GH_PROFILE_API] = {"default-src 'none'; frame-ancestors 'none'", "application/json",
                        "Send the body as Content-Type: application/json.",
                        "strict-origin-when-cross-origin"},
    [GH_PROFILE_PAGE] = {"default-src 'none'; style-src 'self'; img-src 'self' data:; "
                         "form-action 'self'; frame-ancestors 'none'",
                         "application/x-www-form-urlencoded",
                         "Send the form as Content-Type: application/x-www-form-urlencoded.",
                         "same-origin"},
    /* An image of ours (the logo): an SVG opened directly renders in a
     * sandbox with its own inline style only, never a script or a fetch. */
    [GH_PROFILE_ASSET] = {"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                          "frame-ancestors 'none'; sandbox",
                          "application/json", "Send the body as Content-Type: application/json.",
                          "no-referrer"},
};

const struct gh_profile_info *gh_profile_of(int profile)
{
    if (profile < 0 || (size_t)profile >= sizeof profiles / sizeof profiles[0])
        profile = GH_PROFILE_API;
    return &profiles[profile];
}

/* Headers finish() writes itself: a handler adding one would contradict or
 * duplicate ours (two Content-Types, a weaker CSP, a forged request id). */
static const char *const reserved[] = {
    "Content-Length",
    "Content-Type",
    "Transfer-Encoding",
    "Connection",
    "Set-Cookie",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "Cache-Control",
    "X-Request-Id",
    "WWW-Authenticate",
    "Vary",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "Idempotent-Replayed",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Expose-Headers",
};

bool gh_reply_header_ok(const char *name, const char *value)
{
    if (!name || !value || strlen(name) > 64 || !framing_name_ok(name)) return false;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0) return false;
    size_t n = 0;
    for (; value[n]; n++) {
        unsigned char c = (unsigned char)value[n];
        if (n >= 1024 || ((c < 0x20 || c >= 0x7f) && c != '\t')) return false;
    }
    return true;
}

enum gh_err gh_reply_header(struct gh_req *r, const char *name, const char *value)
{
    if (!gh_reply_header_ok(name, value) || r->reply_nhdr >= GH_REPLY_HEADERS_MAX)
        return GH_ERR_INVALID;
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1, at = r->reply_hdr_used;
    if (nl + vl > sizeof r->reply_hdr - at) return GH_ERR_INVALID;
    memcpy(r->reply_hdr + at, name, nl);
    memcpy(r->reply_hdr + at + nl, value, vl);
    r->reply_hdr_at[r->reply_nhdr][0] = (uint16_t)at;
    r->reply_hdr_at[r->reply_nhdr][1] = (uint16_t)(at + nl);
    r->reply_nhdr++;
    r->reply_hdr_used = (uint16_t)(at + nl + vl);
    return GH_OK;
}

/* [A-Za-z0-9_-], 1 to max characters. */
static bool cookie_chars_ok(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return n >= min;
}

enum gh_err gh_reply_cookie(struct gh_req *r, const char *name, const char *value, int64_t max_age)
{
    return gh_reply_cookie_ex(r, name, value, max_age, false);
}

enum gh_err gh_reply_cookie_ex(struct gh_req *r, const char *name, const char *value,
                               int64_t max_age, bool cross_site)
{
    bool host = strncmp(name, "__Host-", 7) == 0;
    if (r->set_cookie_n >= GH_SET_COOKIES_MAX || host != cookie_secure() ||
        !cookie_chars_ok(name + (host ? 7 : 0), 1, 64) ||
        !cookie_chars_ok(value, 0, GH_LINK_COOKIE_MAX) || max_age < 0 ||
        strcmp(name, cookie_session_name()) == 0 || strcmp(name, cookie_csrf_name()) == 0)
        return GH_ERR_INVALID;
    cookie_format_site(r->set_cookie[r->set_cookie_n], sizeof r->set_cookie[0], name, value,
                       max_age, true, cross_site && cookie_secure());
    r->set_cookie_n++;
    return GH_OK;
}

static _Atomic uint64_t requests_by_class[6];

uint64_t gh_requests_total(int cls)
{
    return cls >= 1 && cls <= 5
               ? atomic_load_explicit(&requests_by_class[cls], memory_order_relaxed)
               : 0;
}

static _Atomic uint64_t csrf_failed;

void gh_count_csrf_failed(void)
{
    atomic_fetch_add_explicit(&csrf_failed, 1, memory_order_relaxed);
}

uint64_t gh_csrf_failed_total(void)
{
    return atomic_load_explicit(&csrf_failed, memory_order_relaxed);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

const char *gh_method_name(int m)
{
    switch (m) {
    case GH_GET:
        return "GET";
    case GH_POST:
        return "POST";
    case GH_DELETE:
        return "DELETE";
    case GH_PUT:
        return "PUT";
    case GH_PATCH:
        return "PATCH";
    case GH_HEAD:
        return "HEAD";
    case GH_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

int http_method_of(struct evhttp_request *ev)
{
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET:
        return GH_GET;
    case EVHTTP_REQ_POST:
        return GH_POST;
    case EVHTTP_REQ_DELETE:
        return GH_DELETE;
    case EVHTTP_REQ_PUT:
        return GH_PUT;
    case EVHTTP_REQ_PATCH:
        return GH_PATCH;
    case EVHTTP_REQ_HEAD:
        return GH_HEAD;
    case EVHTTP_REQ_OPTIONS:
        return GH_OPTIONS;
    default:
        return 0;
    }
}

/* The page CSP with form_origin added to form-action (pages_rd checked
 * it: an origin the gate may send a person back to, of URL characters
 * only), into out; NULL when it does not fit (then the plain CSP: the
 * redirect is refused by the browser, never a looser policy). */
static const char *page_csp_with(char *out, size_t cap, const char *form_origin)
{
    int n = snprintf(out, cap,
                     "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                     "form-action 'self' %s; frame-ancestors 'none'",
                     form_origin);
    return n > 0 && (size_t)n < cap ? out : NULL;
}

static void add_security_headers(struct evkeyvalq *h, const char *cache_control,
                                 const char *request_id, const struct gh_profile_info *p,
                                 const char *csp)
{
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", p->referrer_policy);
    evhttp_add_header(h, "Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    evhttp_add_header(h, "Content-Security-Policy", csp ? csp : p->csp);
    evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    evhttp_add_header(h, "Cache-Control", cache_control);
    evhttp_add_header(h, "X-Request-Id", request_id);
}

/* With a cookie domain, the __Host- cookies of before it are expired
 * whenever ours are set or cleared: a rotation moves a browser onto the
 * new names, and a sign-out leaves neither behind. */
static void expire_legacy_cookies(struct evkeyvalq *h)
{
    char v[COOKIE_HEADER_MAX];
    const char *ls = cookie_legacy_session_name(), *lc = cookie_legacy_csrf_name();
    if (ls) {
        cookie_format(v, sizeof v, ls, "", 0, true);
        evhttp_add_header(h, "Set-Cookie", v);
    }
    if (lc) {
        cookie_format(v, sizeof v, lc, "", 0, false);
        evhttp_add_header(h, "Set-Cookie", v);
    }
}

/* Set-Cookie for cookie mode: a new or rotated session cookie with its
 * CSRF cookie, or both expired. */
static void set_cookies(struct gh_req *r, struct evkeyvalq *h)
{
    char v[COOKIE_HEADER_MAX], csrf[COOKIE_CSRF_LEN + 1];
    if (r->clear_cookies || r->set_session[0]) expire_legacy_cookies(h);
    if (r->clear_cookies) {
        cookie_format(v, sizeof v, cookie_session_name(), "", 0, true);
        evhttp_add_header(h, "Set-Cookie", v);
        cookie_format(v, sizeof v, cookie_csrf_name(), "", 0, false);
        evhttp_add_header(h, "Set-Cookie", v);
    } else if (r->set_session[0]) {
        cookie_format(v, sizeof v, cookie_session_name(), r->set_session, gh_cfg.refresh_ttl, true);
        evhttp_add_header(h, "Set-Cookie", v);
        gh_wipe(v, sizeof v);
        if (cookie_csrf_token(r->ident.session_id, csrf) == GH_OK) {
            cookie_format(v, sizeof v, cookie_csrf_name(), csrf, gh_cfg.refresh_ttl, false);
            evhttp_add_header(h, "Set-Cookie", v);
        }
        gh_wipe(csrf, sizeof csrf);
    }
    gh_wipe(r->set_session, sizeof r->set_session);
    for (int i = 0; i < r->set_cookie_n; i++) /* checked by gh_reply_cookie */
        evhttp_add_header(h, "Set-Cookie", r->set_cookie[i]);
}

#define CORS_ALLOW_HEADERS                                                                         \
    "Authorization, Content-Type, Idempotency-Key, X-CSRF-Token, X-Request-Id"
#define CORS_EXPOSE_HEADERS                                                                        \
    "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, Idempotent-Replayed"

/* Whether a response carries CORS headers depends on Origin, so a cache
 * between us and the browser must key on it (Vary) whenever a list is set. */
static void add_cors_headers(struct gh_req *r, struct evkeyvalq *h)
{
    if (cors_cfg.norigins == 0) return;
    evhttp_add_header(h, "Vary", "Origin");
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Origin");
    if (!cors_origin_allowed(origin)) return;
    evhttp_add_header(h, "Access-Control-Allow-Origin", origin);
    evhttp_add_header(h, "Access-Control-Allow-Credentials", "true");
    if (r->cors_methods[0]) {
        evhttp_add_header(h, "Access-Control-Allow-Methods", r->cors_methods);
        evhttp_add_header(h, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        evhttp_add_header(h, "Access-Control-Max-Age", "600");
    } else {
        evhttp_add_header(h, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    }
}

/* The gate's replies (R_GATE) are read by a proxy, not a browser, and
 * every header costs on the hot path: no security headers, CSP, CORS or
 * cookies; a pass carries only its identity headers (and an empty body),
 * anything else also X-Request-Id, no-store and the RateLimit fields. */
static bool gate_minimal(const struct gh_req *r)
{
    return r->route && (r->route->flags & R_GATE);
}

void http_finish(struct gh_req *r)
{
    struct evhttp_request *ev = r->ev;
    struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
    if (r->status == 0) gh_fail_msg(r, GH_E_INTERNAL_ERROR, "Internal error.");
    bool gate = gate_minimal(r);
    /* A page's error is a page (same status and code), not JSON. */
    if (r->error_code && r->resp && gh_route_profile(r->route) == GH_PROFILE_PAGE)
        pages_http_error(r);

    char csp_buf[512];
    int profile = gh_route_profile(r->route);
    const char *csp = profile == GH_PROFILE_PAGE && r->form_origin[0]
                          ? page_csp_with(csp_buf, sizeof csp_buf, r->form_origin)
                          : NULL;
    if (!gate)
        add_security_headers(h,
                             (r->route && (r->route->flags & R_CACHEABLE) && r->status == 200)
                                 ? "public, max-age=300"
                                 : "no-store",
                             r->request_id, gh_profile_of(profile), csp);
    else if (r->status != 200) {
        evhttp_add_header(h, "Cache-Control", "no-store");
        evhttp_add_header(h, "X-Request-Id", r->request_id);
    }
    for (int i = 0; i < r->reply_nhdr; i++) /* validated by gh_reply_header */
        evhttp_add_header(h, r->reply_hdr + r->reply_hdr_at[i][0],
                          r->reply_hdr + r->reply_hdr_at[i][1]);
    if (r->www_authenticate) evhttp_add_header(h, "WWW-Authenticate", "Bearer");
    if (!gate) {
        set_cookies(r, h);
        add_cors_headers(r, h);
    }
    if (r->idem_replayed) evhttp_add_header(h, "Idempotent-Replayed", "true");
    if (gate && r->status == 200) {
        /* a pass: the RateLimit fields are for clients, not the proxy */
    } else if (r->error_code && r->error_code == gh_error_row(GH_E_DATABASE_UNAVAILABLE)->code) {
        /* the pool retries a lost database within a second or so */
        evhttp_add_header(h, "Retry-After", "1");
    } else if (r->rl_name && r->rl.unavailable) { /* no budget is known: Retry-After alone */
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)r->rl.retry_after_s);
        evhttp_add_header(h, "Retry-After", v);
    } else if (r->rl_name) {
        char v[128];
        snprintf(v, sizeof v, "\"%s\";q=%d;w=%lld", r->rl_name, r->rl.limit,
                 (long long)r->rl.period_s);
        evhttp_add_header(h, "RateLimit-Policy", v);
        snprintf(v, sizeof v, "\"%s\";r=%d;t=%lld", r->rl_name, r->rl.remaining,
                 (long long)(r->rl.allowed ? r->rl.reset_s : r->rl.retry_after_s));
        evhttp_add_header(h, "RateLimit", v);
        if (!r->rl.allowed) {
            snprintf(v, sizeof v, "%lld", (long long)r->rl.retry_after_s);
            evhttp_add_header(h, "Retry-After", v);
            if (r->status == 429) guard_count_refused(r->rl_name);
        }
    }

    /* The body goes straight into the request's own output buffer; never
     * for HEAD (libevent would send it after the headers anyway, and the
     * client would read it as the start of the next response). */
    struct evbuffer *buf = evhttp_request_get_output_buffer(ev);
    bool head = evhttp_request_get_command(ev) == EVHTTP_REQ_HEAD;
    if (r->resp_text || r->resp_type) {
        if (r->resp_len && !head) evbuffer_add(buf, r->resp_text, r->resp_len);
        evhttp_add_header(h, "Content-Type", r->resp_type ? r->resp_type : "text/plain");
    } else if (r->resp) {
        size_t n = head ? 0 : json_dumpb(r->resp, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
        struct evbuffer_iovec v;
        if (n > 0 && evbuffer_reserve_space(buf, (ev_ssize_t)n, &v, 1) == 1 && v.iov_len >= n &&
            json_dumpb(r->resp, v.iov_base, n, JSON_COMPACT | JSON_PRESERVE_ORDER) == n) {
            v.iov_len = n;
            evbuffer_commit_space(buf, &v, 1);
        }
        evhttp_add_header(h, "Content-Type", "application/json");
    }
    if (r->status >= 100 && r->status < 600)
        atomic_fetch_add_explicit(&requests_by_class[r->status / 100], 1, memory_order_relaxed);
    conn_request_end(ev);
    evhttp_send_reply(ev, r->status, reason(r->status), NULL);

    /* ev may be gone now (a detached request is freed by the send). */
    http_log_request(r);
    http_req_put(r);
}

/* No memory for a request struct: the usual headers, JSON body and log
 * line, built without allocating one. */
void http_reply_no_memory(struct gh_loop *l, struct evhttp_request *ev, int64_t start_us)
{
    static const char body[] =
        "{\"error\":{\"code\":\"overloaded\",\"message\":\"The server is busy; try again "
        "shortly.\"}}";
    char rid[GH_REQUEST_ID_MAX + 1];
    struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
    http_request_id_of(l, evhttp_request_get_input_headers(ev), rid, sizeof rid);
    add_security_headers(h, "no-store", rid, gh_profile_of(GH_PROFILE_API), NULL);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Connection", "close");
    evbuffer_add(evhttp_request_get_output_buffer(ev), body, sizeof body - 1);
    atomic_fetch_add_explicit(&requests_by_class[5], 1, memory_order_relaxed);
    int method = http_method_of(ev);
    conn_request_end(ev);
    evhttp_send_reply(ev, 503, reason(503), NULL);
    http_log_line(l, rid, method, "unmatched", 503, start_us, NULL, "overloaded");
}

/* ---- error replies, from the error table (errors.h) ---- */

void gh_fail_msg(struct gh_req *r, enum gh_error e, const char *message)
{
    const struct gh_error_row *row = gh_error_row(e);
    gh_reply(r, row->status,
             json_pack("{s:{s:s,s:s}}", "error", "code", row->code, "message",
                       message ? message : row->message));
    r->error_code = row->code; /* for the log line */
    r->reply_nhdr = 0;         /* an error reply carries no extra headers */
    /* RFC 6750: the challenge belongs to bearer-protected resources. */
    if (e == GH_E_INVALID_TOKEN && r->route && (r->route->flags & R_AUTH))
        r->www_authenticate = true;
}

void gh_fail(struct gh_req *r, enum gh_error e)
{
    gh_fail_msg(r, e, NULL);
}

void gh_reply_limited(struct gh_req *r, enum limit_rule rule, const struct limit_result *res)
{
    r->rl_name = limit_rule_name(rule);
    r->rl = *res;
    if (res->unavailable) { /* the shared limiter is down and this rule fails closed */
        gh_fail(r, GH_E_RATE_LIMITER_UNAVAILABLE);
        return;
    }
    gh_fail(r, GH_E_RATE_LIMITED);
}

void gh_reply_fail(struct gh_req *r, enum gh_err e)
{
    if (e == GH_ERR_BUSY) {
        gh_fail(r, GH_E_OVERLOADED);
        return;
    }
    if (e == GH_ERR_UNAVAILABLE) { /* logged once per outage by the store */
        gh_fail(r, GH_E_DATABASE_UNAVAILABLE);
        return;
    }
    gh_log(GH_LOG_ERROR, "request %s failed: %s", r->request_id, gh_err_name(e));
    gh_fail(r, GH_E_INTERNAL_ERROR);
}
