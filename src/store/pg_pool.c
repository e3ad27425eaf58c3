/* PostgreSQL backend: the bounded pool of libpq connections (pg_internal.h).
 *
 * GATEHOUSE_DATABASE_POOL links per process, each connected on first use.
 * A struct store_conn borrows a link for one statement, or from BEGIN to
 * COMMIT/ROLLBACK, so connections stay bounded however many worker threads
 * run. When every link is busy a borrower waits on a condition variable up
 * to PG_BORROW_WAIT_MS, then gets GH_ERR_UNAVAILABLE (503).
 *
 * A lost connection (the server went away, the backend was terminated) is
 * closed and reconnected with backoff: 250 ms doubling to 5 s per link;
 * while a link backs off and no other is usable, a borrower gets
 * GH_ERR_UNAVAILABLE at once: a fast clean 503, never a wrong answer. The
 * loss is reported to store/health.h (/readyz 503 until the probe writes).
 *
 * Statements are static strings: each link prepares one the first time it
 * runs it, named "g<n>" after its slot in the link's cache (keyed by the
 * string's address), and reuses it. Nothing logs the URL or a value. */
#include "store/pg.h"
#include "store/pg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_BORROW_WAIT_MS 5000
#define PG_BACKOFF_MIN_MS 250
#define PG_BACKOFF_MAX_MS 5000
#define PG_MAX_PARAMS 32

struct pg_link {
    PGconn *conn;        /* NULL: not connected */
    bool busy;           /* borrowed */
    int holds;           /* pg_hold calls not yet released */
    int fails;           /* connection failures in a row */
    int64_t retry_at_ms; /* backing off until then (monotonic) */
    enum gh_err tx_err;  /* the first error of the open transaction */
    bool doomed;         /* the server said FATAL while the link was idle */
    const char **stmts;  /* prepared on conn: slot i is "g<i>" */
    size_t nstmts, capstmts;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pg_link *links;
    int n;
    char *url;
    char target[300];
    int64_t said_busy_ms; /* when the pool last logged that it stayed busy */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t cv_once = PTHREAD_ONCE_INIT;

static void cv_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&pool.cv, &a);
    pthread_condattr_destroy(&a);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the URL ---- */

/* PQconninfoParse's values include the password: wiped before they go. */
static void conninfo_free(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val) gh_wipe(o->val, strlen(o->val));
    PQconninfoFree(opts);
}

/* libpq ends the userinfo at the first '@': a password with a raw '@'
 * leaves its tail in the host (or a database name). Such a URL is refused
 * (store_pg_use), and never quoted here. */
static bool has_at(const char *v)
{
    return v && strchr(v, '@');
}

static void target_of(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    if (!opts) return;
    const char *host = "", *port = "", *db = "";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val) continue;
        if (strcmp(o->keyword, "host") == 0) host = o->val;
        if (strcmp(o->keyword, "hostaddr") == 0 && !host[0]) host = o->val;
        if (strcmp(o->keyword, "port") == 0) port = o->val;
        if (strcmp(o->keyword, "dbname") == 0) db = o->val;
    }
    if (has_at(host) || has_at(port) || has_at(db))
        snprintf(out, cap, "(not shown: the URL's password has a raw '@')");
    else
        snprintf(out, cap, "%.120s:%.16s/%.120s", host[0] ? host : "localhost",
                 port[0] ? port : "5432", db);
    conninfo_free(opts);
}

/* GH_OK when url parses and no '@' of the userinfo spilled into a field. */
static enum gh_err url_check(const char *url)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    if (!opts) return GH_ERR_INVALID; /* its message may quote the URL: not kept */
    enum gh_err rc = GH_OK;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && strcmp(o->keyword, "password") != 0 && has_at(o->val)) rc = GH_ERR_INVALID;
    conninfo_free(opts);
    return rc;
}

static void link_forget(struct pg_link *L)
{
    if (L->conn) PQfinish(L->conn);
    L->conn = NULL;
    L->nstmts = 0;
}

