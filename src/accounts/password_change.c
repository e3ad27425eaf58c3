#include "accounts/password_change.h"

#include <string.h>

#include "accounts/password_guard.h"
#include "core/util.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "sessions/authcache.h"
#include "sessions/sessions.h"

void password_change(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                     const char *cur, size_t cur_len, const char *next, size_t next_len)
{
    struct store_user u;
    struct store_audit base;
    char reason[200], h[PASSWORD_HASH_MAX];
    memset(&u, 0, sizeof u);
    memset(h, 0, sizeof h);
    enum gh_err rc = ops->users.by_id(c, r->ident.user_id, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        gh_fail(r, GH_E_INVALID_TOKEN);
        goto out;
    }
    if (rc) goto fail;
    /* The sign-in budgets and lockout of the account's address, before any
     * hash: a stolen access token guesses no faster than the sign-in form. */
    if (!password_guard_admit(r, u.email_key)) goto out;
    rc = cur_len > PASSWORD_MAX_BYTES ? (password_verify_dummy(cur, cur_len), GH_ERR_DENIED)
                                      : password_verify_user(u.id, u.password_hash, cur, cur_len);
    if (rc == GH_ERR_DENIED) {
        if ((rc = password_guard_failed(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                        "password.change_failure", u.id, r->ident.session_id,
                                        u.email_key, &u)))
            goto fail;
        gh_fail_msg(r, GH_E_PROOF_FAILED, "The current password is incorrect.");
        goto out;
    }
    if (rc) goto fail;
    limit_lockout_clear(u.email_key); /* a right password, as at sign-in */
    if (password_check_policy(next, next_len, u.email, reason, sizeof reason)) {
        gh_fail_msg(r, GH_E_WEAK_PASSWORD, reason);
        goto out;
    }
    if ((rc = password_hash(h, next, next_len))) goto fail;
    /* Every token issued so far carries an older "rev" (decision 0004). */
    int64_t now = gh_now_s(), tia = sessions_next_tia(u.tokens_invalidated_at);
    struct store_audit ev;
    if ((rc = ops->tx.begin_write(c))) goto fail;
    rc = ops->users.set_password(
        c, u.id, h, tia, r->ident.session_id, now,
        gh_audit_event(r, &ev, "password.changed", u.id, u.id, "{\"other_sessions\":\"revoked\"}"));
    /* Every emailed link still out dies with the old password, as with a
     * reset: above all a pending email change, which the notice to the old
     * address tells its owner to stop by changing the password. */
    if (rc == GH_OK) rc = ops->links.revoke_all(c, u.email_key, now);
    if (rc == GH_OK)
        rc = ops->tx.commit(c); /* rolls back itself on failure */
    else
        ops->tx.rollback(c);
    if (rc) goto fail;
    authcache_revoke_user_sessions(u.id, r->ident.session_id);
    authcache_set_user_tia(u.id, tia);
    gh_reply(r, 204, NULL);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    gh_wipe(h, sizeof h);
    gh_wipe(u.password_hash, sizeof u.password_hash);
}
