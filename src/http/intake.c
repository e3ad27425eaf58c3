/* Request intake on the loop, as named steps: who is asking (request id,
 * client address), framing and header caps, routing (and CORS
 * preflights), credentials, the body, then admission (the guard's budgets,
 * alone or in the loop's batch), after which the loop runs the handler or a
 * worker does. work() is the worker's side of the same steps. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "core/config.h"
#include "core/util.h"
#include "guard/cors.h"
#include "guard/guard.h"
#include "guard/proxy.h"
#include "http/conn.h"
#include "http/framing.h"
#include "http/idempotency.h"
#include "http/internal.h"
#include "http/pool.h"
#include "http/reqparse.h"
#include "http/routes.h"
#include "pages/pages_http.h"
#include "sessions/cookie.h"

static const struct gh_route *routes;
static size_t nroutes;
static const struct store_ops *store_ops;

void http_intake_setup(const struct gh_route *rts, size_t nrts, const struct store_ops *ops)
{
    routes = rts;
    nroutes = nrts;
    store_ops = ops;
}

/* ---- worker side ---- */

static void work(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    struct gh_req *r = arg;
    if (r->route->flags & R_GATE) { /* no CSRF, restriction or user budget (credentials.c) */
        if (http_gate_settle(r, ops, c)) r->route->fn(r, ops, c);
        http_post_back(r);
        return;
    }
    if ((r->route->flags & R_AUTH) && !http_credentials_settle(r, ops, c)) {
        http_post_back(r);
        return;
    }
    bool csrf = r->status == 0 && http_csrf_denied(r); /* here a refusal can be audited */
    if (csrf && gh_audit_denied(r, ops, c, "csrf_failed", NULL)) gh_reply_fail(r, GH_ERR_INTERNAL);
    if (r->status == 0 && !http_restricted_denied(r) && http_admit_user(r)) idem_run(r, ops, c);
    http_post_back(r);
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

/* Matches path against routes; sets *param. Returns the route, or NULL
 * with *path_known telling 405 from 404. */
static const struct gh_route *match(const char *path, int method, char *param, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < nroutes; i++) {
        const struct gh_route *rt = &routes[i];
        bool hit = strchr(rt->path, '*') ? gh_route_path_match(rt->path, path, param)
                                         : strcmp(path, rt->path) == 0;
        if (!hit) continue;
        *path_known = true;
        if ((rt->method & method) || (rt->flags & R_GATE)) return rt; /* the gate: any method */
    }
    return NULL;
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

void http_request_id_of(struct gh_loop *l, struct evkeyvalq *in, char *out, size_t cap)
{
    const char *rid = evhttp_find_header(in, "X-Request-Id");
    if (rid && gh_request_id_sane(rid))
        snprintf(out, cap, "%s", rid);
    else
        snprintf(out, cap, "%s%016llx", l->rid_prefix, (unsigned long long)l->rid_next++);
}

/* Bytes a header block holds, roughly as sent ("Key: value\r\n"). */
static size_t headers_size(const struct evkeyvalq *in)
{
    size_t n = 0;
    for (const struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next)
        n += strlen(kv->key) + strlen(kv->value) + 4;
    return n;
}

/* The body framing verdict over the parsed headers (http/framing.c). */
static enum framing_body framing_of(const struct evkeyvalq *in, enum evhttp_cmd_type cmd)
{
    struct framing_headers h = {0};
    for (const struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next)
        framing_headers_add(&h, kv->key, kv->value);
    bool reads_body = cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_PATCH;
    return framing_headers_verdict(&h, reads_body);
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

/* After the guard: the loop runs the handler, or a worker does. The gate
 * runs on the loop unless its credential needs the store. */
static void admitted(struct gh_req *r, bool ok)
{
    unsigned flags = r->route->flags;
    if (!ok) goto reply;
    bool on_loop = (flags & R_GATE) ? !r->cred_pending : !(flags & R_AUTH) || r->authed;
    if ((flags & R_LOOP) && on_loop) {
        r->route->fn(r, store_ops, NULL);
        goto reply;
    }
    enum pool_lane lane = (flags & R_HASH) ? POOL_HASH : (flags & R_NET) ? POOL_NET : POOL_DB;
    if (pool_submit(lane, work, r) == GH_OK) return;
    gh_reply_fail(r, GH_ERR_BUSY);
reply:
    http_finish(r);
}

/* Step 1, who is asking: the request id, the client address (behind a
 * trusted proxy: the client's) and the User-Agent, which every reply and
 * audit row needs. */
static void intake_client(struct gh_loop *l, struct gh_req *r, struct evkeyvalq *in)
{
    struct evhttp_request *ev = r->ev;
    http_request_id_of(l, in, r->request_id, sizeof r->request_id);
    struct evhttp_connection *con = evhttp_request_get_connection(ev);
    if (con) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(con, &addr, &port);
        if (addr) proxy_request_ip(in, addr, r->ip, sizeof r->ip);
    }
    copy_printable(r->user_agent, sizeof r->user_agent, evhttp_find_header(in, "User-Agent"));
}

/* Step 2, framing and header caps: a draining server, ambiguous framing
 * (raw_bad: the connection layer's scan of the raw bytes) and an oversized
 * header block are answered and the connection closed. false: r's reply is
 * set. */
static bool intake_framing(struct gh_req *r, struct evkeyvalq *in, bool raw_bad)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    if (server_draining()) {
        evhttp_add_header(out, "Connection", "close");
        gh_fail(r, GH_E_SHUTTING_DOWN);
        return false;
    }
    switch (raw_bad ? FRAMING_BODY_BAD : framing_of(in, evhttp_request_get_command(r->ev))) {
    case FRAMING_BODY_BAD:
        evhttp_add_header(out, "Connection", "close");
        gh_fail_msg(r, GH_E_BAD_FRAMING,
                    "Malformed or ambiguous framing (RFC 9112): CRLF line ends, header names "
                    "without spaces, and either one Content-Length of digits or "
                    "Transfer-Encoding: chunked.");
        return false;
    case FRAMING_BODY_CLOSE:
        evhttp_add_header(out, "Connection", "close");
        break;
    case FRAMING_BODY_OK:
        break;
    }
    if (headers_size(in) > GH_HEADERS_MAX) {
        evhttp_add_header(out, "Connection", "close");
        gh_fail(r, GH_E_HEADERS_TOO_LARGE);
        return false;
    }
    return true;
}