enum gh_err store_pg_use(const char *url, int size)
{
    pthread_once(&cv_once, cv_init);
    if (!url || size < 1 || size > STORE_PG_POOL_MAX) return GH_ERR_INVALID;
    if (url_check(url) != GH_OK) return GH_ERR_INVALID;
    char *copy = strdup(url);
    struct pg_link *links = calloc((size_t)size, sizeof *links);
    if (!copy || !links) {
        gh_free_secret_str(copy);
        free(links);
        return GH_ERR_NOMEM;
    }
    pthread_mutex_lock(&pool.mu);
    for (int i = 0; i < pool.n; i++)
        if (pool.links[i].busy) {
            pthread_mutex_unlock(&pool.mu);
            gh_free_secret_str(copy);
            free(links);
            return GH_ERR_BUSY;
        }
    for (int i = 0; i < pool.n; i++) {
        link_forget(&pool.links[i]);
        free(pool.links[i].stmts);
    }
    free(pool.links);
    gh_free_secret_str(pool.url);
    pool.links = links;
    pool.n = size;
    pool.url = copy;
    target_of(url, pool.target, sizeof pool.target);
    pthread_mutex_unlock(&pool.mu);
    return GH_OK;
}

const char *store_pg_target(void)
{
    return pool.target;
}

void store_pg_shutdown(void)
{
    pthread_mutex_lock(&pool.mu);
    for (int i = 0; i < pool.n; i++) {
        link_forget(&pool.links[i]);
        free(pool.links[i].stmts);
    }
    free(pool.links);
    pool.links = NULL;
    pool.n = 0;
    gh_free_secret_str(pool.url);
    pool.url = NULL;
    pool.target[0] = '\0';
    pthread_mutex_unlock(&pool.mu);
}

/* ---- connecting ---- */

/* The first line of libpq's message (it names the host and port, never
 * the password). */
static void first_line(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg ? msg : "", "\n");
    if (n >= cap) n = cap - 1;
    memcpy(out, msg ? msg : "", n);
    out[n] = '\0';
}

/* Our settings come after the URL's dbname expansion, so they win: the
 * name in pg_stat_activity, a statement time limit, and the hex bytea
 * text pg_bytea decodes. */
static PGconn *connect_url(const char *url, char *why, size_t whylen)
{
    const char *const keys[] = {
        "connect_timeout", "dbname",          "application_name",    "client_encoding",  "options",
        "keepalives",      "keepalives_idle", "keepalives_interval", "keepalives_count", NULL};
    const char *const vals[] = {"5",
                                url,
                                "gatehouse",
                                "UTF8",
                                "-c statement_timeout=10000 -c bytea_output=hex"
                                " -c idle_in_transaction_session_timeout=60000",
                                "1",
                                "30",
                                "10",
                                "3",
                                NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn && PQstatus(conn) == CONNECTION_OK) return conn;
    char line[300];
    first_line(conn ? PQerrorMessage(conn) : "out of memory", line, sizeof line);
    snprintf(why, whylen, "postgres %s: cannot connect: %s", pool.target, line);
    PQfinish(conn);
    return NULL;
}

PGconn *pg_connect_new(char *why, size_t whylen)
{
    pthread_mutex_lock(&pool.mu);
    char *url = pool.url ? strdup(pool.url) : NULL;
    pthread_mutex_unlock(&pool.mu);
    if (!url) {
        snprintf(why, whylen, "postgres: no database URL");
        return NULL;
    }
    PGconn *conn = connect_url(url, why, whylen);
    gh_free_secret_str(url);
    return conn;
}

/* Notices are not printed (libpq's default writes them to stderr). A
 * FATAL arriving outside a query (pg_terminate_backend, a shutdown) comes
 * this way before the socket closes: the link is dead even though libpq
 * has not seen the end of the stream yet. */
static void on_notice(void *arg, const PGresult *r)
{
    struct pg_link *L = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) L->doomed = true;
}

static void report(const char *why)
{
    if (!store_health_failed(why)) gh_log(GH_LOG_ERROR, "%s", why);
}

/* The connection is gone: close it and back off before the next try. */
static void link_lost(struct pg_link *L, const char *why)
{
    link_forget(L);
    L->fails++;
    int64_t delay = PG_BACKOFF_MIN_MS;
    for (int i = 1; i < L->fails && delay < PG_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > PG_BACKOFF_MAX_MS) delay = PG_BACKOFF_MAX_MS;
    L->retry_at_ms = mono_ms() + delay;
    report(why);
}

