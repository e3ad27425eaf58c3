#include "sessions/sessions_jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "audit/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "credentials/password.h"
#include "core/util.h"
#include "sessions/authcache.h"
#include "sessions/jwt.h"
#include "vault/vault.h"

/* Drops sessions and refresh tokens a day after they expired, change
 * events a day old, the sealed successor pairs of tokens spent longer ago
 * than the reuse grace, and signing keys that no token can still need. */
void sessions_job_prune(const struct store_ops *ops, struct store_conn *c)
{
    if (ops->upkeep.prune(c, gh_now_s() - 86400) != GH_OK) gh_log(GH_LOG_WARN, "prune failed");
    /* Change events are read within seconds (sessions/changes.h). */
    if (ops->events.prune(c, gh_now_s() - 86400) != GH_OK)
        gh_log(GH_LOG_WARN, "prune of change events failed");
    if (ops->refresh.forget_successors(c, NULL, gh_now_us() - gh_cfg.refresh_grace * 1000000) !=
        GH_OK)
        gh_log(GH_LOG_WARN, "prune of successor pairs failed");
    char kids[8][JWT_KID_MAX + 1];
    size_t n = jwt_keys_unpublished(kids, 8);
    for (size_t i = 0; i < n; i++)
        if (ops->signing_keys.delete(c, kids[i]) == GH_OK) {
            gh_log(GH_LOG_INFO, "signing key %s deleted: every token it signed has expired",
                   kids[i]);
            char details[512];
            snprintf(details, sizeof details, "{\"kind\":\"signing\",\"kid\":\"%s\"}", kids[i]);
            audit_system(c, "keys.deleted", details);
        }
    /* Imported hash formats come and go (imports, rehashes at sign-in):
     * denials are padded to the slowest present (credentials/password.h). */
    password_pad_refresh(ops, c);
}

/* Picks up keys added by `gatehouse keys rotate` (or another replica).
 * Two reloads run one after the other (the 2 s job and the change feed's
 * signing-key event, on two workers): otherwise the one that read the
 * database first could install its older key set last, and a retired
 * key's tokens would verify again until the next reload. */
void sessions_job_reload_keys(const struct store_ops *ops, struct store_conn *c)
{
    static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
    bool changed = false;
    pthread_mutex_lock(&one_at_a_time);
    if (vault_load(ops, c, 0) != GH_OK || jwt_keys_load(ops, c, &changed) != GH_OK)
        gh_log(GH_LOG_ERROR, "key reload failed; serving with the keys already loaded");
    else if (changed)
        authcache_clear_tokens(); /* a removed key's tokens must not stay accepted */
    pthread_mutex_unlock(&one_at_a_time);
}
