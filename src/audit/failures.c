#include "audit/failures.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "guard/proxy.h"

_Static_assert(PROXY_KEY_MAX <= AUDIT_FAILURE_CLIENT_MAX, "a budget key fits a window");

#define SLOTS 4096
#define PROBE 16 /* slots a key may land in, from its hash on */

struct window {
    bool used;
    char action[AUDIT_FAILURE_ACTION_MAX + 1];
    char client[AUDIT_FAILURE_CLIENT_MAX];
    int64_t start_s, wall_s; /* monotonic and wall-clock start */
    uint32_t rows;           /* rows written in this window */
    uint64_t suppressed;     /* rows left out */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct window slots[SLOTS];
static struct window overflow = {.used = true, .action = "*", .client = "*"};

/* Keyed (SipHash, a key per process): a client with many addresses cannot
 * aim them at another client's probe slots to push its failures into the
 * overflow window. */
static uint8_t hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void make_key(void)
{
    randombytes_buf(hash_key, sizeof hash_key);
}

static size_t slot_of(const char *action, const char *client)
{
    char buf[AUDIT_FAILURE_ACTION_MAX + AUDIT_FAILURE_CLIENT_MAX + 2];
    int n = snprintf(buf, sizeof buf, "%s\n%s", action, client);
    uint8_t h[crypto_shorthash_BYTES];
    pthread_once(&key_once, make_key);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n;
    crypto_shorthash(h, (const uint8_t *)buf, len, hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v % SLOTS);
}

static struct window *find_or_add(const char *action, const char *client, int64_t now_s,
                                  int64_t wall_s)
{
    size_t s = slot_of(action, client);
    struct window *free_w = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct window *w = &slots[(s + (size_t)i) % SLOTS];
        if (!w->used) {
            if (!free_w) free_w = w;
            continue;
        }
        if (strcmp(w->action, action) == 0 && strcmp(w->client, client) == 0) return w;
    }
    if (!free_w) return &overflow;
    memset(free_w, 0, sizeof *free_w);
    free_w->used = true;
    snprintf(free_w->action, sizeof free_w->action, "%s", action);
    snprintf(free_w->client, sizeof free_w->client, "%s", client);
    free_w->start_s = now_s, free_w->wall_s = wall_s;
    return free_w;
}

static void summary_of(const struct window *w, struct audit_failure_summary *out)
{
    snprintf(out->action, sizeof out->action, "%s", w->action);
    snprintf(out->client, sizeof out->client, "%s", w->client);
    out->started_at = w->wall_s;
    out->suppressed = w->suppressed;
}

bool audit_failures_note(const char *action_in, const char *client_in, int64_t now_s,
                         int64_t wall_s, struct audit_failure_summary *due)
{
    char action[AUDIT_FAILURE_ACTION_MAX + 1],
        client[AUDIT_FAILURE_CLIENT_MAX]; /* as the table keeps them */
    snprintf(action, sizeof action, "%s", action_in);
    snprintf(client, sizeof client, "%s", client_in);
    memset(due, 0, sizeof *due);
    pthread_mutex_lock(&mu);
    struct window *w = find_or_add(action, client, now_s, wall_s);
    if (w->rows == 0 && w->suppressed == 0) /* fresh (or the overflow window, idle) */
        w->start_s = now_s, w->wall_s = wall_s;
    if (now_s - w->start_s >= gh_cfg.audit_failure_window) { /* a new window */
        if (w->suppressed) summary_of(w, due);
        w->start_s = now_s, w->wall_s = wall_s;
        w->rows = 0, w->suppressed = 0;
    }
    bool write = w->rows < (uint32_t)gh_cfg.audit_failure_rows;
    if (write)
        w->rows++;
    else
        w->suppressed++;
    pthread_mutex_unlock(&mu);
    return write;
}