/* An idle connection the server closed (restart, pg_terminate_backend)
 * has its goodbye waiting on the socket: find it before sending anything,
 * so a request does not fail on a link that was dead before it came. */
static bool link_alive(struct pg_link *L)
{
    if (L->doomed || PQstatus(L->conn) != CONNECTION_OK) return false;
    struct pollfd p = {.fd = PQsocket(L->conn), .events = POLLIN};
    if (p.fd < 0) return false;
    if (poll(&p, 1, 0) == 0) return true;
    if (!PQconsumeInput(L->conn)) return false;
    PGnotify *nt;
    while ((nt = PQnotifies(L->conn)))
        PQfreemem(nt);
    return !L->doomed && PQstatus(L->conn) == CONNECTION_OK;
}

/* Connects L (borrowed) if it is not: GH_ERR_UNAVAILABLE on failure. */
static enum gh_err link_ready(struct pg_link *L)
{
    if (L->conn && link_alive(L)) return GH_OK;
    link_forget(L);
    pthread_mutex_lock(&pool.mu);
    char *url = pool.url ? strdup(pool.url) : NULL;
    pthread_mutex_unlock(&pool.mu);
    if (!url) return GH_ERR_UNAVAILABLE;
    char why[700];
    L->conn = connect_url(url, why, sizeof why);
    gh_free_secret_str(url);
    if (!L->conn) {
        link_lost(L, why);
        return GH_ERR_UNAVAILABLE;
    }
    L->fails = 0;
    L->doomed = false;
    PQsetNoticeReceiver(L->conn, on_notice, L);
    return GH_OK;
}

/* ---- borrowing ---- */

static enum gh_err pool_borrow(struct pg_link **out)
{
    pthread_once(&cv_once, cv_init);
    pthread_mutex_lock(&pool.mu);
    if (!pool.n) {
        pthread_mutex_unlock(&pool.mu);
        gh_log(GH_LOG_ERROR, "postgres: no database URL (GATEHOUSE_DATABASE_URL)");
        return GH_ERR_INTERNAL;
    }
    int64_t deadline = mono_ms() + PG_BORROW_WAIT_MS;
    for (;;) {
        struct pg_link *ready = NULL, *fresh = NULL;
        bool idle = false;
        int64_t now = mono_ms();
        for (int i = 0; i < pool.n && !ready; i++) {
            struct pg_link *L = &pool.links[i];
            if (L->busy) continue;
            idle = true;
            if (L->conn)
                ready = L;
            else if (!fresh && L->retry_at_ms <= now)
                fresh = L;
        }
        struct pg_link *L = ready ? ready : fresh;
        if (L) {
            L->busy = true;
            pthread_mutex_unlock(&pool.mu);
            enum gh_err rc = link_ready(L);
            if (rc) {
                pthread_mutex_lock(&pool.mu);
                L->busy = false;
                pthread_cond_signal(&pool.cv);
                pthread_mutex_unlock(&pool.mu);
                return rc;
            }
            L->tx_err = GH_OK;
            *out = L;
            return GH_OK;
        }
        if (idle) { /* every idle link is backing off: the database is down */
            pthread_mutex_unlock(&pool.mu);
            return GH_ERR_UNAVAILABLE;
        }
        if (now >= deadline) {
            /* Once per 10 s at most: under overload every request says it. */
            bool say = now - pool.said_busy_ms >= 10000;
            if (say) pool.said_busy_ms = now;
            int n = pool.n;
            pthread_mutex_unlock(&pool.mu);
            if (say)
                gh_log(GH_LOG_WARN,
                       "postgres: all %d pooled connections stayed busy for %d ms: requests "
                       "answer 503; raise GATEHOUSE_DATABASE_POOL if the database has room",
                       n, PG_BORROW_WAIT_MS);
            return GH_ERR_UNAVAILABLE;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t left = deadline - now;
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&pool.cv, &pool.mu, &ts);
    }
}

