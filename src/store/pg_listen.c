/* The fan-out listener (store/listen.h): one thread, one dedicated libpq
 * connection outside the pool (a LISTEN belongs to its session, and a
 * pooled connection is handed to whichever worker asks next). */
#include "store/listen.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/pg.h"
#include "store/pg_internal.h"

/* Statements: static strings, no parameters. LISTEN takes no bound
 * parameter (a channel is an identifier); it goes through the extended
 * protocol like every other statement, unnamed. */
static const char SQL_LISTEN[] = "LISTEN gatehouse_changes";
/* Its name in pg_stat_activity (the pool's connections are "gatehouse"). */
static const char SQL_NAME[] = "SELECT set_config('application_name', 'gatehouse listener', false)";
static const char SQL_PING[] = "SELECT 1";

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static pthread_t thread;
static bool running;     /* main thread only: start/stop */
static int stop_fd = -1; /* an eventfd: written once by stop */
static store_listen_fn news_fn;
static void *news_arg;

bool store_listen_available(void)
{
    return store_pg_selected();
}

static int64_t now_ms(void)
{
    return gh_mono_us() / 1000;
}

/* Waits for fd (may be -1) to be readable, the stop signal, or timeout_ms.
 * 1: fd readable; 0: timeout; -1: stop (or poll failed). */
static int wait_for(int fd, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = stop_fd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    int n = poll(p, fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    if (p[0].revents) return -1;
    return n > 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP)) ? 1 : 0;
}

/* Logs that the connection is lost, with the first line of libpq's
 * message (it names the host, never the password). */
static void log_lost(PGconn *pc)
{
    const char *msg = PQerrorMessage(pc);
    gh_log(GH_LOG_ERROR, "fan-out: the listening connection to %s is lost: %.*s", store_pg_target(),
           (int)strcspn(msg, "\n"), msg);
}

/* Names the connection and LISTENs: true when it is in place. */
static bool listen_on(PGconn *pc)
{
    const char *const steps[] = {SQL_NAME, SQL_LISTEN};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        PGresult *r = PQexecParams(pc, steps[i], 0, NULL, NULL, NULL, NULL, 0);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        PQclear(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char *msg = PQerrorMessage(pc);
            gh_log(GH_LOG_ERROR, "fan-out: LISTEN failed on %s: %.*s", store_pg_target(),
                   (int)strcspn(msg, "\n"), msg);
            return false;
        }
    }
    return PQsetnonblocking(pc, 1) == 0;
}

/* Reads what arrived: the ping's answer (clears *ping_at) and the
 * notifications (*woke). False when the connection is lost. */
static bool take_input(PGconn *pc, int64_t *ping_at, bool *woke)
{
    if (!PQconsumeInput(pc) || PQstatus(pc) != CONNECTION_OK) return false;
    while (*ping_at && !PQisBusy(pc)) {
        PGresult *r = PQgetResult(pc);
        if (!r) {
            *ping_at = 0; /* the ping's results are all in */
            break;
        }
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!ok) return false;
    }
    PGnotify *n;
    while ((n = PQnotifies(pc)) != NULL) {
        *woke = true;
        PQfreemem(n);
    }
    return true;
}

/* Serves one listening connection until it is lost (returns true) or
 * stop is asked (false). */
static bool serve(PGconn *pc, const struct store_ops *ops, struct store_conn *c)
{
    int fd = PQsocket(pc);
    int64_t quiet_since = now_ms(), ping_at = 0;
    for (;;) {
        int64_t now = now_ms();
        int64_t due =
            ping_at ? ping_at + STORE_LISTEN_PING_TIMEOUT_MS : quiet_since + STORE_LISTEN_PING_MS;
        int w = wait_for(fd, due > now ? (int)(due - now) : 0);
        if (w < 0) return false;
        bool woke = false;
        if (w > 0) {
            if (!take_input(pc, &ping_at, &woke)) {
                log_lost(pc);
                return true;
            }
            quiet_since = now_ms();
        }
        if (woke) news_fn(STORE_LISTEN_WAKE, ops, c, news_arg);
        now = now_ms();
        if (ping_at && now - ping_at >= STORE_LISTEN_PING_TIMEOUT_MS) {
            gh_log(GH_LOG_ERROR,
                   "fan-out: the listening connection to %s did not answer for %d ms; "
                   "reconnecting",
                   store_pg_target(), STORE_LISTEN_PING_TIMEOUT_MS);
            return true;
        }
        if (!ping_at && now - quiet_since >= STORE_LISTEN_PING_MS) {
            if (!PQsendQueryParams(pc, SQL_PING, 0, NULL, NULL, NULL, NULL, 0) || PQflush(pc) < 0) {
                log_lost(pc);
                return true;
            }
            ping_at = now;
        }
    }
}

static void *listen_main(void *arg)
{
    (void)arg;
    const struct store_ops *ops = &store_pg;
    struct store_conn *c = NULL;
    int backoff = BACKOFF_MIN_MS;
    bool failing = false;
    while (!c && ops->open("", &c) != GH_OK)
        if (wait_for(-1, BACKOFF_MAX_MS) < 0) return NULL;
    for (;;) {
        char why[700] = "";
        PGconn *pc = pg_connect_new(why, sizeof why);
        if (pc && listen_on(pc)) {
            gh_log(GH_LOG_INFO, "fan-out: listening on %s (server process %d)", store_pg_target(),
                   PQbackendPID(pc));
            failing = false;
            backoff = BACKOFF_MIN_MS;
            news_fn(STORE_LISTEN_UP, ops, c, news_arg);
            bool lost = serve(pc, ops, c);
            PQfinish(pc);
            if (!lost) break;
            news_fn(STORE_LISTEN_DOWN, ops, c, news_arg);
            continue; /* at once: a terminated backend is usually just that */
        }
        if (pc) PQfinish(pc);
        if (!failing)
            gh_log(GH_LOG_ERROR, "fan-out: cannot listen on %s; retrying with backoff%s%s",
                   store_pg_target(), why[0] ? ": " : "", why);
        failing = true;
        if (wait_for(-1, backoff) < 0) break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    ops->close(c);
    return NULL;
}

enum gh_err store_listen_start(store_listen_fn fn, void *arg)
{
    if (running) return GH_ERR_BUSY;
    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0) return GH_ERR_INTERNAL;
    news_fn = fn;
    news_arg = arg;
    if (pthread_create(&thread, NULL, listen_main, NULL) != 0) {
        close(stop_fd);
        stop_fd = -1;
        return GH_ERR_INTERNAL;
    }
    running = true;
    return GH_OK;
}

void store_listen_stop(void)
{
    if (!running) return;
    uint64_t one = 1;
    if (write(stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
        gh_log(GH_LOG_WARN, "fan-out: cannot signal the listener to stop");
    pthread_join(thread, NULL);
    close(stop_fd);
    stop_fd = -1;
    running = false;
}