/* Step 3, routing: the route (and r->param), the query, or a CORS
 * preflight answered here. false: r's reply is set. */
static bool intake_route(struct gh_req *r, struct evkeyvalq *in)
{
    struct evhttp_request *ev = r->ev;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q) snprintf(r->query, sizeof r->query, "%s", q);
    r->method = http_method_of(ev);
    bool known = false;
    if (!path || strlen(path) > 1024) {
        gh_fail(r, GH_E_NOT_FOUND);
        return false;
    }
    if (evhttp_request_get_command(ev) == EVHTTP_REQ_OPTIONS) {
        const char *origin = evhttp_find_header(in, "Origin");
        const char *want = evhttp_find_header(in, "Access-Control-Request-Method");
        /* A proxy that forwards the original method sends the gate a
         * browser's preflight as it is: the gate answers it, not CORS. */
        const struct gh_route *gate = match(path, GH_OPTIONS, r->param, &known);
        if (origin && want && !(gate && (gate->flags & R_GATE))) {
            preflight(r, path, origin, want);
            return false;
        }
    }
    r->route = match(path, r->method, r->param, &known);
    if (!r->route) {
        if (known) {
            gh_fail(r, GH_E_METHOD_NOT_ALLOWED);
        } else {
            /* a browser's mistyped page gets a page (pages_http.h) */
            r->route = pages_not_found_route(r->method, path, evhttp_find_header(in, "Accept"));
            gh_fail(r, GH_E_NOT_FOUND);
        }
        return false;
    }
    return true;
}

/* Step 4, credentials: whether a state-changing request's origin is ours,
 * the session a cookie sign-in replaces, and for R_AUTH routes the
 * credential checkers (credentials.c). false: r's reply is set. */
static bool intake_credentials(struct gh_req *r, struct evkeyvalq *in)
{
    unsigned flags = r->route->flags;
    if (flags & R_GATE) return http_gate_intake(r, in); /* gate_intake.c */
    if (r->method != GH_GET && cookie_available())
        r->origin_ok = cookie_request_origin_ok(evhttp_find_header(in, "Origin"),
                                                evhttp_find_header(in, "Sec-Fetch-Site"));

    /* A page's form-token cookie (pages/form_token.h: made, reused or
     * checked with the body, R_FORM) and a page sign-in's mfa cookie. Read
     * first: reading the session cookie wipes its bytes in the Cookie
     * header, which ends the header's string there for every later read. */
    if ((flags & R_PAGE) && cookie_available()) http_page_cookies(r, in);
    /* The session a cookie sign-in replaces (accounts/signin.c ends it). */
    if ((flags & R_SIGNIN) && cookie_available()) http_signin_cookie(r, in);

    return !(flags & R_AUTH) || http_credentials_check(r, in);
}

/* Step 5, the body of an R_BODY route: the type its profile accepts, its
 * size, and strict JSON (one object, no duplicate keys) or, on a page, a
 * strict form, read into the same object of strings. false: r's reply is
 * set. */
