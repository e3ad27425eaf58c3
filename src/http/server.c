#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "guard/cors.h"
#include "guard/guard.h"
#include "guard/idempotency.h"
#include "guard/proxy.h"
#include "http/conn.h"
#include "http/framing.h"
#include "http/pool.h"
#include "sessions/sessions.h"

#define LOGBUF_SIZE_ 4096

/* Header block: ours is the cap we answer 431 for; libevent answers
 * beyond the ceiling. */
#define GH_HEADERS_MAX (16 * 1024)
#define GH_HEADERS_CEILING (128 * 1024)

/* libevent 2.1 marks a method it does not know (PROPFIND, ...) with this
 * private bit (http-internal.h) and answers 501 itself unless the bit is
 * allowed; 2.2 parses such methods differently and has no such bit. */
#if LIBEVENT_VERSION_NUMBER < 0x02020000
#define GH_EVHTTP_REQ_UNKNOWN (1 << 15)
#else
#define GH_EVHTTP_REQ_UNKNOWN 0
#endif

struct gh_loop {
    int idx;
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    pthread_mutex_t mu;
    struct gh_req *inbox;
    struct event *wake;
    /* Requests read in this pass that wait for one batched admission (shared
     * budgets: one Redis round trip for all); loop thread only. */
    struct gh_req *admit_head, *admit_tail;
    struct event *admit_ev;
    evutil_socket_t fd;
    struct event *log_ev;
    struct conn_loop *conn; /* listener, connection cap, raw framing check */
    size_t loglen;
    char logbuf[LOGBUF_SIZE_];
    /* Finished request structs kept for reuse (loop thread only). */
    struct gh_req *spare;
    int nspare;
    /* Request ids: a random per-loop prefix and a counter (no syscall). */
    char rid_prefix[17];
    uint64_t rid_next;
};

static struct gh_loop *loops;
static _Atomic bool draining; /* set by the first SIGTERM/SIGINT */
static int nloops;
static const struct gh_route *routes;
static size_t nroutes;
static const struct store_ops *store_ops;

/* ---- replies ---- */

void gh_reply(struct gh_req *r, int status, json_t *body)
{
    if (r->resp) json_decref(r->resp);
    r->status = status;
    r->resp = body;
}

void gh_reply_text(struct gh_req *r, int status, const char *type, char *text)
{
    if (r->resp) json_decref(r->resp);
    r->resp = NULL;
    free(r->resp_text);
    r->status = status;
    r->resp_text = text;
    r->resp_type = type;
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

void gh_fail_msg(struct gh_req *r, enum gh_error e, const char *message)
{
    const struct gh_error_row *row = gh_error_row(e);
    gh_reply(r, row->status,
             json_pack("{s:{s:s,s:s}}", "error", "code", row->code, "message",
                       message ? message : row->message));
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
    gh_log(GH_LOG_ERROR, "request %s failed: %s", r->request_id, gh_err_name(e));
    gh_fail(r, GH_E_INTERNAL_ERROR);
}

const struct store_audit *gh_audit_event(struct gh_req *r, struct store_audit *ev,
                                         const char *action, const char *actor, const char *target,
                                         const char *details)
{
    if (!audit_enabled()) return NULL;
    *ev = (struct store_audit){.actor = actor,
                               .action = action,
                               .target = target,
                               .ip = r->ip,
                               .user_agent = r->user_agent,
                               .request_id = r->request_id,
                               .details = details};
    return ev;
}

enum gh_err gh_body_fields(struct gh_req *r, const struct gh_field *f, size_t n)
{
    char msg[160];
    for (size_t i = 0; i < n; i++) {
        *f[i].out = NULL;
        if (f[i].len) *f[i].len = 0;
    }
    const char *key;
    json_t *v;
    json_object_foreach(r->body, key, v)
    {
        size_t i;
        for (i = 0; i < n && strcmp(key, f[i].name) != 0; i++) {
        }
        if (i == n) {
            /* Echo the name only if it is short, printable ASCII. */
            bool safe = strlen(key) <= 40;
            for (const char *p = key; safe && *p; p++)
                safe = *p >= 0x20 && *p < 0x7f && *p != '"';
            snprintf(msg, sizeof msg, "Unknown field%s%s%s.", safe ? " '" : "", safe ? key : "",
                     safe ? "'" : "");
            gh_fail_msg(r, GH_E_UNKNOWN_FIELD, msg);
            return GH_ERR_INVALID;
        }
        if (!json_is_string(v)) {
            snprintf(msg, sizeof msg, "Field '%s' must be a string.", f[i].name);
            gh_fail_msg(r, GH_E_INVALID_FIELD, msg);
            return GH_ERR_INVALID;
        }
        size_t len = json_string_length(v);
        if (memchr(json_string_value(v), '\0', len)) {
            snprintf(msg, sizeof msg, "Field '%s' must not contain NUL characters.", f[i].name);
            gh_fail_msg(r, GH_E_INVALID_FIELD, msg);
            return GH_ERR_INVALID;
        }
        *f[i].out = json_string_value(v);
        if (f[i].len) *f[i].len = len;
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].required && !*f[i].out) {
            snprintf(msg, sizeof msg, "Field '%s' is required.", f[i].name);
            gh_fail_msg(r, GH_E_MISSING_FIELD, msg);
            return GH_ERR_INVALID;
        }
    }
    return GH_OK;
}

