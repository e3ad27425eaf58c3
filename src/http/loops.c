/* The event loops: one per core, each with its listener, inbox and timers;
 * the spare request structs each loop reuses; signals, the graceful drain
 * and the timers of the periodic jobs; server_run. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/thread.h>
#include <event2/util.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "http/conn.h"
#include "http/internal.h"
#include "http/pool.h"

/* libevent 2.1 marks a method it does not know (PROPFIND, ...) with this
 * private bit (http-internal.h) and answers 501 itself unless the bit is
 * allowed; 2.2 parses such methods differently and has no such bit. */
#if LIBEVENT_VERSION_NUMBER < 0x02020000
#define GH_EVHTTP_REQ_UNKNOWN (1 << 15)
#else
#define GH_EVHTTP_REQ_UNKNOWN 0
#endif

static struct gh_loop *loops;
static _Atomic bool draining; /* set by the first SIGTERM/SIGINT */
static int nloops;

/* ---- the request pool ---- */

/* Wipes the secrets a request held and frees what it owns; the struct
 * itself stays. Only the written prefix of the token and of the extra
 * headers is wiped (the hot path puts a request back per reply). */
static void req_clear(struct gh_req *r)
{
    gh_wipe(r->token, r->token_len);
    r->token_len = 0;
    gh_wipe(r->set_session, sizeof r->set_session);
    gh_wipe(r->csrf, sizeof r->csrf);
    gh_json_wipe(r->body);
    gh_json_wipe(r->resp);
    if (r->body) json_decref(r->body);
    if (r->resp) json_decref(r->resp);
    /* A page may show a secret: backup codes, a TOTP key, a form token, an
     * emailed link's token. */
    if (r->resp_text) gh_wipe(r->resp_text, r->resp_len);
    free(r->resp_text);
    r->resp_text = NULL;
    r->body = r->resp = NULL;
    if (r->reply_hdr_used) gh_wipe(r->reply_hdr, r->reply_hdr_used);
    for (int i = 0; i < r->set_cookie_n; i++)
        gh_wipe(r->set_cookie[i], sizeof r->set_cookie[i]);
    gh_wipe(r->form_cookie, sizeof r->form_cookie);
    gh_wipe(r->mfa_cookie, sizeof r->mfa_cookie);
    gh_wipe(r->link_cookie, sizeof r->link_cookie);
    gh_wipe(r->oauth_cookie, sizeof r->oauth_cookie);
}

void http_req_free(struct gh_req *r)
{
    gh_wipe(r->token, sizeof r->token);
    req_clear(r);
    free(r->gate);
    free(r);
}

#define SPARE_MAX 64

/* A zeroed request struct, from the loop's spares when it has one: a
 * fresh 6 KiB calloc per request showed up as 10 % of /v1/me in perf. */
struct gh_req *http_req_get(struct gh_loop *l)
{
    struct gh_req *r = l->spare;
    if (!r) return calloc(1, sizeof *r);
    l->spare = r->next;
    l->nspare--;
    /* Not the extra-header buffer: only its used prefix means anything. */
    memset(r, 0, offsetof(struct gh_req, reply_hdr));
    return r;
}

void http_req_put(struct gh_req *r)
{
    struct gh_loop *l = r->loop;
    req_clear(r);
    if (l->nspare >= SPARE_MAX) {
        free(r->gate);
        free(r);
        return;
    }
    r->next = l->spare;
    l->spare = r;
    l->nspare++;
}

/* ---- the inbox: replies coming back from workers ---- */

void http_post_back(struct gh_req *r)
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
        http_finish(r);
        r = nx;
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

#define MAX_PERIODIC 12
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

/* SIGHUP: each reload job once, on a worker (never two runs of one). */
#define MAX_RELOAD 4
static struct periodic reload_jobs[MAX_RELOAD];
static int nreload;

void server_on_reload(gh_periodic_fn fn)
{
    if (nreload < MAX_RELOAD) reload_jobs[nreload++] = (struct periodic){fn, 0, false, NULL, false};
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    gh_log(GH_LOG_INFO, "signal %d: reloading", (int)sig);
    for (int i = 0; i < nreload; i++)
        on_periodic(-1, 0, &reload_jobs[i]);
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
    l->log_ev = event_new(l->base, -1, 0, http_on_log_flush, l);
    if (!l->log_ev || event_priority_set(l->log_ev, 2) != 0) return GH_ERR_INTERNAL;
    uint8_t raw[8];
    gh_random(raw, sizeof raw);
    gh_hex(l->rid_prefix, raw, sizeof raw);
    l->wake = event_new(l->base, -1, 0, on_wake, l);
    l->admit_ev = event_new(l->base, -1, 0, http_on_admit, l);
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
    evhttp_set_gencb(l->http, http_on_request, l);
    /* No "text/html; charset=ISO-8859-1" on a reply without a body (the
     * gate's pass): every reply with a body sets its own type. */
    evhttp_set_default_content_type(l->http, NULL);
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
        http_req_free(r);
        r = nx;
    }
    l->inbox = NULL;
    while (l->spare) {
        struct gh_req *nx = l->spare->next;
        free(l->spare->gate);
        free(l->spare);
        l->spare = nx;
    }
    conn_loop_stop(l->conn);
    if (l->http) evhttp_free(l->http);
    http_log_flush(l);
    if (l->log_ev) event_free(l->log_ev);
    if (l->wake) event_free(l->wake);
    if (l->admit_ev) event_free(l->admit_ev);
    if (l->base) event_base_free(l->base);
    conn_loop_free(l->conn); /* after the base: its last connections report to it */
    pthread_mutex_destroy(&l->mu);
}

enum gh_err server_run(const struct gh_route *rts, size_t nrts)
{
    const struct store_ops *store_ops = store_backend();
    http_intake_setup(rts, nrts, store_ops);
    if (evthread_use_pthreads() != 0) return GH_ERR_INTERNAL;
    signal(SIGPIPE, SIG_IGN);

    int lanes[POOL_LANES] = {[POOL_DB] = gh_cfg.workers,
                             [POOL_HASH] = gh_cfg.hash_workers,
                             [POOL_NET] = POOL_NET_WORKERS};
    enum gh_err rc = conn_init(gh_cfg.max_connections, gh_cfg.loops,
                               gh_cfg.workers + gh_cfg.hash_workers + POOL_NET_WORKERS);
    if (rc == GH_OK) rc = pool_start(lanes, store_ops, gh_cfg.db_path);
    nloops = gh_cfg.loops;
    loops = calloc((size_t)nloops, sizeof *loops);
    if (!loops) rc = GH_ERR_NOMEM;
    int port = gh_cfg.listen_port;
    for (int i = 0; rc == GH_OK && i < nloops; i++)
        rc = loop_setup(&loops[i], i, &port);

    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
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
        /* Always caught: SIGHUP's default would end the server. */
        sighup = evsignal_new(loops[0].base, SIGHUP, on_sighup, NULL);
        if (!sighup || evsignal_add(sighup, NULL)) rc = GH_ERR_INTERNAL;
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
    if (sighup) event_free(sighup);
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