static bool intake_body(struct gh_req *r, struct evkeyvalq *in)
{
    if (!(r->route->flags & R_BODY)) return !http_form_token_denied(r); /* no field: refused */
    /* A DELETE's body is optional (DELETE /v1/identities/{provider}):
     * none at all reads as an empty object. */
    if (r->method == GH_DELETE && !evhttp_find_header(in, "Content-Type") &&
        evbuffer_get_length(evhttp_request_get_input_buffer(r->ev)) == 0)
        return true;
    const struct gh_profile_info *prof = gh_profile_of(gh_route_profile(r->route));
    if (!reqparse_content_type_is(evhttp_find_header(in, "Content-Type"), prof->body_type)) {
        gh_fail_msg(r, GH_E_UNSUPPORTED_MEDIA_TYPE, prof->body_type_message);
        return false;
    }
    struct evbuffer *b = evhttp_request_get_input_buffer(r->ev);
    size_t len = evbuffer_get_length(b);
    if (len > gh_cfg.max_body) {
        gh_fail(r, GH_E_BODY_TOO_LARGE);
        return false;
    }
    char *data = (char *)evbuffer_pullup(b, -1);
    bool form = gh_route_profile(r->route) == GH_PROFILE_PAGE;
    enum reqparse_body res =
        form ? reqparse_form_body(data, len, &r->body) : reqparse_json_body(data, len, &r->body);
    gh_wipe(data, len); /* the raw body may hold a password */
    if (res == REQPARSE_BODY_NOMEM) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return false;
    }
    if (res == REQPARSE_BODY_OK && form && !http_form_csrf(r)) return false;
    if (res != REQPARSE_BODY_OK) {
        if (form)
            gh_fail_msg(r, GH_E_INVALID_FIELD,
                        "The form is not valid: name=value pairs joined by '&', each name once, "
                        "percent-encoded UTF-8 without NUL.");
        else
            gh_fail_msg(r, GH_E_INVALID_JSON,
                        res == REQPARSE_BODY_NOT_OBJECT
                            ? "The body must be a JSON object."
                            : "The body is not valid JSON (UTF-8, no NUL, no duplicate keys).");
        return false;
    }
    return true;
}

/* Step 6, admission: the enrolment restriction, the Idempotency-Key, then
 * the guard's budgets, now or with the others read in this pass. false:
 * r's reply is set. */
static bool intake_admit(struct gh_loop *l, struct gh_req *r, struct evkeyvalq *in)
{
    if (http_restricted_denied(r)) return false;
    const char *ik = (r->route->flags & R_AUTH) && r->method != GH_GET
                         ? evhttp_find_header(in, "Idempotency-Key")
                         : NULL;
    if (ik && !idem_key_valid(ik)) {
        gh_fail(r, GH_E_INVALID_IDEMPOTENCY_KEY);
        return false;
    }
    if (ik) snprintf(r->idem_key, sizeof r->idem_key, "%s", ik);
    if (http_wants_batch(r)) { /* admitted with the others read in this pass */
        r->next = NULL;
        if (l->admit_tail)
            l->admit_tail->next = r;
        else
            l->admit_head = r;
        l->admit_tail = r;
        if (r == l->admit_head) event_active(l->admit_ev, EV_READ, 0);
        return true;
    }
    admitted(r, http_admit(r));
    return true;
}

void http_on_request(struct evhttp_request *ev, void *arg)
{
    struct gh_loop *l = arg;
    int64_t start_us = gh_mono_us();
    bool raw_bad = conn_request_begin(ev); /* also readies the next request's check */
    struct gh_req *r = http_req_get(l);
    if (!r) {
        http_reply_no_memory(l, ev, start_us);
        return;
    }
    r->ev = ev;
    r->loop = l;
    r->start_us = start_us;
    struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
    intake_client(l, r, in);
    if (intake_framing(r, in, raw_bad) && intake_route(r, in) && intake_credentials(r, in) &&
        intake_body(r, in) && intake_admit(l, r, in))
        return; /* the loop, a worker or the batch replies */
    http_finish(r);
}

/* Runs once the loop has read every request that was ready: they are
 * admitted together, then go on one by one. */
void http_on_admit(evutil_socket_t fd, short what, void *arg)
{
    struct gh_loop *l = arg;
    struct gh_req *r = l->admit_head;
    l->admit_head = l->admit_tail = NULL;
    while (r) {
        struct gh_req *batch[HTTP_ADMIT_BATCH];
        bool ok[HTTP_ADMIT_BATCH];
        int n = 0;
        for (; r && n < HTTP_ADMIT_BATCH; r = r->next)
            batch[n++] = r;
        http_admit_batch(batch, n, ok);
        for (int i = 0; i < n; i++)
            admitted(batch[i], ok[i]);
    }
}
