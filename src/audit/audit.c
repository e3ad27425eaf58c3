#include "audit/audit.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

#define EMAIL_KEYBYTES 32

/* The email-hash key lives in guarded memory like the vault's keys, and is
 * PROT_NONE except during one HMAC under the mutex (failures are rare and
 * each already costs an Argon2id check, so serialising them is free). */
static uint8_t *email_key;
static pthread_mutex_t email_key_mu = PTHREAD_MUTEX_INITIALIZER;
static bool enabled;
static _Atomic int chain_status = -1;

enum gh_err audit_init(bool on)
{
    enabled = on;
    enum gh_err rc = GH_ERR_NOMEM;
    pthread_mutex_lock(&email_key_mu);
    if (!email_key) email_key = sodium_malloc(EMAIL_KEYBYTES);
    if (email_key && sodium_mprotect_readwrite(email_key) == 0) {
        rc = vault_derive("gatehouse audit email hmac v1", email_key);
        if (rc) sodium_memzero(email_key, EMAIL_KEYBYTES);
        sodium_mprotect_noaccess(email_key);
    }
    pthread_mutex_unlock(&email_key_mu);
    return rc;
}

void audit_shutdown(void)
{
    pthread_mutex_lock(&email_key_mu);
    if (email_key) {
        sodium_mprotect_readwrite(email_key);
        sodium_free(email_key); /* wipes before unmapping */
        email_key = NULL;
    }
    pthread_mutex_unlock(&email_key_mu);
}

bool audit_enabled(void)
{
    return enabled;
}

const struct store_audit *audit_event(const struct store_audit *base, struct store_audit *ev,
                                      const char *action, const char *actor, const char *target,
                                      const char *details)
{
    if (!base) return NULL;
    *ev = *base;
    ev->action = action;
    ev->actor = actor;
    ev->target = target;
    ev->details = details;
    return ev;
}

/* An audit row written by a command (actor "system"). */
void audit_system(struct store_conn *c, const char *action, const char *details)
{
    struct store_audit ev = {.actor = "system", .action = action, .details = details};
    if (!audit_enabled()) return;
    if (store_backend()->audit.append(c, &ev) != GH_OK)
        gh_log(GH_LOG_ERROR, "could not record %s in the audit log", action);
}

void audit_email_hmac(const char *key, char out[AUDIT_HASH_HEX + 1])
{
    uint8_t mac[32];
    unsigned int n = 0;
    bool ok = false;
    pthread_mutex_lock(&email_key_mu);
    if (email_key && sodium_mprotect_readonly(email_key) == 0) {
        ok = HMAC(EVP_sha256(), email_key, EMAIL_KEYBYTES, (const uint8_t *)key, strlen(key), mac,
                  &n) &&
             n == 32;
        sodium_mprotect_noaccess(email_key);
    }
    pthread_mutex_unlock(&email_key_mu);
    if (!ok) memset(mac, 0, sizeof mac);
    gh_hex(out, mac, 32);
}

int audit_chain_status(void)
{
    return atomic_load(&chain_status);
}

void audit_set_chain_status(int ok)
{
    atomic_store(&chain_status, ok);
}

/* ---- verifier ---- */

struct walk {
    EVP_MD_CTX *ctx;
    struct audit_verify_result *res;
    int64_t last_id;
    char last_hash[AUDIT_HASH_HEX + 1];
    char last_when[32];
    int64_t first_id;
    char first_prev[AUDIT_HASH_HEX + 1];
    /* checkpoints seen: (first_kept_id, continues_from) of the newest */
    int64_t cp_first;
    char cp_from[AUDIT_HASH_HEX + 1];
    int64_t anchor_id;
    const char *anchor_hash;
    char first_when[32];
    bool global_start; /* this walk starts at the log's first row */
    enum gh_err err;
};

static struct audit_row view(const struct store_audit_row *r, int64_t id)
{
    return (struct audit_row){.id = id,
                              .occurred_at = r->occurred_at,
                              .actor = r->actor,
                              .action = r->action,
                              .target = r->target,
                              .ip = r->ip,
                              .user_agent = r->user_agent,
                              .request_id = r->request_id,
                              .details = r->details};
}

