#include "http/conn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "core/log.h"
#include "core/util.h"
#include "http/framing.h"

/* Descriptors kept back from connections: stdio and logs, and per loop
 * (epoll, wake-up, listener) and per worker thread (SQLite file, WAL and
 * shared memory, Redis, SMTP/HTTP client sockets). */
#define RESERVE_BASE 32
#define RESERVE_PER_LOOP 4
#define RESERVE_PER_THREAD 6
#define CAP_MIN 16
#define FD_TABLE_MAX (1 << 20)
#define RETRY_MS 250
/* An episode ends once below 3/4 of the cap with no accept error for 5 s. */
#define EPISODE_QUIET_US (5 * 1000000)

struct conn {
    struct conn_loop *cl;
    struct bufferevent *bev;         /* the connection's, made here for evhttp */
    struct evbuffer_cb_entry *watch; /* on bev's input: sees bytes as they arrive */
    struct conn *prev, *next;        /* the loop's list, least recently active first */
    struct conn *next_new;           /* accepted, closecb not set yet */
    evutil_socket_t fd;
    struct framing_scan scan; /* the current request's header block */
    bool attached;            /* evhttp's close callback is ours */
    bool busy;                /* a request is being answered */
    bool closing;             /* shut down to make room */
    bool fresh, gone;         /* on the loop's fresh list; freed there if gone */
};

struct conn_loop {
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *lev;
    const struct evconnlistener *lev_key; /* set once, never cleared: read by other loops */
    struct evhttp_bound_socket *bound;
    struct event *retry;
    struct event *attach_ev;
    struct conn *head, *tail;
    struct conn *fresh; /* accepted in this pass, waiting for attach_new */
    bool paused, stopped;
};

static int cap;
static _Atomic int open_total;
static _Atomic bool episode;
static _Atomic int64_t last_error_us;
static _Atomic uint64_t episodes, evicted, accept_errors;
static _Atomic int evict_wanted; /* a paused loop with a waiting client and no idle connection */
/* fd -> connection, for on_request (evhttp gives the request's connection
 * and its bufferevent, not our context). Each slot is written by the loop
 * that owns the descriptor; cleared only if still ours (descriptors are
 * reused across loops). */
static _Atomic(struct conn *) *by_fd;
static int nfd;

/* Every loop's state, registered before the loops start (read-only then):
 * the listener's callback argument is evhttp's, not ours. */
#define LOOPS_MAX 256
static struct conn_loop *all_loops[LOOPS_MAX];
static int nall_loops;

int conn_cap(void)
{
    return cap;
}

enum gh_err conn_init(int max_conn, int nloops, int nthreads)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return GH_ERR_INTERNAL;
    if (rl.rlim_cur < rl.rlim_max) { /* a soft limit below the hard one only hurts a server */
        struct rlimit up = rl;
        up.rlim_cur =
            rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_TABLE_MAX ? FD_TABLE_MAX : rl.rlim_max;
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    }
    long limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_TABLE_MAX ? FD_TABLE_MAX
                                                                            : (long)rl.rlim_cur;
    long reserve =
        RESERVE_BASE + (long)RESERVE_PER_LOOP * nloops + (long)RESERVE_PER_THREAD * nthreads;
    long allowed = limit - reserve;
    if (max_conn > 0 && max_conn > allowed) {
        gh_log(GH_LOG_ERROR,
               "GATEHOUSE_MAX_CONNECTIONS=%d is above what the open-file limit allows: %ld (limit "
               "%ld minus %ld kept for the loops, workers, database and logs); raise the limit "
               "(ulimit -n, LimitNOFILE=) or lower the setting",
               max_conn, allowed < 0 ? 0 : allowed, limit, reserve);
        return GH_ERR_CONFIG;
    }
    if (max_conn == 0 && allowed < CAP_MIN) {
        gh_log(GH_LOG_ERROR,
               "the open-file limit %ld leaves too few descriptors for connections (%ld kept for "
               "the loops, workers, database and logs); raise it (ulimit -n, LimitNOFILE=)",
               limit, reserve);
        return GH_ERR_CONFIG;
    }
    cap = max_conn > 0 ? max_conn : (int)allowed;
    nfd = (int)limit;
    by_fd = calloc((size_t)nfd, sizeof *by_fd);
    return by_fd ? GH_OK : GH_ERR_NOMEM;
}

void conn_cleanup(void)
{
    free(by_fd);
    by_fd = NULL;
    nfd = 0;
    nall_loops = 0;
}

/* ---- the list of a loop's connections, least recently active first ---- */

