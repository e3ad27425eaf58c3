#include "accounts/password_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/log.h"
#include "guard/guard.h"
#include "guard/limit.h"
#include "http/pool.h"
#include "mail/mail.h"

bool password_guard_locked(struct gh_req *r, const char *email_key)
{
    int64_t locked_for = 0;
    if (!limit_locked(email_key, &locked_for)) return false;
    gh_reply_locked(r, locked_for);
    return true;
}

bool password_guard_admit(struct gh_req *r, const char *email_key)
{
    /* Budgets first, as at sign-in admission: a locked attempt spends them too. */
    return gh_take_signin(r, email_key) && !password_guard_locked(r, email_key);
}

/* "Someone is trying your password", queued in the background. */
static void lockout_notice_send(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    char *to = arg, subject[128], text[800], html[1000];
    snprintf(subject, sizeof subject, "Failed sign-ins to your %s account", gh_cfg.brand);
    snprintf(text, sizeof text,
             "Someone tried to sign in to your %s account with wrong passwords, many times in "
             "a row. Password sign-in to it is slowed down for a while; your password was not "
             "accepted.\r\n\r\nIf this was you, wait a few minutes, or reset your password. If "
             "it was not, consider changing your password and turning on a second factor.\r\n",
             gh_cfg.brand);
    snprintf(html, sizeof html,
             "<p>Someone tried to sign in to your %s account with wrong passwords, many times in "
             "a row. Password sign-in to it is slowed down for a while; your password was not "
             "accepted.</p><p>If this was you, wait a few minutes, or reset your password. If it "
             "was not, consider changing your password and turning on a second factor.</p>",
             gh_cfg.brand);
    if (mail_enqueue_notice(ops, c, to, "lockout", subject, text, html) != GH_OK)
        gh_log(GH_LOG_ERROR, "lockout notice: cannot queue the email");
    free(to);
}

static void queue_lockout_notice(const char *email)
{
    char *to = strdup(email);
    if (to && pool_submit(POOL_DB, lockout_notice_send, to) != GH_OK) {
        gh_log(GH_LOG_WARN, "lockout notice: queue full, not sent");
        free(to);
    }
}

enum gh_err password_guard_failed(const struct store_ops *ops, struct store_conn *c,
                                  const struct store_audit *base, const char *action,
                                  const char *actor, const char *session_id, const char *email_key,
                                  const struct store_user *u)
{
    struct store_audit ev;
    char mac[AUDIT_HASH_HEX + 1], details[240];
    const char *uid = u ? u->id : "";
    audit_email_hmac(email_key, mac);
    snprintf(details, sizeof details, "{\"method\":\"password\",\"email_hmac\":\"%s\"%s%s%s}", mac,
             session_id ? ",\"session_id\":\"" : "", session_id ? session_id : "",
             session_id ? "\"" : "");
    /* Bounded per kind and client: a flood of guesses writes a summary,
     * not a row each (audit/failures.h). */
    /* Counted first: a failing audit write (a full disk) must not stop the
     * lockout from counting the guess. */
    struct lockout_event lo;
    limit_lockout_failure(email_key, &lo);
    const struct store_audit *e = audit_event(base, &ev, action, actor, uid, details);
    enum gh_err arc = audit_failure_append(ops, c, e);
    if (arc) return arc;
    if (lo.locked_s > 0) {
        snprintf(details, sizeof details,
                 "{\"failures\":%d,\"locked_seconds\":%lld,\"email_hmac\":\"%s\"}", lo.failures,
                 (long long)lo.locked_s, mac);
        e = audit_event(base, &ev, "signin.locked", "system", uid, details);
        if (e) {
            enum gh_err rc = ops->audit.append(c, e);
            if (rc) return rc;
        }
        if (lo.notify && u) queue_lockout_notice(u->email);
    }
    return GH_OK;
}
