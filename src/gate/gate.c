/* The gate's rule set: loading it, publishing it, and letting readers on
 * any thread use it without locks while a reload swaps it (gate.h). The
 * decision itself is gate_decide.c. */
#include "gate/gate.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "gate/gate_config.h"
#include "gate/gate_internal.h"
#include "guard/proxy.h"

/* The role names a `role:` rule may name: the values of users.role. */
static const char *const known_roles[] = {"user", "admin"};

const struct rules *gate_set_rules(const struct gate_set *s)
{
    return s->rules;
}

void gate_set_free(struct gate_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nhosts; i++)
        free(s->hosts[i]);
    free(s->hosts);
    rules_free(s->rules);
    free(s);
}

enum gh_err gate_set_new(struct rules *rules, struct gate_set **out)
{
    *out = NULL;
    struct gate_set *s = calloc(1, sizeof *s);
    size_t n = rules_count(rules);
    if (!s || !(s->hosts = calloc(n ? n : 1, sizeof *s->hosts))) {
        free(s);
        rules_free(rules);
        return GH_ERR_NOMEM;
    }
    s->rules = rules;
    for (size_t i = 0; i < n; i++) {
        const struct rule *r = rules_at(rules, i);
        if (!r->host) continue;
        /* A wildcard is kept as ".example.com": redirect.h wants "*.example.com". */
        size_t len = r->host_len + (r->host_wildcard ? 2 : 1);
        char *h = malloc(len);
        if (!h) {
            gate_set_free(s);
            return GH_ERR_NOMEM;
        }
        snprintf(h, len, "%s%s", r->host_wildcard ? "*" : "", r->host);
        s->hosts[s->nhosts++] = h;
    }
    *out = s;
    return GH_OK;
}

enum gh_err gate_load(struct gate_set **out, char *err, size_t errlen)
{
    struct rules *r = NULL;
    enum gh_err rc;
    *out = NULL;
    if (gate_cfg.rules_path[0])
        rc = rules_load(gate_cfg.rules_path, known_roles, sizeof known_roles / sizeof *known_roles,
                        &r, err, errlen);
    else
        rc = rules_default_signed_in(&r);
    if (rc == GH_ERR_NOMEM) snprintf(err, errlen, "out of memory loading the access rules");
    if (rc) return rc;
    return gate_set_new(r, out);
}

/* ---- readers and the swap ----
 * Each reading thread owns a slot whose sequence number is odd while it
 * holds the set. The writer exchanges the pointer, then waits until every
 * slot it saw odd has moved on: a reader that entered after the exchange
 * can only have loaded the new set (both are sequentially consistent).
 * Threads beyond GATE_READERS share one mutex instead. */
#define GATE_READERS 1024

struct reader {
    _Atomic uint64_t seq;
    char pad[64 - sizeof(uint64_t)]; /* one cache line each: loops never share one */
};

static struct reader readers[GATE_READERS];
static _Atomic int nreaders;
static _Thread_local int my_slot; /* index + 1; 0 unassigned; -1 the overflow mutex */
static pthread_mutex_t overflow_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t writer_mu = PTHREAD_MUTEX_INITIALIZER; /* one swap at a time */
static _Atomic(struct gate_set *) current;

const struct gate_set *gate_enter(void)
{
    if (my_slot == 0) {
        int i = atomic_fetch_add(&nreaders, 1);
        my_slot = i < GATE_READERS ? i + 1 : -1;
    }
    if (my_slot < 0)
        pthread_mutex_lock(&overflow_mu);
    else
        atomic_fetch_add(&readers[my_slot - 1].seq, 1);
    return atomic_load(&current);
}

void gate_leave(void)
{
    if (my_slot < 0)
        pthread_mutex_unlock(&overflow_mu);
    else if (my_slot > 0)
        atomic_fetch_add_explicit(&readers[my_slot - 1].seq, 1, memory_order_release);
}

void gate_install(struct gate_set *s)
{
    pthread_mutex_lock(&writer_mu);
    struct gate_set *old = atomic_exchange(&current, s);
    int n = atomic_load(&nreaders);
    if (n > GATE_READERS) n = GATE_READERS;
    for (int i = 0; old && i < n; i++) {
        uint64_t seen = atomic_load(&readers[i].seq);
        if (!(seen & 1)) continue;
        while (atomic_load(&readers[i].seq) == seen)
            sched_yield(); /* a reader holds it for one decision: microseconds */
    }
    pthread_mutex_lock(&overflow_mu); /* overflow readers that held old are gone */
    pthread_mutex_unlock(&overflow_mu);
    pthread_mutex_unlock(&writer_mu);
    gate_set_free(old);
}

void gate_shutdown(void)
{
    gate_install(NULL);
}

enum gh_err gate_init(char *err, size_t errlen)
{
    struct gate_set *s = NULL;
    enum gh_err rc = gate_load(&s, err, errlen);
    if (rc) return rc;
    if (gate_cfg.rules_path[0])
        gh_log(GH_LOG_INFO, "gate: %zu access rules from %s (default %s)", rules_count(s->rules),
               gate_cfg.rules_path,
               rules_policy_name(rules_at(s->rules, rules_count(s->rules))->policy));
    else
        gh_log(GH_LOG_INFO, "gate: GATEHOUSE_ACCESS_RULES is not set: every request needs "
                            "signed_in");
    if (gate_cfg.signin_default)
        gh_log(GH_LOG_INFO,
               "gate: GATEHOUSE_SIGNIN_URL is not set: browsers that are not signed in go to "
               "Gatehouse's own sign-in page, %s",
               gate_cfg.signin_url);
    else if (!gate_cfg.signin_url[0])
        gh_log(GH_LOG_INFO, "gate: GATEHOUSE_SIGNIN_URL is not set and GATEHOUSE_PUBLIC_URL "
                            "gives no sign-in page: browsers that are not signed in get 401 too");
    if (proxy_cfg.ntrusted_proxies == 0)
        gh_log(GH_LOG_WARN, "gate: GATEHOUSE_TRUSTED_PROXIES is empty: /v1/verify refuses "
                            "every caller (403 untrusted_proxy)");
    gate_install(s);
    return GH_OK;
}

enum gh_err gate_reload(void)
{
    char err[512] = "";
    struct gate_set *s = NULL;
    enum gh_err rc = gate_load(&s, err, sizeof err);
    if (rc) {
        gh_log(GH_LOG_ERROR, "gate: reload refused, the old rules stay: %s", err);
        return rc;
    }
    size_t n = rules_count(s->rules);
    gate_install(s);
    gh_log(GH_LOG_INFO, "gate: reloaded %zu access rules from %s", n,
           gate_cfg.rules_path[0] ? gate_cfg.rules_path : "(none: every request needs signed_in)");
    return GH_OK;
}