__attribute__((format(printf, 3, 4))) static int broken(struct walk *w, int64_t id, const char *fmt,
                                                        ...)
{
    w->res->ok = false;
    w->res->bad_id = id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->res->reason, sizeof w->res->reason, fmt, ap);
    va_end(ap);
    return 1;
}

static void note_checkpoint(struct walk *w, const struct store_audit_row *r)
{
    if (strcmp(r->action, "audit.checkpoint") != 0) return;
    json_t *d = json_loads(r->details, 0, NULL);
    json_t *first = json_object_get(d, "first_kept_id");
    const char *from = json_string_value(json_object_get(d, "continues_from"));
    if (json_is_integer(first) && from && strlen(from) == AUDIT_HASH_HEX) {
        w->cp_first = json_integer_value(first);
        memcpy(w->cp_from, from, AUDIT_HASH_HEX + 1);
    }
    json_decref(d);
}

static int step(void *arg, const struct store_audit_row *r)
{
    struct walk *w = arg;
    char h[AUDIT_HASH_HEX + 1];
    struct audit_row row = view(r, r->id);
    enum gh_err rc = audit_chain_hash_ctx(w->ctx, r->prev_hash, &row, h);
    if (rc == GH_ERR_INVALID)
        return broken(w, r->id, "row %lld: prev_hash is malformed", (long long)r->id);
    if (rc) {
        w->err = rc;
        return 1;
    }
    if (strcmp(h, r->hash) != 0) {
        /* Intact content written under another id means rows were moved. */
        for (int64_t d = -8; d <= 8; d++) {
            /* ids come from the file: no window arithmetic may overflow */
            if (d == 0 || (d > 0 && r->id > INT64_MAX - d) || (d < 0 && r->id < INT64_MIN - d))
                continue;
            int64_t k = r->id + d;
            if (k < 1) continue;
            row.id = k;
            if (audit_chain_hash_ctx(w->ctx, r->prev_hash, &row, h) == GH_OK &&
                strcmp(h, r->hash) == 0)
                return broken(w, r->id,
                              "row %lld: reordered: it holds the entry written as row %lld",
                              (long long)r->id, (long long)k);
        }
        return broken(w, r->id, "row %lld: hash mismatch: the row was edited", (long long)r->id);
    }
    if (w->res->rows == 0) {
        w->first_id = r->id;
        memcpy(w->first_prev, r->prev_hash, sizeof w->first_prev);
        snprintf(w->first_when, sizeof w->first_when, "%s", r->occurred_at);
        if (w->global_start && r->id == 1 && strcmp(r->prev_hash, audit_genesis_hex()) != 0)
            return broken(w, r->id,
                          "row %lld: the first row does not start from the genesis "
                          "value",
                          (long long)r->id);
    } else {
        if (r->id != w->last_id + 1)
            return broken(w, r->id, "row %lld: gap: rows after %lld are missing", (long long)r->id,
                          (long long)w->last_id);
        if (strcmp(r->prev_hash, w->last_hash) != 0)
            return broken(w, r->id,
                          "row %lld: chain broken: prev_hash is not row %lld's hash (rows "
                          "removed, inserted or reordered)",
                          (long long)r->id, (long long)w->last_id);
        if (strcmp(r->occurred_at, w->last_when) < 0)
            return broken(w, r->id, "row %lld: reordered: it is older than row %lld",
                          (long long)r->id, (long long)w->last_id);
    }
    if (r->id == w->anchor_id && w->anchor_hash && strcmp(r->hash, w->anchor_hash) != 0)
        return broken(w, r->id, "row %lld: differs from the head recorded earlier (rewritten)",
                      (long long)r->id);
    note_checkpoint(w, r);
    w->last_id = r->id;
    memcpy(w->last_hash, r->hash, sizeof w->last_hash);
    size_t wl = strlen(r->occurred_at);
    if (wl >= sizeof w->last_when) wl = sizeof w->last_when - 1;
    memcpy(w->last_when, r->occurred_at, wl);
    w->last_when[wl] = '\0';
    w->res->rows++;
    return 0;
}