static void list_unlink(struct conn *c)
{
    struct conn_loop *cl = c->cl;
    if (c->prev)
        c->prev->next = c->next;
    else
        cl->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        cl->tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(struct conn *c)
{
    struct conn_loop *cl = c->cl;
    c->prev = cl->tail;
    c->next = NULL;
    if (cl->tail)
        cl->tail->next = c;
    else
        cl->head = c;
    cl->tail = c;
}

static void touch(struct conn *c)
{
    if (c->cl->tail == c) return;
    list_unlink(c);
    list_append(c);
}

/* ---- episodes: one warning when accepting stops, one line when it ends ---- */

static void episode_begin(const char *why)
{
    if (atomic_exchange(&episode, true)) return;
    atomic_fetch_add(&episodes, 1);
    gh_log(GH_LOG_WARN,
           "connection limit reached (%s): %d connections open, cap %d; accepting paused and the "
           "oldest idle connections closed until descriptors free up",
           why, atomic_load(&open_total), cap);
}

static void episode_check(void)
{
    if (!atomic_load(&episode)) return;
    int open = atomic_load(&open_total);
    if ((int64_t)open * 4 > (int64_t)cap * 3 ||
        gh_mono_us() - atomic_load(&last_error_us) < EPISODE_QUIET_US)
        return;
    if (!atomic_exchange(&episode, false)) return;
    gh_log(GH_LOG_INFO,
           "connection limit episode over: %d connections open, cap %d (%llu closed to make room, "
           "%llu failed accepts so far)",
           open, cap, (unsigned long long)atomic_load(&evicted),
           (unsigned long long)atomic_load(&accept_errors));
}

/* ---- pausing and resuming the listener ---- */

static void pause_accepting(struct conn_loop *cl)
{
    if (cl->stopped || cl->paused) return;
    cl->paused = true;
    evconnlistener_disable(cl->lev);
}

static void maybe_resume(struct conn_loop *cl)
{
    if (!cl->paused || cl->stopped || atomic_load(&open_total) >= cap) return;
    cl->paused = false;
    evconnlistener_enable(cl->lev);
}

/* Shuts down up to n of the loop's oldest idle connections (never skip);
 * evhttp reads EOF on each and frees it, which frees its descriptor.
 * Returns how many. */
static int close_idle(struct conn_loop *cl, int n, const struct conn *skip)
{
    int closed = 0;
    for (struct conn *c = cl->head; c && closed < n; c = c->next) {
        if (c->busy || c->closing || !c->attached || c == skip) continue;
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        if (fd < 0) continue;
        c->closing = true;
        shutdown(fd, SHUT_RDWR);
        atomic_fetch_add(&evicted, 1);
        closed++;
    }
    return closed;
}

/* A connection waits in the paused listener's accept queue. */
static bool accept_waiting(const struct conn_loop *cl)
{
    struct pollfd p = {.fd = cl->lev ? evconnlistener_get_fd(cl->lev) : -1, .events = POLLIN};
    return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Every RETRY_MS on every loop. A loop paused at the cap with a connection
 * waiting makes room by closing its own oldest idle connection, or, when it
 * has none (they are all on other loops), asks the other loops for one:
 * otherwise the waiting client would hang until some idle timeout. Then it
 * resumes accepting once below the cap. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct conn_loop *cl = arg;
    if (cl->stopped) return;
    if (cl->paused && atomic_load(&open_total) >= cap && accept_waiting(cl) &&
        close_idle(cl, 1, NULL) == 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&evict_wanted, &zero, 1);
    }
    int want = atomic_load(&evict_wanted);
    while (want > 0 && !atomic_compare_exchange_weak(&evict_wanted, &want, want - 1))
        ;
    if (want > 0 && close_idle(cl, 1, NULL) == 0) atomic_fetch_add(&evict_wanted, 1);
    maybe_resume(cl);
    episode_check();
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    struct conn_loop *cl = NULL;
    for (int i = 0; i < nall_loops && !cl; i++)
        if (all_loops[i]->lev_key == lev) cl = all_loops[i];
    if (!cl) return;
    int err = EVUTIL_SOCKET_ERROR();
    atomic_fetch_add(&accept_errors, 1);
    atomic_store(&last_error_us, gh_mono_us());
    episode_begin(strerror(err));
    pause_accepting(cl);
    close_idle(cl, 1, NULL);
}

/* ---- per connection ---- */