int audit_failures_take(int64_t now_s, bool all, struct audit_failure_summary *out, int max,
                        bool *more)
{
    int n = 0;
    *more = false;
    pthread_mutex_lock(&mu);
    for (int i = 0; i <= SLOTS; i++) {
        struct window *w = i < SLOTS ? &slots[i] : &overflow;
        if (!w->used || (!w->rows && !w->suppressed) ||
            (!all && now_s - w->start_s < gh_cfg.audit_failure_window))
            continue;
        if (w->suppressed) {
            if (n == max) {
                *more = true;
                break;
            }
            summary_of(w, &out[n++]);
        }
        if (w == &overflow)
            w->rows = 0, w->suppressed = 0;
        else
            memset(w, 0, sizeof *w);
    }
    pthread_mutex_unlock(&mu);
    return n;
}

void audit_failures_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(slots, 0, sizeof slots);
    overflow.rows = 0, overflow.suppressed = 0;
    pthread_mutex_unlock(&mu);
}

static enum gh_err write_summary(const struct store_ops *ops, struct store_conn *c,
                                 const struct audit_failure_summary *s)
{
    char when[GH_RFC3339_LEN + 1], details[256];
    gh_rfc3339(when, s->started_at);
    snprintf(details, sizeof details,
             "{\"action\":\"%.47s\",\"count\":%llu,\"rows_written\":%d,\"window_start\":\"%.20s\","
             "\"window_seconds\":%lld}",
             s->action, (unsigned long long)s->suppressed, gh_cfg.audit_failure_rows, when,
             (long long)gh_cfg.audit_failure_window);
    struct store_audit ev = {.actor = "system",
                             .action = "audit.suppressed",
                             .target = "",
                             .ip = s->client,
                             .user_agent = "",
                             .request_id = "",
                             .details = details};
    return ops->audit.append(c, &ev);
}

enum gh_err audit_failure_admit(const struct store_ops *ops, struct store_conn *c,
                                const struct store_audit *ev, bool *write)
{
    *write = false;
    if (!ev) return GH_OK;
    char client[AUDIT_FAILURE_CLIENT_MAX];
    proxy_budget_key(ev->ip ? ev->ip : "", gh_cfg.ipv6_prefix, client);
    struct audit_failure_summary due;
    *write = audit_failures_note(ev->action, client, gh_mono_us() / 1000000, gh_now_s(), &due);
    return due.suppressed ? write_summary(ops, c, &due) : GH_OK;
}

enum gh_err audit_failure_append(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_audit *ev)
{
    bool write;
    enum gh_err rc = audit_failure_admit(ops, c, ev, &write);
    return rc ? rc : write ? ops->audit.append(c, ev) : GH_OK;
}

/* Writes what take hands out; a summary that cannot be written is logged
 * with its count instead (the log keeps what the table let go). */
static void flush(const struct store_ops *ops, struct store_conn *c, bool all)
{
    struct audit_failure_summary s[32];
    bool more = true;
    while (more) {
        int n = audit_failures_take(gh_mono_us() / 1000000, all, s, 32, &more);
        for (int i = 0; i < n; i++)
            if (write_summary(ops, c, &s[i]) != GH_OK) {
                gh_log(GH_LOG_ERROR, "audit: could not record %llu suppressed %s rows from %s",
                       (unsigned long long)s[i].suppressed, s[i].action, s[i].client);
                more = false;
            }
    }
}

void audit_failures_flush(const struct store_ops *ops, struct store_conn *c)
{
    if (audit_enabled()) flush(ops, c, false);
}

void audit_failures_flush_all(void)
{
    if (!audit_enabled()) return;
    const struct store_ops *ops = store_backend();
    struct store_conn *c = NULL;
    if (ops->open(gh_cfg.db_path, &c) != GH_OK) {
        gh_log(GH_LOG_ERROR, "audit: cannot open the database to record suppressed rows");
        return;
    }
    flush(ops, c, true);
    ops->close(c);
}