static void pool_return(struct pg_link *L)
{
    /* A link handed back mid-transaction (never by the code here) or in a
     * state we cannot vouch for is closed rather than reused. */
    if (L->conn && PQtransactionStatus(L->conn) != PQTRANS_IDLE) link_forget(L);
    pthread_mutex_lock(&pool.mu);
    L->busy = false;
    pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

/* Holds nest (migrate holds the link its transactions hold again): the
 * link goes back when the outermost hold is released. */
enum gh_err pg_hold(struct store_conn *c)
{
    if (c->link) {
        c->link->holds++;
        return GH_OK;
    }
    enum gh_err rc = pool_borrow(&c->link);
    if (rc == GH_OK) c->link->holds = 1;
    return rc;
}

void pg_release(struct store_conn *c)
{
    if (!c->link || --c->link->holds > 0) return;
    pool_return(c->link);
    c->link = NULL;
}

/* ---- statements ---- */

/* Names sql's prepared statement on L, preparing it the first time. On
 * a server error *err holds its result (the caller clears it). */
static enum gh_err prepared(struct pg_link *L, const char *sql, const struct pg_val *vals, size_t n,
                            char name[24], PGresult **err)
{
    *err = NULL;
    for (size_t i = 0; i < L->nstmts; i++)
        if (L->stmts[i] == sql) {
            snprintf(name, 24, "g%zu", i);
            return GH_OK;
        }
    if (L->nstmts == L->capstmts) {
        size_t cap = L->capstmts ? L->capstmts * 2 : 64;
        const char **s = realloc(L->stmts, cap * sizeof *s);
        if (!s) return GH_ERR_NOMEM;
        L->stmts = s;
        L->capstmts = cap;
    }
    /* Integers and bytea have their types; text is inferred from use. */
    Oid types[PG_MAX_PARAMS];
    for (size_t i = 0; i < n; i++)
        types[i] = vals[i].kind == PG_K_INT64 ? 20 : vals[i].kind == PG_K_BYTEA ? 17 : 0;
    snprintf(name, 24, "g%zu", L->nstmts);
    PGresult *r = PQprepare(L->conn, name, sql, (int)n, types);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        *err = r;
        return GH_ERR_INTERNAL;
    }
    PQclear(r);
    L->stmts[L->nstmts++] = sql;
    return GH_OK;
}

/* Connection-class SQLSTATEs: the server is going away or refuses us. */
static bool conn_class(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                     strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* What a failed result means; logs what needs logging. */
static enum gh_err failed(struct pg_link *L, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state &&
        (strcmp(state, "23505") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        return GH_ERR_CONFLICT;
    if (!r || PQstatus(L->conn) != CONNECTION_OK || conn_class(state)) {
        char line[300], why[800];
        first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(L->conn), line, sizeof line);
        snprintf(why, sizeof why, "postgres %s: connection lost (%.60s): %s", pool.target,
                 what ? what : "statement", line);
        link_lost(L, why);
        return GH_ERR_UNAVAILABLE;
    }
    if (state && strcmp(state, "57014") == 0) { /* statement_timeout */
        gh_log(GH_LOG_ERROR, "postgres: %s: statement timed out", what ? what : "statement");
        return GH_ERR_UNAVAILABLE;
    }
    /* Class 22 (data exception) messages quote the value: never logged. */
    char line[300] = "";
    if (!state || strncmp(state, "22", 2) != 0)
        first_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), line, sizeof line);
    gh_log(GH_LOG_ERROR, "postgres: %s: SQLSTATE %s%s%s", what ? what : "statement",
           state ? state : "?", line[0] ? ": " : "", line);
    return GH_ERR_INTERNAL;
}

