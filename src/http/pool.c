#include "http/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"

#define POOL_MAX_QUEUED 4096

struct job {
    struct job *next;
    pool_fn fn;
    void *arg;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t queued;
    bool stopping;
    int n, nconns;
    pthread_t *threads;
    struct store_conn **conns;
    const struct store_ops *ops;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *worker(void *arg)
{
    struct store_conn *c = arg;
    for (;;) {
        pthread_mutex_lock(&P.mu);
        while (!P.head && !P.stopping)
            pthread_cond_wait(&P.cv, &P.mu);
        struct job *j = P.head;
        if (!j) { /* stopping and drained */
            pthread_mutex_unlock(&P.mu);
            return NULL;
        }
        P.head = j->next;
        if (!P.head) P.tail = NULL;
        P.queued--;
        pthread_mutex_unlock(&P.mu);
        j->fn(j->arg, P.ops, c);
        free(j);
    }
}

enum gh_err pool_start(int n, const struct store_ops *ops, const char *db_path)
{
    P.ops = ops;
    P.threads = calloc((size_t)n, sizeof *P.threads);
    P.conns = calloc((size_t)n, sizeof *P.conns);
    if (!P.threads || !P.conns) return GH_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        enum gh_err rc = ops->open(db_path, &P.conns[i]);
        if (rc) return rc;
        P.nconns = i + 1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Argon2 runs on the heap; workers need little stack. */
    pthread_attr_setstacksize(&attr, 512 * 1024);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&P.threads[i], &attr, worker, P.conns[i]) != 0) {
            pthread_attr_destroy(&attr);
            gh_log(GH_LOG_ERROR, "cannot start worker thread");
            return GH_ERR_INTERNAL;
        }
        P.n = i + 1;
    }
    pthread_attr_destroy(&attr);
    return GH_OK;
}

enum gh_err pool_submit(pool_fn fn, void *arg)
{
    struct job *j = malloc(sizeof *j);
    if (!j) return GH_ERR_NOMEM;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&P.mu);
    if (P.stopping || P.queued >= POOL_MAX_QUEUED) {
        pthread_mutex_unlock(&P.mu);
        free(j);
        return GH_ERR_DENIED;
    }
    if (P.tail)
        P.tail->next = j;
    else
        P.head = j;
    P.tail = j;
    P.queued++;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
    return GH_OK;
}

void pool_stop(void)
{
    pthread_mutex_lock(&P.mu);
    P.stopping = true;
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < P.n; i++)
        pthread_join(P.threads[i], NULL);
    if (P.conns)
        for (int i = 0; P.ops && i < P.nconns; i++)
            P.ops->close(P.conns[i]);
    free(P.threads);
    free(P.conns);
    P.threads = NULL;
    P.conns = NULL;
    P.n = 0;
    P.nconns = 0;
}