/* One range of ids, walked by one thread on its own connection. */
struct part {
    const struct store_ops *ops;
    struct store_conn *c;
    int64_t after, upto;
    struct walk w;
    struct audit_verify_result res;
    enum gh_err rc;
};

static void *walk_part(void *arg)
{
    struct part *p = arg;
    p->w.res = &p->res;
    p->res.ok = true;
    p->w.ctx = EVP_MD_CTX_new();
    if (!p->w.ctx) {
        p->rc = GH_ERR_NOMEM;
        return NULL;
    }
    p->rc = p->ops->audit.scan(p->c, p->after, p->upto, step, &p->w);
    if (p->rc == GH_OK && p->w.err) p->rc = p->w.err;
    EVP_MD_CTX_free(p->w.ctx);
    return NULL;
}

#define VERIFY_MAX_PARTS 8

/* Merges the parts' results in id order: the first break wins, whether
 * inside a part or at the seam between two parts. Returns the last part
 * that had rows (NULL if none). */
static struct walk *merge_parts(struct part *parts, int nparts, struct audit_verify_result *res)
{
    struct walk *prev = NULL;
    for (int k = 0; k < nparts && res->ok; k++) {
        struct walk *w = &parts[k].w;
        if (parts[k].res.rows == 0 && parts[k].res.ok) continue;
        if (prev && parts[k].res.rows > 0) {
            long long pid = (long long)prev->last_id, fid = (long long)w->first_id;
            int n = 0;
            if (w->first_id != prev->last_id + 1)
                n = snprintf(res->reason, sizeof res->reason,
                             "row %lld: gap: rows after %lld are missing", fid, pid);
            else if (strcmp(w->first_prev, prev->last_hash) != 0)
                n = snprintf(res->reason, sizeof res->reason,
                             "row %lld: chain broken: prev_hash is not row %lld's hash (rows "
                             "removed, inserted or reordered)",
                             fid, pid);
            else if (strcmp(w->first_when, prev->last_when) < 0)
                n = snprintf(res->reason, sizeof res->reason,
                             "row %lld: reordered: it is older than row %lld", fid, pid);
            if (n > 0) {
                res->ok = false;
                res->bad_id = w->first_id;
                break;
            }
        }
        res->rows += parts[k].res.rows;
        if (!parts[k].res.ok) {
            res->ok = false;
            res->bad_id = parts[k].res.bad_id;
            memcpy(res->reason, parts[k].res.reason, sizeof res->reason);
            break;
        }
        if (parts[k].res.rows > 0) prev = w;
    }
    return prev;
}

/* The ends of a whole chain: an emptied log, a start after missing rows
 * without a retention checkpoint, a tail cut before the recorded head. */
static void check_ends(struct part *parts, int nparts, struct walk *prev, int64_t anchor_id,
                       struct audit_verify_result *res)
{
    if (res->ok && !prev && anchor_id > 0) { /* every row gone */
        res->ok = false;
        res->bad_id = 1;
        snprintf(res->reason, sizeof res->reason,
                 "the log is empty but row %lld was recorded earlier; it was emptied",
                 (long long)anchor_id);
    }
    if (!res->ok || !prev) return;
    struct walk *first = NULL;
    for (int k = 0; k < nparts && !first; k++)
        if (parts[k].res.rows > 0) first = &parts[k].w;
    int64_t cp_first = 0;
    const char *cp_from = "";
    for (int k = 0; k < nparts; k++)
        if (parts[k].w.cp_first) {
            cp_first = parts[k].w.cp_first;
            cp_from = parts[k].w.cp_from;
        }
    res->head_id = prev->last_id;
    memcpy(res->head_hash, prev->last_hash, sizeof res->head_hash);
    /* A log that does not start at row 1 must continue from a checkpoint
     * written by retention, naming that exact start. */
    if (first->first_id != 1 &&
        !(cp_first == first->first_id && strcmp(cp_from, first->first_prev) == 0)) {
        res->ok = false;
        res->bad_id = first->first_id;
        snprintf(res->reason, sizeof res->reason,
                 "row %lld: the log starts after missing rows and no retention checkpoint "
                 "accounts for them",
                 (long long)first->first_id);
    } else if (anchor_id > prev->last_id) {
        res->ok = false;
        res->bad_id = prev->last_id + 1;
        snprintf(res->reason, sizeof res->reason,
                 "row %lld: missing: the log ends before the head recorded earlier (row %lld); "
                 "its tail was removed",
                 (long long)prev->last_id + 1, (long long)anchor_id);
    }
}

