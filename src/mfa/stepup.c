#include "mfa/stepup.h"

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/util.h"
#include "mfa/mfa.h"
#include "sessions/authcache.h"

/* The audit row of a step-up, in the same transaction as mfa_at. */
static enum gh_err record(const struct store_ops *ops, struct store_conn *c,
                          const struct store_audit *base, const char *user_id,
                          const char *session_id, const char *method, int64_t now)
{
    struct store_audit ev;
    char details[96];
    snprintf(details, sizeof details, "{\"method\":\"%s\",\"session_id\":\"%s\"}", method,
             session_id);
    const struct store_audit *e = audit_event(base, &ev, "mfa.step_up", user_id, user_id, details);
    return ops->sessions.set_mfa_at(c, session_id, now, e);
}

enum gh_err mfa_step_up(const struct store_ops *ops, struct store_conn *c,
                        const struct store_audit *base, const char *user_id, const char *session_id,
                        const char *code, enum mfa_stepup_outcome *out, int64_t *at,
                        struct limit_result *lim)
{
    bool on = false;
    *at = 0;
    memset(lim, 0, sizeof *lim);
    enum gh_err rc = mfa_enabled(ops, c, user_id, &on);
    if (rc) return rc;
    if (!on) {
        *out = MFA_STEPUP_NO_FACTOR;
        return GH_OK;
    }
    /* One budget with the sign-in step and the proofs: step-up is one more
     * place to guess a code, not a fresh allowance. */
    limit_take(LIMIT_MFA_ACCOUNT, user_id, lim);
    if (!lim->allowed) {
        *out = MFA_STEPUP_LIMITED;
        return GH_OK;
    }
    const char *method = NULL;
    size_t n = strnlen(code, MFA_STEPUP_CODE_MAX + 1);
    rc = n > 0 && n <= MFA_STEPUP_CODE_MAX ? mfa_verify_code(ops, c, user_id, code, &method)
                                           : GH_ERR_DENIED;
    if (rc == GH_ERR_DENIED) {
        rc = mfa_record_failure(ops, c, base, user_id, "mfa.proof_failed", lim);
        if (rc == GH_OK) *out = MFA_STEPUP_WRONG;
        return rc;
    }
    if (rc) return rc;
    limit_refund(LIMIT_MFA_ACCOUNT, user_id);
    int64_t now = gh_now_s();
    rc = record(ops, c, base, user_id, session_id, method, now);
    if (rc == GH_ERR_NOT_FOUND) { /* revoked while the code was checked */
        *out = MFA_STEPUP_SESSION_GONE;
        return GH_OK;
    }
    if (rc) return rc;
    authcache_set_session_mfa(session_id, now); /* after the commit: the gate reads it */
    *at = now;
    *out = MFA_STEPUP_OK;
    return GH_OK;
}
