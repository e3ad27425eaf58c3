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

struct lane {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t queued, running;
    bool stopping;
    int n, nconns;
    pthread_t *threads;
    struct store_conn **conns;
};

struct worker_arg {
    struct lane *lane;
    struct store_conn *conn;
};

static struct lane lanes[POOL_LANES];
static const struct store_ops *pool_ops;
static struct worker_arg *wargs[POOL_LANES];

static void *worker(void *arg)
{
    struct worker_arg *wa = arg;
    struct lane *L = wa->lane;
    for (;;) {
        pthread_mutex_lock(&L->mu);
        while (!L->head && !L->stopping)
            pthread_cond_wait(&L->cv, &L->mu);
        struct job *j = L->head;
        if (!j) { /* stopping and drained */
            pthread_mutex_unlock(&L->mu);
            return NULL;
        }
        L->head = j->next;
        if (!L->head) L->tail = NULL;
        L->queued--;
        L->running++;
        pthread_mutex_unlock(&L->mu);
        j->fn(j->arg, pool_ops, wa->conn);
        /* Writes join an open transaction (store_write): one a job left
         * open by mistake must not swallow the next job's writes and hold
         * the write lock. A no-op when none is open. */
        if (wa->conn) pool_ops->tx.rollback(wa->conn);
        free(j);
        pthread_mutex_lock(&L->mu);
        L->running--;
        pthread_mutex_unlock(&L->mu);
    }
}

enum gh_err pool_start(const int n[POOL_LANES], const struct store_ops *ops, const char *db_path)
{
    pool_ops = ops;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Argon2 runs on the heap; workers need little stack. */
    pthread_attr_setstacksize(&attr, 512 * 1024);
    enum gh_err rc = GH_OK;
    for (int l = 0; rc == GH_OK && l < POOL_LANES; l++) {
        struct lane *L = &lanes[l];
        pthread_mutex_init(&L->mu, NULL);
        pthread_cond_init(&L->cv, NULL);
        L->threads = calloc((size_t)n[l], sizeof *L->threads);
        L->conns = calloc((size_t)n[l], sizeof *L->conns);
        wargs[l] = calloc((size_t)n[l], sizeof *wargs[l]);
        if (!L->threads || !L->conns || !wargs[l]) {
            rc = GH_ERR_NOMEM;
            break;
        }
        for (int i = 0; rc == GH_OK && i < n[l]; i++) {
            if ((rc = ops->open(db_path, &L->conns[i]))) break;
            L->nconns = i + 1;
        }
        for (int i = 0; rc == GH_OK && i < n[l]; i++) {
            wargs[l][i] = (struct worker_arg){L, L->conns[i]};
            if (pthread_create(&L->threads[i], &attr, worker, &wargs[l][i]) != 0) {
                gh_log(GH_LOG_ERROR, "cannot start worker thread");
                rc = GH_ERR_INTERNAL;
                break;
            }
            L->n = i + 1;
        }
    }
    pthread_attr_destroy(&attr);
    return rc;
}

enum gh_err pool_submit(enum pool_lane lane, pool_fn fn, void *arg)
{
    if ((unsigned)lane >= POOL_LANES) return GH_ERR_INVALID;
    struct lane *L = &lanes[lane];
    struct job *j = malloc(sizeof *j);
    if (!j) return GH_ERR_NOMEM;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&L->mu);
    if (L->stopping || L->n == 0 || L->queued >= POOL_MAX_QUEUED) {
        pthread_mutex_unlock(&L->mu);
        free(j);
        return GH_ERR_BUSY;
    }
    if (L->tail)
        L->tail->next = j;
    else
        L->head = j;
    L->tail = j;
    L->queued++;
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return GH_OK;
}

size_t pool_pending(void)
{
    size_t n = 0;
    for (int l = 0; l < POOL_LANES; l++) {
        pthread_mutex_lock(&lanes[l].mu);
        n += lanes[l].queued + lanes[l].running;
        pthread_mutex_unlock(&lanes[l].mu);
    }
    return n;
}

void pool_stop(void)
{
    for (int l = 0; l < POOL_LANES; l++) {
        struct lane *L = &lanes[l];
        pthread_mutex_lock(&L->mu);
        L->stopping = true;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
    }
    for (int l = 0; l < POOL_LANES; l++) {
        struct lane *L = &lanes[l];
        for (int i = 0; i < L->n; i++)
            pthread_join(L->threads[i], NULL);
        for (int i = 0; pool_ops && i < L->nconns; i++)
            pool_ops->close(L->conns[i]);
        free(L->threads);
        free(L->conns);
        free(wargs[l]);
        wargs[l] = NULL;
        L->threads = NULL;
        L->conns = NULL;
        L->n = L->nconns = 0;
    }
}
