#include "store/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool failing, watching;
static atomic_uint_fast64_t failures, statements;
static int64_t since_s;
static char reason[512];
static _Thread_local char last_error[600];

void store_health_watch(void)
{
    atomic_store(&watching, true);
}

bool store_health_failed(const char *why)
{
    atomic_fetch_add(&failures, 1);
    if (!atomic_load(&watching)) return false; /* a CLI command: its own message says it */
    pthread_mutex_lock(&mu);
    bool first = !atomic_load(&failing);
    if (first) {
        snprintf(reason, sizeof reason, "%s", why);
        since_s = gh_now_s();
        atomic_store(&failing, true);
    }
    pthread_mutex_unlock(&mu);
    if (first)
        gh_log(GH_LOG_ERROR,
               "database writes are failing: %s; /readyz answers 503 until a test write "
               "succeeds (tried every 2 s)",
               why);
    return true;
}

bool store_health_writes_ok(void)
{
    return !atomic_load(&failing);
}

void store_health_reason(char *out, size_t outlen)
{
    pthread_mutex_lock(&mu);
    snprintf(out, outlen, "%s", atomic_load(&failing) ? reason : "");
    pthread_mutex_unlock(&mu);
}

uint64_t store_health_failures_total(void)
{
    return atomic_load(&failures);
}

void store_health_probe(const struct store_ops *ops, struct store_conn *c)
{
    if (!atomic_load(&failing)) return; /* only while failing: no write load otherwise */
    if (ops->health.probe(c, gh_now_s()) != GH_OK) return;
    pthread_mutex_lock(&mu);
    bool was = atomic_exchange(&failing, false);
    int64_t s = since_s;
    reason[0] = '\0';
    pthread_mutex_unlock(&mu);
    if (was)
        gh_log(GH_LOG_INFO, "database writes work again (a test write committed after %lld s)",
               (long long)(gh_now_s() - s));
}

bool store_sqlite_describe(struct sqlite3 *db, const char *path, char *out, size_t outlen)
{
    int code = db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM;
    int sys = db ? sqlite3_system_errno(db) : 0;
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
    const char *file = path ? path : (db ? sqlite3_db_filename(db, "main") : NULL);
    /* SQLite's own errno can be a side file's (a -shm that cannot be made
     * on a read-only disk says "No such file or directory"): when the file
     * or its folder cannot be written, that is the error to show. */
    if (code == SQLITE_FULL && !sys) sys = ENOSPC; /* SQLite clears it; FULL is ENOSPC here */
    if (file && *file && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY)) {
        char dir[1100];
        snprintf(dir, sizeof dir, "%s", file);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        if (access(file, W_OK) != 0 && errno != ENOENT)
            sys = errno;
        else if (slash && access(dir, W_OK) != 0)
            sys = errno;
    }
    char syse[160] = "", eb[128];
    if (sys) snprintf(syse, sizeof syse, " (%s)", strerror_r(sys, eb, sizeof eb)); /* GNU */
    snprintf(out, outlen, "%s%s: %s", msg, syse, file && *file ? file : "(no file)");
    snprintf(last_error, sizeof last_error, "%s", out);
    /* Not SQLITE_BUSY/LOCKED (contention), CONSTRAINT or ERROR (the
     * statement): those say nothing about the disk. */
    return code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY ||
           code == SQLITE_CANTOPEN || code == SQLITE_CORRUPT || code == SQLITE_NOTADB ||
           code == SQLITE_PERM || code == SQLITE_NOLFS;
}

const char *store_start_error(const char *msg)
{
    static _Thread_local char buf[800];
    if (last_error[0])
        snprintf(buf, sizeof buf, "%s: %s", msg, last_error);
    else
        snprintf(buf, sizeof buf, "%s", msg);
    return buf;
}

void store_count_statement(void)
{
    atomic_fetch_add_explicit(&statements, 1, memory_order_relaxed);
}

uint64_t store_statements_total(void)
{
    return atomic_load_explicit(&statements, memory_order_relaxed);
}

size_t store_health_metrics(char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "# HELP gatehouse_store_writes_ok Database writes: 1 working, 0 failing (then "
                     "/readyz is 503).\n"
                     "# TYPE gatehouse_store_writes_ok gauge\n"
                     "gatehouse_store_writes_ok %d\n"
                     "# HELP gatehouse_store_disk_errors_total Database operations that failed for "
                     "a disk reason (full, read-only, I/O).\n"
                     "# TYPE gatehouse_store_disk_errors_total counter\n"
                     "gatehouse_store_disk_errors_total %llu\n"
                     "# HELP gatehouse_db_statements_total Database statements run (background "
                     "jobs included).\n"
                     "# TYPE gatehouse_db_statements_total counter\n"
                     "gatehouse_db_statements_total %llu\n",
                     store_health_writes_ok() ? 1 : 0,
                     (unsigned long long)store_health_failures_total(),
                     (unsigned long long)store_statements_total());
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