/* ---- sending ---- */

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
    default:
        return "OTHER";
    }
}

static int method_of(struct evhttp_request *ev)
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
    default:
        return 0;
    }
}

/* ---- request log: one JSON line per request, batched per loop ---- */

#define LOGBUF_SIZE LOGBUF_SIZE_ /* <= PIPE_BUF: a flush never interleaves */

static void log_flush(struct gh_loop *l)
{
    if (l->loglen) gh_log_write(l->logbuf, l->loglen);
    l->loglen = 0;
}

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    log_flush(arg);
}

/* Appends s as a JSON string body (quotes added by the caller). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

/* Written by hand, not through jansson: it runs on every request, and every
 * value is either ours or escaped. The loop flushes the batch when it has
 * nothing else to do (lowest-priority event) or when the buffer is full.
 * user_id may be NULL. */
static void log_line(struct gh_loop *l, const char *request_id, int method, const char *route,
                     int status, int64_t start_us, const char *user_id)
{
    char line[512], ts[25], uid[STORE_ID_LEN * 6 + 1], rid[(GH_REQUEST_ID_MAX + 1) * 6];
    gh_log_ts(ts);
    json_escape(rid, sizeof rid, request_id);
    int64_t us = gh_mono_us() - start_us;
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"info\",\"request_id\":\"%s\",\"method\":\"%s\","
                     "\"route\":\"%s\",\"status\":%d,\"duration_ms\":%lld.%03lld",
                     ts, rid, gh_method_name(method), route, status, (long long)(us / 1000),
                     (long long)(us % 1000));
    if (n < 0 || (size_t)n >= sizeof line - 64) return;
    if (user_id) {
        json_escape(uid, sizeof uid, user_id);
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"user_id\":\"%s\"", uid);
    }
    if ((size_t)n + 2 >= sizeof line) return;
    line[n++] = '}';
    line[n++] = '\n';
    if (l->loglen + (size_t)n > LOGBUF_SIZE) log_flush(l);
    if (l->loglen == 0) event_active(l->log_ev, EV_WRITE, 0);
    memcpy(l->logbuf + l->loglen, line, (size_t)n);
    l->loglen += (size_t)n;
}

static void log_request(struct gh_req *r, int method)
{
    const char *route = !r->route ? "unmatched" : r->route->name ? r->route->name : r->route->path;
    log_line(r->loop, r->request_id, method, route, r->status, r->start_us,
             r->authed ? r->ident.user_id : NULL);
}

static void free_req(struct gh_req *r)
{
    gh_wipe(r->token, sizeof r->token);
    gh_wipe(r->set_session, sizeof r->set_session);
    gh_wipe(r->csrf, sizeof r->csrf);
    gh_json_wipe(r->body);
    gh_json_wipe(r->resp);
    if (r->body) json_decref(r->body);
    if (r->resp) json_decref(r->resp);
    free(r->resp_text);
    free(r);
}

#define SPARE_MAX 64

/* A zeroed request struct, from the loop's spares when it has one: a
 * fresh 6 KiB calloc per request showed up as 10 % of /v1/me in perf. */
static struct gh_req *req_get(struct gh_loop *l)
{
    struct gh_req *r = l->spare;
    if (!r) return calloc(1, sizeof *r);
    l->spare = r->next;
    l->nspare--;
    memset(r, 0, sizeof *r);
    return r;
}

/* Releases r's contents; keeps the struct for reuse on its loop. */
static void req_put(struct gh_req *r)
{
    struct gh_loop *l = r->loop;
    gh_wipe(r->token, r->token_len);
    r->token_len = 0;
    gh_wipe(r->set_session, sizeof r->set_session);
    gh_wipe(r->csrf, sizeof r->csrf);
    gh_json_wipe(r->body);
    gh_json_wipe(r->resp);
    if (r->body) json_decref(r->body);
    if (r->resp) json_decref(r->resp);
    free(r->resp_text);
    r->resp_text = NULL;
    r->body = r->resp = NULL;
    if (l->nspare >= SPARE_MAX) {
        free(r);
        return;
    }
    r->next = l->spare;
    l->spare = r;
    l->nspare++;
}

static void add_security_headers(struct evkeyvalq *h, const char *cache_control,
                                 const char *request_id)
{
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "strict-origin-when-cross-origin");
    evhttp_add_header(h, "Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    evhttp_add_header(h, "Cache-Control", cache_control);
    evhttp_add_header(h, "X-Request-Id", request_id);
}

/* Set-Cookie for cookie mode: a new or rotated session cookie with its
 * CSRF cookie, or both expired. */