/* Runs the connection's scan over n bytes of buf from offset off. */
static void scan_buffer(struct conn *c, struct evbuffer *buf, size_t off, size_t n)
{
    struct evbuffer_ptr pos;
    struct evbuffer_iovec v[8];
    if (evbuffer_ptr_set(buf, &pos, off, EVBUFFER_PTR_SET) != 0) return;
    while (n > 0 && c->scan.verdict == FRAMING_MORE) {
        int nv = evbuffer_peek(buf, (ev_ssize_t)n, &pos, v, 8);
        if (nv <= 0) return;
        if (nv > 8) nv = 8;
        size_t done = 0;
        for (int i = 0; i < nv && n > 0 && c->scan.verdict == FRAMING_MORE; i++) {
            size_t len = v[i].iov_len < n ? v[i].iov_len : n;
            framing_scan_feed(&c->scan, v[i].iov_base, len, NULL);
            done += len;
            n -= len;
        }
        if (n > 0 && evbuffer_ptr_set(buf, &pos, done, EVBUFFER_PTR_ADD) != 0) return;
    }
}

static void conn_free(struct conn *c)
{
    struct conn_loop *cl = c->cl;
    if (c->fd >= 0 && c->fd < nfd) {
        struct conn *self = c;
        atomic_compare_exchange_strong(&by_fd[c->fd], &self, NULL);
    }
    if (c->watch) evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    c->watch = NULL;
    list_unlink(c);
    if (c->fresh)
        c->gone = true; /* attach_new still holds it */
    else
        free(c);
    atomic_fetch_sub(&open_total, 1);
    maybe_resume(cl);
    episode_check();
}

/* evhttp frees the connection (any reason): called before the bufferevent
 * goes. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    conn_free(arg);
}

/* Hooks evhttp's close callback: the bufferevent's callback argument is its
 * connection (http.c sets it right after conn_new returns). False if
 * evhttp has already let the bufferevent go. */
static bool attach(struct conn *c)
{
    if (c->attached) return true;
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *evcon = NULL;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &evcon);
    if (!ev || !evcon) return false;
    c->attached = true;
    evhttp_connection_set_closecb(evcon, conn_closed, c);
    c->fd = bufferevent_getfd(c->bev);
    if (c->fd >= 0 && c->fd < nfd) atomic_store(&by_fd[c->fd], c);
    return true;
}

/* Bytes arrived on (or left) the input: scan the new ones while a header
 * block is being read. evhttp appends reads at the end of the buffer. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (!info->n_added) return;
    if (!c->attached) attach(c);
    size_t len = evbuffer_get_length(buf);
    size_t n = info->n_added < len ? info->n_added : len;
    scan_buffer(c, buf, len - n, n);
    /* The verdict is in: no callbacks for the body or evhttp's drains
     * until conn_request_begin() starts the next block. */
    if (c->scan.verdict != FRAMING_MORE)
        evbuffer_cb_clear_flags(buf, c->watch, EVBUFFER_CB_ENABLED);
}

/* Runs after the accepts of one pass: every new connection gets its close
 * callback (the reference taken in conn_new kept the bufferevent valid even
 * if evhttp already dropped it, which it does only after disabling it). */
static void attach_new(evutil_socket_t fd, short what, void *arg)
{
    struct conn_loop *cl = arg;
    struct conn *c = cl->fresh;
    cl->fresh = NULL;
    while (c) {
        struct conn *nx = c->next_new;
        struct bufferevent *bev = c->bev;
        c->fresh = false;
        if (c->gone)
            free(c);
        else if (!attach(c))
            conn_free(c);
        bufferevent_decref(bev);
        c = nx;
    }
}

/* evhttp's hook for a new connection's bufferevent (what it would make
 * itself: a socket bufferevent, descriptor set by evhttp, closed by
 * evhttp), with a watch on its input. NULL: evhttp makes its own (the
 * connection then fails closed in conn_request_begin). */
static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
    struct conn_loop *cl = arg;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cl = cl;
    c->fd = -1;
    framing_scan_init(&c->scan);
    c->bev = bufferevent_socket_new(base, -1, 0);
    c->watch = c->bev ? evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c) : NULL;
    if (!c->watch) {
        if (c->bev) bufferevent_free(c->bev);
        free(c);
        return NULL;
    }
    bufferevent_incref(c->bev); /* until attach_new */
    c->next_new = cl->fresh;
    c->fresh = true;
    cl->fresh = c;
    event_active(cl->attach_ev, EV_TIMEOUT, 0);
    list_append(c);
    int open = atomic_fetch_add(&open_total, 1) + 1;
    if (open >= cap) { /* make room for the next one: the oldest idle go */
        episode_begin("connection cap");
        pause_accepting(cl);
        close_idle(cl, open - cap + 1, c);
    }
    return c->bev;
}

/* ---- loops ---- */

