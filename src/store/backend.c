/* What every backend shares (backend.h): the write-transaction rule, the
 * audit-chain append, freeing the rows the store hands out, and the names
 * and origin of change events. store_backend() is in select.c. */
#include "store/backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void store_audit_row_clear(struct store_audit_row *r)
{
    char **f[] = {&r->occurred_at, &r->actor,      &r->action,     &r->target,
                  &r->ip,          &r->user_agent, &r->request_id, &r->details};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

void store_sealed_clear(struct store_sealed *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].value);
        rows[i].value = NULL;
    }
}

/* Appends ev to the chain; the caller holds a write transaction, and the
 * backend's chain_head locks the head until it ends, so the last row
 * cannot change underneath. */
enum gh_err store_chain_append(const struct store_prims *p, struct store_conn *c,
                               const struct store_audit *ev)
{
    if (!p->tx_open(c)) return GH_ERR_INTERNAL;
    struct store_chain_head head = {0};
    enum gh_err rc = p->chain_head(c, &head);
    if (rc) return rc;
    char prev[AUDIT_HASH_HEX + 1];
    snprintf(prev, sizeof prev, "%s", head.id ? head.hash : audit_genesis_hex());
    char when[28], hash[AUDIT_HASH_HEX + 1];
    audit_now(when);
    /* The verifier reads a time going backwards as reordered rows: after
     * the wall clock steps back, keep the previous row's time instead. */
    if (strlen(head.occurred_at) == sizeof when - 1 && strcmp(when, head.occurred_at) < 0)
        memcpy(when, head.occurred_at, sizeof when);
    struct audit_row row = {.id = head.id + 1,
                            .occurred_at = when,
                            .actor = ev->actor ? ev->actor : "",
                            .action = ev->action ? ev->action : "",
                            .target = ev->target ? ev->target : "",
                            .ip = ev->ip ? ev->ip : "",
                            .user_agent = ev->user_agent ? ev->user_agent : "",
                            .request_id = ev->request_id ? ev->request_id : "",
                            .details = ev->details ? ev->details : "{}"};
    if ((rc = audit_chain_hash(prev, &row, hash))) return rc;
    return p->chain_insert(c, &row, prev, hash);
}

/* Runs fn inside a write transaction (its own unless one is open), with
 * ev appended in the same transaction. */
enum gh_err store_write(const struct store_prims *p, struct store_conn *c,
                        const struct store_audit *ev, store_write_fn fn, const void *arg)
{
    bool own = !p->tx_open(c);
    enum gh_err rc = own ? p->tx_begin(c) : GH_OK;
    if (rc) return rc;
    rc = fn ? fn(c, arg) : GH_OK;
    if (rc == GH_OK && ev) rc = store_chain_append(p, c, ev);
    if (own) {
        if (rc == GH_OK) rc = p->tx_commit(c);
        if (rc) p->tx_rollback(c);
    }
    return rc;
}

/* Stored names: stable across versions (an older server reads a newer
 * kind as unknown and skips it), so never rename one. */
static const char *const event_names[STORE_EV_KIND_COUNT] = {
    [STORE_EV_UNKNOWN] = "unknown",
    [STORE_EV_ROLE_CHANGED] = "role_changed",
    [STORE_EV_SESSION_REVOKED] = "session_revoked",
    [STORE_EV_USER_SESSIONS_REVOKED] = "user_sessions_revoked",
    [STORE_EV_TOKENS_INVALIDATED] = "tokens_invalidated",
    [STORE_EV_SESSION_UNRESTRICTED] = "session_unrestricted",
    [STORE_EV_SESSION_MFA] = "session_mfa",
    [STORE_EV_SIGNING_KEYS_CHANGED] = "signing_keys_changed",
    [STORE_EV_USER_CHANGED] = "user_changed",
};

const char *store_event_kind_name(enum store_event_kind k)
{
    return (unsigned)k < STORE_EV_KIND_COUNT ? event_names[k] : event_names[STORE_EV_UNKNOWN];
}

enum store_event_kind store_event_kind_parse(const char *name)
{
    for (int k = 1; name && k < STORE_EV_KIND_COUNT; k++)
        if (strcmp(name, event_names[k]) == 0) return (enum store_event_kind)k;
    return STORE_EV_UNKNOWN;
}

static char origin[STORE_ORIGIN_LEN + 1];
static pthread_once_t origin_once = PTHREAD_ONCE_INIT;

static void origin_make(void)
{
    uint8_t raw[STORE_ORIGIN_LEN / 2];
    gh_random(raw, sizeof raw);
    gh_hex(origin, raw, sizeof raw);
}

const char *store_origin(void)
{
    pthread_once(&origin_once, origin_make);
    return origin;
}