static enum gh_err link_exec(struct pg_link *L, const char *sql, const char *what,
                             const struct pg_val *vals, size_t n, PGresult **res, int64_t *affected)
{
    if (!L->conn) return GH_ERR_UNAVAILABLE; /* lost earlier in this transaction */
    if (n > PG_MAX_PARAMS) return GH_ERR_INTERNAL;
    char name[24];
    PGresult *perr = NULL;
    enum gh_err rc = prepared(L, sql, vals, n, name, &perr);
    if (rc == GH_ERR_INTERNAL) { /* a dead connection, or bad SQL (a bug) */
        rc = failed(L, perr, what);
        PQclear(perr);
        return rc == GH_ERR_CONFLICT ? GH_ERR_INTERNAL : rc;
    }
    if (rc) return rc;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS], formats[PG_MAX_PARAMS];
    char ints[PG_MAX_PARAMS][24];
    for (size_t i = 0; i < n; i++) {
        lengths[i] = 0;
        formats[i] = 0;
        switch (vals[i].kind) {
        case PG_K_TEXT:
            values[i] = vals[i].p;
            break;
        case PG_K_INT64:
            snprintf(ints[i], sizeof ints[i], "%" PRId64, vals[i].i);
            values[i] = ints[i];
            break;
        case PG_K_BYTEA:
            values[i] = vals[i].p ? vals[i].p : "";
            lengths[i] = vals[i].n;
            formats[i] = 1;
            break;
        }
    }
    store_count_statement();
    PGresult *r = PQexecPrepared(L->conn, name, (int)n, values, lengths, formats, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (affected) {
            const char *t = PQcmdTuples(r);
            *affected = t && t[0] ? strtoll(t, NULL, 10) : 0;
        }
        if (res)
            *res = r;
        else
            PQclear(r);
        return GH_OK;
    }
    rc = failed(L, r, what);
    PQclear(r);
    return rc;
}

enum gh_err pg_exec(struct store_conn *c, const char *sql, const char *what,
                    const struct pg_val *vals, size_t n, PGresult **res, int64_t *affected)
{
    if (res) *res = NULL;
    if (affected) *affected = 0;
    struct pg_link *L = c->link;
    bool own = !L;
    if (own) {
        enum gh_err rc = pool_borrow(&L);
        if (rc) return rc;
    }
    enum gh_err rc = link_exec(L, sql, what, vals, n, res, affected);
    if (rc && c->in_tx && L->tx_err == GH_OK) L->tx_err = rc;
    if (own) pool_return(L);
    return rc;
}

enum gh_err pg_exec_script(struct store_conn *c, const char *sql, const char *what)
{
    if (!c->link) return GH_ERR_INTERNAL;
    struct pg_link *L = c->link;
    if (!L->conn) return GH_ERR_UNAVAILABLE;
    store_count_statement();
    PGresult *r = PQexec(L->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    enum gh_err rc = GH_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) rc = failed(L, r, what);
    PQclear(r);
    if (rc && c->in_tx && L->tx_err == GH_OK) L->tx_err = rc;
    return rc;
}

enum gh_err pg_tx_error(const struct store_conn *c)
{
    return c->link ? c->link->tx_err : GH_OK;
}

/* ---- reading results ---- */

int pg_rows(const PGresult *r)
{
    return r ? PQntuples(r) : 0;
}

static bool in_range(const PGresult *r, int row, int col)
{
    return r && row >= 0 && col >= 0 && row < PQntuples(r) && col < PQnfields(r);
}

bool pg_isnull(const PGresult *r, int row, int col)
{
    return !in_range(r, row, col) || PQgetisnull(r, row, col);
}

const char *pg_str(const PGresult *r, int row, int col)
{
    if (pg_isnull(r, row, col)) return "";
    return PQgetvalue(r, row, col);
}

void pg_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
    if (!cap) return;
    const char *v = pg_str(r, row, col);
    size_t n = strlen(v);
    if (n >= cap) n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

int64_t pg_int(const PGresult *r, int row, int col)
{
    const char *v = pg_str(r, row, col);
    return v[0] ? strtoll(v, NULL, 10) : 0;
}

char *pg_strdup(const PGresult *r, int row, int col)
{
    return strdup(pg_str(r, row, col));
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* libpq's text form of bytea with bytea_output=hex: "\x" then two hex
 * digits per byte. */
enum gh_err pg_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    if (pg_isnull(r, row, col)) return GH_OK;
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || (n - 2) % 2) return GH_ERR_INTERNAL;
    size_t bytes = (n - 2) / 2;
    if (bytes > cap) return GH_ERR_INTERNAL;
    for (size_t i = 0; i < bytes; i++) {
        int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0) return GH_ERR_INTERNAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = bytes;
    return GH_OK;
}