static void set_cookies(struct gh_req *r, struct evkeyvalq *h)
{
    char v[COOKIE_HEADER_MAX], csrf[COOKIE_CSRF_LEN + 1];
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

static void finish(struct gh_req *r)
{
    struct evhttp_request *ev = r->ev;
    struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
    if (r->status == 0) gh_fail_msg(r, GH_E_INTERNAL_ERROR, "Internal error.");

    add_security_headers(h,
                         (r->route && (r->route->flags & R_CACHEABLE) && r->status == 200)
                             ? "public, max-age=300"
                             : "no-store",
                         r->request_id);
    if (r->www_authenticate) evhttp_add_header(h, "WWW-Authenticate", "Bearer");
    set_cookies(r, h);
    add_cors_headers(r, h);
    if (r->idem_replayed) evhttp_add_header(h, "Idempotent-Replayed", "true");
    if (r->rl_name && r->rl.unavailable) { /* no budget is known: Retry-After alone */
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

    /* The body goes straight into the request's own output buffer. */
    struct evbuffer *buf = evhttp_request_get_output_buffer(ev);
    if (r->resp_text) {
        evbuffer_add(buf, r->resp_text, strlen(r->resp_text));
        evhttp_add_header(h, "Content-Type", r->resp_type ? r->resp_type : "text/plain");
    } else if (r->resp) {
        size_t n = json_dumpb(r->resp, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
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
    log_request(r, r->method);
    req_put(r);
}

/* A session made under GATEHOUSE_MFA_REQUIRED for a user without a second
 * factor may only enrol one (and sign out). */
static bool restricted_denied(struct gh_req *r)
{
    if (!r->authed || !r->ident.restricted || (r->route->flags & R_MFA_SETUP)) return false;
    gh_fail(r, GH_E_MFA_ENROLMENT_REQUIRED);
    return true;
}

/* A state-changing request authenticated by cookie needs an Origin /
 * Sec-Fetch-Site that is ours or allowlisted (r->origin_ok) and the CSRF
 * token of its session in X-CSRF-Token. Needs r->ident. */
static bool csrf_denied(struct gh_req *r)
{
    if (!r->cookie_auth || r->method == GH_GET) return false;
    if (r->origin_ok && cookie_csrf_valid(r->ident.session_id, r->csrf, r->csrf_len)) return false;
    gh_log(GH_LOG_WARN, "request %s: CSRF check failed (%s) for session %s", r->request_id,
           r->origin_ok ? "X-CSRF-Token" : "Origin/Sec-Fetch-Site", r->ident.session_id);
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

/* The memory check for either kind of credential. */
static enum authcache_result auth_memory(struct gh_req *r)
{
    if (!r->cookie_auth) return authcache_check(r->token, r->token_len, gh_now_s(), &r->ident);
    uint8_t h[32];
    if (refresh_hash(r->token, r->token_len, h) != GH_OK) return AUTHCACHE_DENY;
    int64_t now = gh_now_s();
    return authcache_check_cookie(h, now, now - gh_cfg.access_ttl, &r->ident);
}

/* Worker: a cookie the memory could not settle (not cached, due for
 * rotation, or just rotated by a parallel request). */
static void cookie_check_store(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
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
        return;
    }
    switch (res) {
    case SESSIONS_REFRESHED:
        r->authed = true;
        break;
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
}

/* ---- worker side ---- */

static void post_back(struct gh_req *r)
{
    struct gh_loop *l = r->loop;
    pthread_mutex_lock(&l->mu);
    r->next = l->inbox;
    l->inbox = r;
    pthread_mutex_unlock(&l->mu);
    event_active(l->wake, EV_READ, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct gh_loop *l = arg;
    pthread_mutex_lock(&l->mu);
    struct gh_req *r = l->inbox;
    l->inbox = NULL;
    pthread_mutex_unlock(&l->mu);
    while (r) {
        struct gh_req *nx = r->next;
        finish(r);
        r = nx;
    }
}

static void work(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    struct gh_req *r = arg;
    /* Checked again here: a revocation may have landed while the request
     * waited in the queue. Memory only, unless the entry was evicted. */
    if ((r->route->flags & R_AUTH) && r->authed) {
        enum authcache_result ar = auth_memory(r);
        if (ar == AUTHCACHE_DENY) {
            r->authed = false;
            if (r->cookie_auth)
                cookie_refused(r, GH_E_INVALID_TOKEN);
            else
                gh_fail(r, GH_E_INVALID_TOKEN);
            post_back(r);
            return;
        }
        if (ar == AUTHCACHE_MISS) r->authed = false;
    }
    if ((r->route->flags & R_AUTH) && !r->authed && r->cookie_auth) {
        cookie_check_store(r, ops, c);
    } else if ((r->route->flags & R_AUTH) && !r->authed) {
        enum gh_err rc =
            authcache_check_store(ops, c, r->token, r->token_len, gh_now_s(), &r->ident);
        if (rc == GH_ERR_DENIED) {
            gh_fail(r, GH_E_INVALID_TOKEN);
        } else if (rc) {
            gh_reply_fail(r, rc);
        } else {
            r->authed = true;
        }
    }
    bool csrf = r->status == 0 && csrf_denied(r); /* here a refusal can be audited */
    if (csrf && audit_denied(r, ops, c, "csrf_failed", NULL)) gh_reply_fail(r, GH_ERR_INTERNAL);
    if (r->status == 0 && !restricted_denied(r) && guard_admit_user(r) && idem_begin(r, ops, c)) {
        r->route->fn(r, ops, c);
        idem_end(r, ops, c);
    }
    post_back(r);
}

/* ---- request intake on the loop ---- */

bool gh_request_id_sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= GH_REQUEST_ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0;
}

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

/* Matches path against routes; sets *param. Returns the route, or NULL
 * with *path_known telling 405 from 404. */
static const struct gh_route *match(const char *path, int method, char *param, bool *path_known)
{
    *path_known = false;
    size_t pl = strlen(path);
    for (size_t i = 0; i < nroutes; i++) {
        const struct gh_route *rt = &routes[i];
        size_t rl = strlen(rt->path);
        bool hit = false;
        if (rl >= 2 && rt->path[rl - 1] == '*') {
            size_t pre = rl - 1;
            if (pl > pre && strncmp(path, rt->path, pre) == 0 && segment_ok(path + pre, pl - pre)) {
                hit = true;
                memcpy(param, path + pre, pl - pre);
                param[pl - pre] = '\0';
            }
        } else {
            hit = strcmp(path, rt->path) == 0;
        }
        if (!hit) continue;
        *path_known = true;
        if (rt->method & method) return rt;
    }
    return NULL;
}

static bool is_json_type(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0) return false;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static void copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[i] = '\0';
}

/* Bearer token from the Authorization header only (never the URL). */
static bool bearer(struct evkeyvalq *in, struct gh_req *r)
{
    const char *a = evhttp_find_header(in, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return false;
    a += 7;
    while (*a == ' ')
        a++;
    size_t n = strlen(a);
    while (n > 0 && a[n - 1] == ' ')
        n--;
    if (n == 0 || n > GH_TOKEN_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    memcpy(r->token, a, n);
    r->token[n] = '\0';
    r->token_len = n;
    gh_wipe((char *)a, n); /* libevent's copy of the header */
    return true;
}

/* The session cookie from every Cookie header: 1 with r->token set, 0 if
 * absent, 2 if sent more than once, -1 if not shaped like a token. */
static int session_cookie(struct evkeyvalq *in, struct gh_req *r)
{
    const char *name = cookie_session_name(), *val = NULL;
    size_t len = 0;
    int found = 0;
    for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        if (strcasecmp(kv->key, "Cookie") != 0) continue;
        const char *v;
        size_t l;
        int n = cookie_find(kv->value, name, &v, &l);
        if (n && !found) {
            val = v;
            len = l;
        }
        found += n;
    }
    if (found == 0) return 0;
    if (found > 1) return 2;
    if (len != REFRESH_TOKEN_LEN) return -1;
    for (size_t i = 0; i < len; i++) {
        char c = val[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return -1;
    }
    memcpy(r->token, val, len);
    r->token[len] = '\0';
    r->token_len = len;
    gh_wipe((char *)val, len); /* libevent's copy of the header */
    return 1;
}

static void request_id_of(struct gh_loop *l, struct evkeyvalq *in, char *out, size_t cap)
{
    const char *rid = evhttp_find_header(in, "X-Request-Id");
    if (rid && gh_request_id_sane(rid))
        snprintf(out, cap, "%s", rid);
    else
        snprintf(out, cap, "%s%016llx", l->rid_prefix, (unsigned long long)l->rid_next++);
}

/* No memory for a request struct: the usual headers, JSON body and log
 * line, built without allocating one. */
static void reply_no_memory(struct gh_loop *l, struct evhttp_request *ev, int64_t start_us)
{
    static const char body[] =
        "{\"error\":{\"code\":\"overloaded\",\"message\":\"The server is busy; try again "
        "shortly.\"}}";
    char rid[GH_REQUEST_ID_MAX + 1];
    struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
    request_id_of(l, evhttp_request_get_input_headers(ev), rid, sizeof rid);
    add_security_headers(h, "no-store", rid);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Connection", "close");
    evbuffer_add(evhttp_request_get_output_buffer(ev), body, sizeof body - 1);
    atomic_fetch_add_explicit(&requests_by_class[5], 1, memory_order_relaxed);
    int method = method_of(ev);
    conn_request_end(ev);
    evhttp_send_reply(ev, 503, reason(503), NULL);
    log_line(l, rid, method, "unmatched", 503, start_us, NULL);
}

/* Bytes a header block holds, roughly as sent ("Key: value\r\n"). */
static size_t headers_size(const struct evkeyvalq *in)
{
    size_t n = 0;
    for (const struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next)
        n += strlen(kv->key) + strlen(kv->value) + 4;
    return n;
}

enum framing { FRAMING_OK, FRAMING_CLOSE, FRAMING_BAD };

/* Message framing that libevent 2.1 accepts but a proxy may read
 * differently (RFC 9112 6.1, 6.3), which is how requests get smuggled:
 * refused, and the connection closed. libevent reads a body only for some
 * methods; on the others its bytes would be parsed as the next request, so
 * such a connection closes after the reply. */
static enum framing framing_of(const struct evkeyvalq *in, enum evhttp_cmd_type cmd)
{
    int ncl = 0, nte = 0;
    const char *cl = NULL, *te = NULL;
    for (const struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        if (!framing_name_ok(kv->key)) return FRAMING_BAD; /* "Transfer-Encoding ", "" */
        if (strcasecmp(kv->key, "Content-Length") == 0) {
            if (!framing_length_ok(kv->value)) return FRAMING_BAD; /* "+2", "1, 1" */
            ncl++;
            cl = kv->value;
        } else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
            nte++;
            te = kv->value;
        }
    }
    if (ncl > 1 || nte > 1 || (cl && te) || (te && strcasecmp(te, "chunked") != 0))
        return FRAMING_BAD;
    bool reads_body = cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_PATCH;
    if (!reads_body && (te || (cl && strcmp(cl, "0") != 0))) return FRAMING_CLOSE;
    /* libevent's chunk parser is lenient (bare-LF size lines, "0x2", no
     * CRLF check after the data): where it thinks a chunked body ends may
     * not be where a proxy did, so nothing after one is read as a request
     * (decision 0017). */
    if (te) return FRAMING_CLOSE;
    return FRAMING_OK;
}

static int method_of_name(const char *m)
{
    static const struct {
        const char *name;
        int m;
    } t[] = {{"GET", GH_GET},
             {"POST", GH_POST},
             {"DELETE", GH_DELETE},
             {"PUT", GH_PUT},
             {"PATCH", GH_PATCH}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(m, t[i].name) == 0) return t[i].m;
    return 0;
}

/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method):
 * answered with 204 and the path's methods only for a listed origin and a
 * route that exists; everything else gets an error and no CORS headers. */
static void preflight(struct gh_req *r, const char *path, const char *origin, const char *want)
{
    if (!cors_origin_allowed(origin)) {
        gh_fail(r, GH_E_ORIGIN_NOT_ALLOWED);
        return;
    }
    bool known = false;
    r->route = match(path, method_of_name(want), r->param, &known);
    if (!r->route) {
        if (known)
            gh_fail(r, GH_E_METHOD_NOT_ALLOWED);
        else
            gh_fail(r, GH_E_NOT_FOUND);
        return;
    }
    size_t o = 0;
    static const char *const names[] = {"GET", "POST", "DELETE", "PUT", "PATCH"};
    for (int i = 0; i < 5; i++) {
        const struct gh_route *rt = match(path, 1 << i, r->param, &known);
        if (rt && strcmp(rt->path, r->route->path) == 0 && o + 8 < sizeof r->cors_methods)
            o += (size_t)snprintf(r->cors_methods + o, sizeof r->cors_methods - o, "%s%s",
                                  o ? ", " : "", names[i]);
    }
    gh_reply(r, 204, NULL);
}

/* After the guard: the loop runs the handler, or a worker does. */
static void admitted(struct gh_req *r, bool ok)
{
    unsigned flags = r->route->flags;
    if (!ok) goto reply;
    if ((flags & R_LOOP) && (!(flags & R_AUTH) || r->authed)) {
        r->route->fn(r, store_ops, NULL);
        goto reply;
    }
    if (pool_submit((flags & R_HASH) ? POOL_HASH : POOL_DB, work, r) == GH_OK) return;
    gh_reply_fail(r, GH_ERR_BUSY);
reply:
    finish(r);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct gh_loop *l = arg;
    int64_t start_us = gh_mono_us();
    bool raw_bad = conn_request_begin(ev); /* also readies the next request's check */
    struct gh_req *r = req_get(l);
    if (!r) {
        reply_no_memory(l, ev, start_us);
        return;
    }
    r->ev = ev;
    r->loop = l;
    r->start_us = start_us;
    struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
    struct evkeyvalq *out = evhttp_request_get_output_headers(ev);
    request_id_of(l, in, r->request_id, sizeof r->request_id);

    struct evhttp_connection *con = evhttp_request_get_connection(ev);
    if (con) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(con, &addr, &port);
        if (addr) proxy_request_ip(in, addr, r->ip, sizeof r->ip);
    }
    copy_printable(r->user_agent, sizeof r->user_agent, evhttp_find_header(in, "User-Agent"));

    if (atomic_load(&draining)) {
        evhttp_add_header(out, "Connection", "close");
        gh_fail(r, GH_E_SHUTTING_DOWN);
        goto reply;
    }
    switch (raw_bad ? FRAMING_BAD : framing_of(in, evhttp_request_get_command(ev))) {
    case FRAMING_BAD:
        evhttp_add_header(out, "Connection", "close");
        gh_fail_msg(r, GH_E_BAD_FRAMING,
                    "Malformed or ambiguous framing (RFC 9112): CRLF line ends, header names "
                    "without spaces, and either one Content-Length of digits or "
                    "Transfer-Encoding: chunked.");
        goto reply;
    case FRAMING_CLOSE:
        evhttp_add_header(out, "Connection", "close");
        break;
    case FRAMING_OK:
        break;
    }
    if (headers_size(in) > GH_HEADERS_MAX) {
        evhttp_add_header(out, "Connection", "close");
        gh_fail(r, GH_E_HEADERS_TOO_LARGE);
        goto reply;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q) snprintf(r->query, sizeof r->query, "%s", q);
    int method = method_of(ev);
    r->method = method;
    bool known = false;
    if (!path || strlen(path) > 1024) {
        gh_fail(r, GH_E_NOT_FOUND);
        goto reply;
    }
    if (evhttp_request_get_command(ev) == EVHTTP_REQ_OPTIONS) {
        const char *origin = evhttp_find_header(in, "Origin");
        const char *want = evhttp_find_header(in, "Access-Control-Request-Method");
        if (origin && want) {
            preflight(r, path, origin, want);
            goto reply;
        }
    }
    r->route = match(path, method, r->param, &known);
    if (!r->route) {
        if (known)
            gh_fail(r, GH_E_METHOD_NOT_ALLOWED);
        else
            gh_fail(r, GH_E_NOT_FOUND);
        goto reply;
    }
    unsigned flags = r->route->flags;

    if (method != GH_GET && cookie_available())
        r->origin_ok = cookie_request_origin_ok(evhttp_find_header(in, "Origin"),
                                                evhttp_find_header(in, "Sec-Fetch-Site"));

    /* The session a cookie sign-in replaces (accounts_http.c ends it). */
    if ((flags & R_SIGNIN) && cookie_available() && session_cookie(in, r) != 1) {
        gh_wipe(r->token, sizeof r->token);
        r->token_len = 0;
    }

    if (flags & R_AUTH) {
        /* An Authorization header decides alone: the cookie is not read,
         * not even when the header is bad (decision 0011). */
        if (!evhttp_find_header(in, "Authorization") && cookie_available()) {
            int got = session_cookie(in, r);
            if (got == 2) {
                gh_fail(r, GH_E_DUPLICATE_COOKIE);
                goto reply;
            }
            if (got == 0) {
                gh_fail(r, GH_E_INVALID_TOKEN);
                goto reply;
            }
            r->cookie_auth = true;
            if (got < 0) {
                cookie_refused(r, GH_E_INVALID_TOKEN);
                goto reply;
            }
        } else if (!bearer(in, r)) {
            gh_fail(r, GH_E_INVALID_TOKEN);
            goto reply;
        }
        switch (auth_memory(r)) {
        case AUTHCACHE_DENY:
            if (r->cookie_auth)
                cookie_refused(r, GH_E_INVALID_TOKEN);
            else
                gh_fail(r, GH_E_INVALID_TOKEN);
            goto reply;
        case AUTHCACHE_OK:
            r->authed = true;
            break;
        case AUTHCACHE_MISS:
            break;
        }
        if (r->cookie_auth && method != GH_GET) {
            const char *ct = evhttp_find_header(in, "X-CSRF-Token");
            size_t cl = ct ? strlen(ct) : 0;
            if (cl > 0 && cl <= COOKIE_CSRF_LEN) {
                memcpy(r->csrf, ct, cl);
                r->csrf[cl] = '\0';
                r->csrf_len = cl;
            }
            /* The origin now; the token once the session is known. */
            if ((!r->origin_ok || r->authed) && csrf_denied(r)) goto reply;
        }
    }

    if (flags & R_BODY) {
        if (!is_json_type(evhttp_find_header(in, "Content-Type"))) {
            gh_fail(r, GH_E_UNSUPPORTED_MEDIA_TYPE);
            goto reply;
        }
        struct evbuffer *b = evhttp_request_get_input_buffer(ev);
        size_t len = evbuffer_get_length(b);
        if (len > gh_cfg.max_body) {
            gh_fail(r, GH_E_BODY_TOO_LARGE);
            goto reply;
        }
        char *data = (char *)evbuffer_pullup(b, -1);
        json_error_t jerr;
        r->body = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
        gh_wipe(data, len); /* the raw body may hold a password */
        if (!r->body || !json_is_object(r->body)) {
            gh_fail_msg(r, GH_E_INVALID_JSON,
                        r->body ? "The body must be a JSON object."
                                : "The body is not valid JSON (UTF-8, no NUL, no duplicate "
                                  "keys).");
            goto reply;
        }
    }

    if (restricted_denied(r)) goto reply;
    const char *ik =
        (flags & R_AUTH) && method != GH_GET ? evhttp_find_header(in, "Idempotency-Key") : NULL;
    if (ik && !idem_key_valid(ik)) {
        gh_fail(r, GH_E_INVALID_IDEMPOTENCY_KEY);
        goto reply;
    }
    if (ik) snprintf(r->idem_key, sizeof r->idem_key, "%s", ik);
    if (guard_wants_batch(r)) { /* admitted with the others read in this pass */
        r->next = NULL;
        if (l->admit_tail)
            l->admit_tail->next = r;
        else
            l->admit_head = r;
        l->admit_tail = r;
        if (r == l->admit_head) event_active(l->admit_ev, EV_READ, 0);
        return;
    }
    admitted(r, guard_admit(r));
    return;
reply:
    finish(r);
}

/* Runs once the loop has read every request that was ready: they are
 * admitted together, then go on one by one. */
static void on_admit(evutil_socket_t fd, short what, void *arg)
{
    struct gh_loop *l = arg;
    struct gh_req *r = l->admit_head;
    l->admit_head = l->admit_tail = NULL;
    while (r) {
        struct gh_req *batch[32];
        bool ok[32];
        int n = 0;
        for (; r && n < 32; r = r->next)
            batch[n++] = r;
        guard_admit_batch(batch, n, ok);
        for (int i = 0; i < n; i++)
            admitted(batch[i], ok[i]);
    }
}

/* ---- loops ---- */

static evutil_socket_t listen_socket(const char *host, int *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", *port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) {
        gh_log(GH_LOG_ERROR, "GATEHOUSE_LISTEN: cannot resolve %s", host);
        return -1;
    }
    evutil_socket_t fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        gh_log(GH_LOG_ERROR, "cannot listen on %s:%d: %s", host, *port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    if (*port == 0) { /* an ephemeral port: the other loops join the same one */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

static void *loop_main(void *arg)
{
    struct gh_loop *l = arg;
    /* Not "until empty": while draining, a loop with no listener and no
     * active connection must still be there for replies coming back. */
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

#define MAX_PERIODIC 8
static struct periodic {
    gh_periodic_fn fn;
    int interval;
    bool at_start;
    struct event *ev;
    _Atomic bool running; /* never two runs of one job at once */
} periodic[MAX_PERIODIC];
static int nperiodic;

void server_add_periodic(gh_periodic_fn fn, int interval_s, bool at_start)
{
    if (nperiodic < MAX_PERIODIC)
        periodic[nperiodic++] = (struct periodic){fn, interval_s, at_start, NULL, false};
}

static void periodic_job(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    struct periodic *p = arg;
    p->fn(ops, c);
    atomic_store(&p->running, false);
}

static void on_periodic(evutil_socket_t fd, short what, void *arg)
{
    struct periodic *p = arg;
    if (atomic_exchange(&p->running, true)) return; /* the last run is still going */
    if (pool_submit(POOL_DB, periodic_job, arg) != GH_OK) {
        atomic_store(&p->running, false);
        gh_log(GH_LOG_WARN, "periodic job skipped: worker queue full");
    }
}

/* Graceful stop: stop accepting, answer new requests on open connections
 * with 503, let every queued job finish and its reply go out, then exit.
 * (Jobs already queued commit their work, so their replies must be sent:
 * a client that never sees its rotated refresh token would later present
 * the spent one and be signed out everywhere.) */
static struct event *drain_ev;
static int64_t drain_deadline_us, drain_quiet_since_us;

static void stop_accepting(evutil_socket_t fd, short what, void *arg)
{
    struct gh_loop *l = arg;
    conn_loop_stop(l->conn);
}

static void exit_all(void)
{
    for (int i = 0; i < nloops; i++)
        event_base_loopexit(loops[i].base, NULL);
}

static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    bool idle = pool_pending() == 0;
    for (int i = 0; idle && i < nloops; i++) {
        pthread_mutex_lock(&loops[i].mu);
        idle = loops[i].inbox == NULL;
        pthread_mutex_unlock(&loops[i].mu);
    }
    int64_t now = gh_mono_us();
    if (!idle)
        drain_quiet_since_us = 0;
    else if (!drain_quiet_since_us)
        drain_quiet_since_us = now;
    /* Quiet for 100 ms: the last replies have left the output buffers. */
    if ((drain_quiet_since_us && now - drain_quiet_since_us > 100000) || now > drain_deadline_us) {
        if (now > drain_deadline_us) gh_log(GH_LOG_WARN, "shutdown: gave up waiting for jobs");
        exit_all();
    }
}

bool server_draining(void)
{
    return atomic_load(&draining);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    if (atomic_exchange(&draining, true)) {
        gh_log(GH_LOG_WARN, "signal %d again: exiting now", (int)sig);
        exit_all();
        return;
    }
    gh_log(GH_LOG_INFO, "signal %d: draining, then shutting down", (int)sig);
    struct timeval zero = {0, 0}, tick = {0, 20000};
    for (int i = 0; i < nloops; i++)
        event_base_once(loops[i].base, -1, EV_TIMEOUT, stop_accepting, &loops[i], &zero);
    drain_deadline_us = gh_mono_us() + 10 * 1000000;
    drain_ev = event_new(loops[0].base, -1, EV_PERSIST, on_drain_check, NULL);
    if (!drain_ev || event_add(drain_ev, &tick) != 0) exit_all();
}

static enum gh_err loop_setup(struct gh_loop *l, int idx, int *port)
{
    l->idx = idx;
    pthread_mutex_init(&l->mu, NULL);
    l->fd = -1;
    /* The epoll changelist coalesces the read/write re-arming evhttp does on
     * every request into fewer epoll_ctl calls (bench/README.md). */
    struct event_config *cfg = event_config_new();
    if (!cfg) return GH_ERR_NOMEM;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    l->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!l->base) return GH_ERR_INTERNAL;
    /* Three priorities: the log flush (2) runs only when the loop has
     * nothing more urgent; everything else is at the default (1). */
    if (event_base_priority_init(l->base, 3) != 0) return GH_ERR_INTERNAL;
    l->log_ev = event_new(l->base, -1, 0, on_log_flush, l);
    if (!l->log_ev || event_priority_set(l->log_ev, 2) != 0) return GH_ERR_INTERNAL;
    uint8_t raw[8];
    gh_random(raw, sizeof raw);
    gh_hex(l->rid_prefix, raw, sizeof raw);
    l->wake = event_new(l->base, -1, 0, on_wake, l);
    l->admit_ev = event_new(l->base, -1, 0, on_admit, l);
    l->http = evhttp_new(l->base);
    if (!l->wake || !l->admit_ev || !l->http) return GH_ERR_INTERNAL;
    /* libevent answers in its own HTML, without our headers or log line,
     * anything beyond these ceilings (it has no error hook before 2.2); up
     * to them it hands the request over and we answer 413/431 in JSON. */
    size_t hard = gh_cfg.max_body * 4 < (1u << 20) ? (1u << 20) : gh_cfg.max_body * 4;
    evhttp_set_max_body_size(l->http, (ev_ssize_t)hard);
    evhttp_set_max_headers_size(l->http, GH_HEADERS_CEILING);
    evhttp_set_timeout(l->http, 30);
    /* Every method reaches us so that we, not libevent's 501 page, answer. */
    evhttp_set_allowed_methods(l->http,
                               EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                   EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH | GH_EVHTTP_REQ_UNKNOWN);
    evhttp_set_gencb(l->http, on_request, l);
    l->fd = listen_socket(gh_cfg.listen_host, port);
    if (l->fd < 0) return GH_ERR_CONFIG;
    l->conn = conn_loop_new(l->base, l->http, l->fd);
    l->fd = -1; /* owned by the connection layer now */
    if (!l->conn) return GH_ERR_INTERNAL;
    return GH_OK;
}

static void loop_teardown(struct gh_loop *l)
{
    /* Requests that came back from workers after the loop stopped. */
    struct gh_req *r = l->inbox;
    while (r) {
        struct gh_req *nx = r->next;
        if (!evhttp_request_get_connection(r->ev)) evhttp_request_free(r->ev);
        free_req(r);
        r = nx;
    }
    l->inbox = NULL;
    while (l->spare) {
        struct gh_req *nx = l->spare->next;
        free(l->spare);
        l->spare = nx;
    }
    conn_loop_stop(l->conn);
    if (l->http) evhttp_free(l->http);
    log_flush(l);
    if (l->log_ev) event_free(l->log_ev);
    if (l->wake) event_free(l->wake);
    if (l->admit_ev) event_free(l->admit_ev);
    if (l->base) event_base_free(l->base);
    conn_loop_free(l->conn); /* after the base: its last connections report to it */
    pthread_mutex_destroy(&l->mu);
}

enum gh_err server_run(const struct gh_route *rts, size_t nrts)
{
    routes = rts;
    nroutes = nrts;
    store_ops = store_backend();
    if (evthread_use_pthreads() != 0) return GH_ERR_INTERNAL;
    signal(SIGPIPE, SIG_IGN);

    int lanes[POOL_LANES] = {[POOL_DB] = gh_cfg.workers, [POOL_HASH] = gh_cfg.hash_workers};
    enum gh_err rc =
        conn_init(gh_cfg.max_connections, gh_cfg.loops, gh_cfg.workers + gh_cfg.hash_workers);
    if (rc == GH_OK) rc = pool_start(lanes, store_ops, gh_cfg.db_path);
    nloops = gh_cfg.loops;
    loops = calloc((size_t)nloops, sizeof *loops);
    if (!loops) rc = GH_ERR_NOMEM;
    int port = gh_cfg.listen_port;
    for (int i = 0; rc == GH_OK && i < nloops; i++)
        rc = loop_setup(&loops[i], i, &port);

    struct event *sigterm = NULL, *sigint = NULL;
    for (int i = 0; rc == GH_OK && i < nperiodic; i++) {
        struct timeval iv = {.tv_sec = periodic[i].interval};
        periodic[i].ev = event_new(loops[0].base, -1, EV_PERSIST, on_periodic, &periodic[i]);
        if (!periodic[i].ev || event_add(periodic[i].ev, &iv) != 0)
            rc = GH_ERR_INTERNAL;
        else if (periodic[i].at_start)
            event_active(periodic[i].ev, EV_TIMEOUT, 0);
    }
    if (rc == GH_OK) {
        sigterm = evsignal_new(loops[0].base, SIGTERM, on_signal, NULL);
        sigint = evsignal_new(loops[0].base, SIGINT, on_signal, NULL);
        if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL))
            rc = GH_ERR_INTERNAL;
    }
    int started = 0;
    if (rc == GH_OK) {
        gh_log(GH_LOG_INFO,
               "gatehouse %s listening on http://%s:%d (%s mode, %d loops, %d workers)", GH_VERSION,
               gh_cfg.listen_host, port, gh_cfg.production ? "production" : "development", nloops,
               gh_cfg.workers);
        for (int i = 1; i < nloops; i++) {
            if (pthread_create(&loops[i].thread, NULL, loop_main, &loops[i]) != 0) {
                rc = GH_ERR_INTERNAL;
                for (int j = 0; j < nloops; j++)
                    event_base_loopexit(loops[j].base, NULL);
                break;
            }
            started = i;
        }
        event_base_loop(loops[0].base, EVLOOP_NO_EXIT_ON_EMPTY);
        for (int i = 1; i <= started; i++)
            pthread_join(loops[i].thread, NULL);
    }
    if (sigterm) event_free(sigterm);
    if (sigint) event_free(sigint);
    if (drain_ev) event_free(drain_ev);
    drain_ev = NULL;
    for (int i = 0; i < nperiodic; i++)
        if (periodic[i].ev) event_free(periodic[i].ev);
    pool_stop();
    for (int i = 0; loops && i < nloops; i++)
        loop_teardown(&loops[i]);
    free(loops);
    loops = NULL;
    conn_cleanup();
    return rc;
}
