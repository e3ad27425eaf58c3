#include "accounts/signup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/email.h"
#include "accounts/link_mail.h"
#include "accounts/signin.h"
#include "audit/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "http/pool.h"
#include "mail/mail.h"
#include "sessions/authcache.h"
#include "sessions/sessions.h"

struct notice_job {
    char key[STORE_EMAIL_MAX + 1];
};

/* "Someone tried to sign up with your address", in the background: the
 * account is looked up here, not on the request path. */
static void notice_send(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    struct notice_job *j = arg;
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = ops->users.by_email_key(c, j->key, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc) { /* gone meanwhile, or a store error: nothing to say */
        if (rc != GH_ERR_NOT_FOUND) gh_log(GH_LOG_ERROR, "sign-up notice: store error");
        goto out;
    }
    struct limit_result lim;
    limit_take(LIMIT_EMAIL_ACCOUNT, j->key, &lim);
    if (!lim.allowed) goto out; /* the address had its share of mail this hour */
    char subject[160], text[900], html[1100];
    snprintf(subject, sizeof subject, "Someone tried to sign up to %s with your address",
             gh_cfg.brand);
    snprintf(text, sizeof text,
             "Someone tried to create a %s account with this email address. It already has "
             "one, so no new account was made and nothing about yours changed.\r\n\r\nIf it "
             "was you, sign in, or reset your password if you forgot it or never confirmed "
             "the address. If it was not, you can ignore this email.\r\n",
             gh_cfg.brand);
    snprintf(html, sizeof html,
             "<p>Someone tried to create a %s account with this email address. It already has "
             "one, so no new account was made and nothing about yours changed.</p><p>If it "
             "was you, sign in, or reset your password if you forgot it or never confirmed "
             "the address. If it was not, you can ignore this email.</p>",
             gh_cfg.brand);
    if (mail_enqueue_notice(ops, c, u.email, "signup_exists", subject, text, html) != GH_OK)
        gh_log(GH_LOG_ERROR, "sign-up notice: cannot queue the email");
out:
    gh_wipe(j, sizeof *j);
    free(j);
}

enum gh_err signup_unconfirmed(const struct store_ops *ops, struct store_conn *c,
                               const struct store_audit *base, const struct store_user *u,
                               bool *created)
{
    struct store_audit ev;
    *created = false;
    enum gh_err rc = ops->users.create(
        c, u, audit_event(base, &ev, "signup", u->id, u->id, "{\"method\":\"password\"}"));
    if (rc == GH_OK) {
        authcache_put_user(u, authcache_generation());
        *created = true;
        return GH_OK;
    }
    if (rc != GH_ERR_CONFLICT) return rc;
    /* The address has an account: the same amount of work as a creation
     * (one committed write, one job), none of it touching the account. */
    char mac[AUDIT_HASH_HEX + 1], details[120];
    audit_email_hmac(u->email_key, mac);
    snprintf(details, sizeof details, "{\"email_hmac\":\"%s\"}", mac);
    const struct store_audit *e =
        audit_event(base, &ev, "signup.address_taken", "anonymous", "", details);
    if (e && (rc = ops->audit.append(c, e))) return rc;
    struct notice_job *j = calloc(1, sizeof *j);
    if (!j) return GH_ERR_NOMEM;
    snprintf(j->key, sizeof j->key, "%s", u->email_key);
    if (pool_submit(POOL_DB, notice_send, j) != GH_OK) {
        gh_log(GH_LOG_WARN, "sign-up notice: queue full, not sent");
        free(j);
    }
    return GH_OK;
}

enum gh_err signup_password(const struct store_ops *ops, struct store_conn *c,
                            const struct accounts_req *in, const char *email_in, size_t email_len,
                            const char *pw, size_t pw_len, struct accounts_result *res)
{
    accounts_result_init(res);
    struct store_user *u = &res->u;
    if (gh_cfg.signup_closed) { /* before any work: the same for every address */
        res->outcome = ACCOUNTS_SIGNUP_CLOSED;
        return GH_OK;
    }
    if (email_normalize(email_in, email_len, u->email, u->email_key)) {
        res->outcome = ACCOUNTS_INVALID_EMAIL;
        return GH_OK;
    }
    if (password_check_policy(pw, pw_len, u->email, res->reason, sizeof res->reason)) {
        res->outcome = ACCOUNTS_WEAK_PASSWORD;
        return GH_OK;
    }
    enum gh_err rc = password_hash(u->password_hash, pw, pw_len);
    if (rc) return rc;
    sessions_new_id(u->id);
    /* The column's default, here too: the auth cache holds the role the
     * gate's role rules read from the first request on. */
    snprintf(u->role, sizeof u->role, "user");
    u->created_at = u->updated_at = gh_now_s();
    /* The column's default, also in the copy the auth cache gets (/v1/me,
     * the gate's role rules). */
    snprintf(u->role, sizeof u->role, "user");
    if (gh_cfg.email_verification == 2) { /* no session, and no word on whether it existed */
        bool created = false;
        if ((rc = signup_unconfirmed(ops, c, in->audit, u, &created))) return rc;
        if (created) link_mail_queue(u->email, u->email_key, LINK_VERIFY);
        res->outcome = ACCOUNTS_VERIFY_PENDING;
        return GH_OK;
    }
    /* The account and its first session are one write: a failure between
     * them must not leave an account the person was told was not made (a
     * retry would read email_taken). */
    if ((rc = ops->tx.begin_write(c))) return rc;
    struct store_audit ev;
    rc = ops->users.create(
        c, u, audit_event(in->audit, &ev, "signup", u->id, u->id, "{\"method\":\"password\"}"));
    if (rc == GH_ERR_CONFLICT) {
        ops->tx.rollback(c);
        res->outcome = ACCOUNTS_EMAIL_TAKEN;
        return GH_OK;
    }
    /* A new account has no second factor: under "all" it must enrol first. */
    res->restricted = gh_cfg.mfa_required == 2;
    /* A session cookie sent along is ended after the commit, in its own
     * write with its own audit row, as a sign-in does. */
    struct accounts_req first = *in;
    first.presented_len = 0;
    if (rc == GH_OK) rc = signin_session_start(ops, c, &first, "password", false, NULL, res);
    if (rc == GH_OK) rc = ops->tx.commit(c); /* rolls back itself on failure */
    if (rc) {
        ops->tx.rollback(c);
        return rc;
    }
    authcache_put_user(u, authcache_generation());
    signin_end_presented(ops, c, in);
    if (gh_cfg.email_verification) link_mail_queue(u->email, u->email_key, LINK_VERIFY);
    return GH_OK;
}