enum gh_err audit_verify_parallel(const struct store_ops *ops, struct store_conn *c,
                                  struct store_conn *const *extra, int nextra, int64_t anchor_id,
                                  const char *anchor_hash, struct audit_verify_result *res)
{
    memset(res, 0, sizeof *res);
    res->ok = true;
    int64_t lo = 0, hi = 0, count = 0;
    enum gh_err rc = ops->audit.bounds(c, &lo, &hi, &count);
    if (rc) return rc;
    if (count > 0 && lo < 1) { /* Gatehouse numbers rows from 1: this one was put there */
        res->ok = false;
        res->bad_id = lo;
        snprintf(res->reason, sizeof res->reason,
                 "row %lld: ids start at 1; the row was inserted by hand", (long long)lo);
        return GH_OK;
    }
    int nparts = 1 + (nextra < VERIFY_MAX_PARTS - 1 ? nextra : VERIFY_MAX_PARTS - 1);
    /* Splitting needs sane ids (a tampered file may hold anything): below 1
     * or a tiny log, one part. Unsigned arithmetic cannot overflow here. */
    if (lo < 1 || hi < lo || hi > INT64_MAX - 64 || (uint64_t)hi - (uint64_t)lo < 100000)
        nparts = 1;
    struct part parts[VERIFY_MAX_PARTS];
    memset(parts, 0, sizeof parts);
    int64_t span = nparts > 1 ? (int64_t)(((uint64_t)hi - (uint64_t)lo) / (uint64_t)nparts + 1) : 0;
    for (int k = 0; k < nparts; k++) {
        parts[k].ops = ops;
        parts[k].c = k == 0 ? c : extra[k - 1];
        parts[k].after = k == 0 ? 0 : lo - 1 + span * k;
        parts[k].upto = k == nparts - 1 ? 0 : lo - 1 + span * (k + 1);
        parts[k].w.anchor_id = anchor_id;
        parts[k].w.anchor_hash = anchor_hash;
        parts[k].w.global_start = k == 0;
    }
    pthread_t th[VERIFY_MAX_PARTS];
    bool started[VERIFY_MAX_PARTS] = {false};
    for (int k = 1; k < nparts; k++)
        started[k] = pthread_create(&th[k], NULL, walk_part, &parts[k]) == 0;
    walk_part(&parts[0]);
    for (int k = 1; k < nparts; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            walk_part(&parts[k]); /* no thread: do it here */
    }
    for (int k = 0; k < nparts; k++)
        if (parts[k].rc) return parts[k].rc;

    struct walk *prev = merge_parts(parts, nparts, res);
    check_ends(parts, nparts, prev, anchor_id, res);
    return GH_OK;
}

enum gh_err audit_verify(const struct store_ops *ops, struct store_conn *c, int64_t anchor_id,
                         const char *anchor_hash, struct audit_verify_result *res)
{
    return audit_verify_parallel(ops, c, NULL, 0, anchor_id, anchor_hash, res);
}

size_t audit_metrics(char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "# HELP gatehouse_audit_chain_ok Last audit chain verification: 1 ok, 0 "
                     "broken, -1 not run yet.\n"
                     "# TYPE gatehouse_audit_chain_ok gauge\n"
                     "gatehouse_audit_chain_ok %d\n",
                     audit_chain_status());
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