struct conn_loop *conn_loop_new(struct event_base *base, struct evhttp *http, evutil_socket_t fd)
{
    struct conn_loop *cl = nall_loops < LOOPS_MAX ? calloc(1, sizeof *cl) : NULL;
    if (!cl) goto fail;
    cl->base = base;
    cl->http = http;
    cl->retry = event_new(base, -1, EV_PERSIST, on_retry, cl);
    cl->attach_ev = event_new(base, -1, 0, attach_new, cl);
    if (!cl->retry || !cl->attach_ev) goto fail;
    /* backlog 0: the socket already listens */
    cl->lev = evconnlistener_new(
        base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!cl->lev) goto fail;
    fd = -1;
    cl->bound = evhttp_bind_listener(http, cl->lev);
    if (!cl->bound) goto fail;
    struct timeval tick = {0, RETRY_MS * 1000};
    if (event_add(cl->retry, &tick) != 0) goto fail;
    cl->lev_key = cl->lev;
    all_loops[nall_loops++] = cl;
    evconnlistener_set_error_cb(cl->lev, on_accept_error);
    evhttp_set_bevcb(http, conn_new, cl);
    return cl;
fail:
    if (fd >= 0) evutil_closesocket(fd);
    if (cl && cl->lev && !cl->bound) evconnlistener_free(cl->lev);
    if (cl && cl->retry) event_free(cl->retry);
    if (cl && cl->attach_ev) event_free(cl->attach_ev);
    free(cl);
    return NULL;
}

void conn_loop_stop(struct conn_loop *cl)
{
    if (!cl || cl->stopped) return;
    cl->stopped = true;
    if (cl->bound) evhttp_del_accept_socket(cl->http, cl->bound); /* frees the listener */
    cl->bound = NULL;
    cl->lev = NULL;
    if (cl->retry) event_free(cl->retry);
    cl->retry = NULL;
    attach_new(-1, 0, cl); /* before evhttp_free, so every connection reports its close */
    if (cl->attach_ev) event_free(cl->attach_ev);
    cl->attach_ev = NULL;
}

void conn_loop_free(struct conn_loop *cl)
{
    free(cl);
}

/* ---- requests ---- */

static struct conn *conn_of(struct evhttp_request *ev, struct bufferevent **bevp)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0 || fd >= nfd) return NULL;
    struct conn *c = atomic_load_explicit(&by_fd[fd], memory_order_relaxed);
    if (!c || c->bev != bev) return NULL;
    if (bevp) *bevp = bev;
    return c;
}

bool conn_request_begin(struct evhttp_request *ev)
{
    struct bufferevent *bev = NULL;
    struct conn *c = conn_of(ev, &bev);
    if (!c) return true;
    bool bad = c->scan.verdict != FRAMING_DONE;
    c->busy = true;
    /* evhttp has taken exactly this request's bytes: what its input holds
     * now is the start of the next request (pipelined), scanned now; the
     * rest is scanned as it arrives. */
    framing_scan_init(&c->scan);
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (n) scan_buffer(c, in, 0, n);
    if (c->scan.verdict == FRAMING_MORE) evbuffer_cb_set_flags(in, c->watch, EVBUFFER_CB_ENABLED);
    touch(c);
    return bad;
}

void conn_request_end(struct evhttp_request *ev)
{
    struct conn *c = conn_of(ev, NULL);
    if (!c) return;
    c->busy = false;
    touch(c);
}

size_t conn_metrics(char *buf, size_t len)
{
    int n = snprintf(buf, len,
                     "# HELP gatehouse_connections_open Client connections open now.\n"
                     "# TYPE gatehouse_connections_open gauge\n"
                     "gatehouse_connections_open %d\n"
                     "# HELP gatehouse_connections_max The connection cap "
                     "(GATEHOUSE_MAX_CONNECTIONS).\n"
                     "# TYPE gatehouse_connections_max gauge\n"
                     "gatehouse_connections_max %d\n"
                     "# HELP gatehouse_connection_limit_episodes_total Times accepting paused at "
                     "the cap or for lack of descriptors.\n"
                     "# TYPE gatehouse_connection_limit_episodes_total counter\n"
                     "gatehouse_connection_limit_episodes_total %llu\n"
                     "# HELP gatehouse_connections_closed_for_room_total Idle connections closed "
                     "to make room.\n"
                     "# TYPE gatehouse_connections_closed_for_room_total counter\n"
                     "gatehouse_connections_closed_for_room_total %llu\n"
                     "# HELP gatehouse_accept_errors_total accept() failures (EMFILE, ENFILE, "
                     "...).\n"
                     "# TYPE gatehouse_accept_errors_total counter\n"
                     "gatehouse_accept_errors_total %llu\n",
                     atomic_load(&open_total), cap, (unsigned long long)atomic_load(&episodes),
                     (unsigned long long)atomic_load(&evicted),
                     (unsigned long long)atomic_load(&accept_errors));
    if (n < 0 || len == 0) return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}
