#include "accounts/links.h"

#include <stdio.h>
#include <string.h>

#include "accounts/signin.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/util.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "sessions/authcache.h"
#include "sessions/sessions.h"

/* An emailed link refused: one audit row (ASVS 16.3.1). The account is
 * named only by a keyed hash of its address, and only when the link was
 * real but expired; a made-up token names nothing. */
static enum gh_err link_failed(const struct store_ops *ops, struct store_conn *c,
                               const struct accounts_req *in, const char *purpose,
                               const char *reason, const char *email_key)
{
    static const char *const actions[][2] = {{"signin", "signin.failure"},
                                             {"reset", "password.reset_failure"},
                                             {"verify", "email.verify_failure"}};
    const char *action = "signin.failure";
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(purpose, actions[i][0]) == 0) action = actions[i][1];
    char mac[AUDIT_HASH_HEX + 1] = "", details[200];
    if (email_key) audit_email_hmac(email_key, mac);
    snprintf(details, sizeof details, "{\"method\":\"%s\",\"reason\":\"%s\"%s%s%s}",
             strcmp(purpose, "signin") == 0 ? "magic_link" : "link", reason,
             mac[0] ? ",\"email_hmac\":\"" : "", mac, mac[0] ? "\"" : "");
    struct store_audit ev;
    return audit_failure_append(ops, c,
                                audit_event(in->audit, &ev, action, "anonymous", "", details));
}

/* Spends an emailed link of the given purpose: GH_OK with *spent and *m;
 * GH_OK with res->outcome LINK_INVALID or LINK_EXPIRED when refused (and
 * audited: an unrecorded failure is a failure); or a failure. */
static enum gh_err spend_link(const struct store_ops *ops, struct store_conn *c,
                              const struct accounts_req *in, const char *tok, size_t tok_len,
                              const char *purpose, struct store_magic *m, bool *spent,
                              struct accounts_result *res)
{
    uint8_t h[32];
    enum gh_err rc = GH_ERR_DENIED;
    *spent = false;
    if (tok_len == 43 && gh_sha256(h, tok, tok_len) == GH_OK)
        rc = ops->links.consume(c, h, purpose, gh_now_s(), m);
    if (rc == GH_ERR_DENIED) {
        res->outcome = ACCOUNTS_LINK_INVALID;
        return link_failed(ops, c, in, purpose, "invalid", NULL);
    }
    if (rc) return rc;
    if (m->expires_at <= gh_now_s()) {
        res->outcome = ACCOUNTS_LINK_EXPIRED;
        return link_failed(ops, c, in, purpose, "expired", m->email_key);
    }
    *spent = true;
    return GH_OK;
}

/* The account a sign-in link was sent to, or a new one when magic-link
 * sign-up is on (*created). GH_ERR_NOT_FOUND when there is none. */
static enum gh_err magic_account(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const struct store_magic *m,
                                 struct store_user *u, bool *created)
{
    enum gh_err rc = ops->users.by_email_key(c, m->email_key, u);
    *created = false;
    if (rc == GH_ERR_NOT_FOUND && gh_cfg.magic_link_signup) {
        *created = true;
        memset(u, 0, sizeof *u);
        sessions_new_id(u->id);
        snprintf(u->role, sizeof u->role, "user"); /* the column's default, for the cache */
        memcpy(u->email, m->email, sizeof u->email);
        memcpy(u->email_key, m->email_key, sizeof u->email_key);
        memcpy(u->password_hash, "!", 2); /* no password: password sign-in always fails */
        u->created_at = u->updated_at = gh_now_s();
        snprintf(u->role, sizeof u->role, "user"); /* the column's default, for the cache */
        struct store_audit ev;
        rc = ops->users.create(
            c, u,
            audit_event(in->audit, &ev, "signup", u->id, u->id, "{\"method\":\"magic_link\"}"));
    }
    return rc;
}

/* Following the link proves the address. *gen moves when the account was
 * reclaimed (its sessions left the cache). */
static enum gh_err magic_prove_address(const struct store_ops *ops, struct store_conn *c,
                                       const struct accounts_req *in, struct store_user *u,
                                       bool created, uint64_t *gen)
{
    enum gh_err rc = GH_OK;
    if (!u->email_verified_at && created) { /* following the link proves the address */
        struct store_audit vev;
        rc = ops->users.verify_email(c, u->id, gh_now_s(),
                                     audit_event(in->audit, &vev, "email.verified", u->id, u->id,
                                                 "{\"method\":\"magic_link\"}"));
    } else if (!u->email_verified_at) {
        /* Whoever signed up with this address never proved it; its owner
         * just did. The password and sessions made before do not survive
         * (account pre-hijacking); a second factor does (store.h). */
        int64_t now = gh_now_s(), tia = sessions_next_tia(u->tokens_invalidated_at);
        struct store_audit vev;
        if ((rc = ops->users.reclaim(
                 c, u->id, tia, now,
                 audit_event(in->audit, &vev, "email.verified", u->id, u->id,
                             "{\"method\":\"magic_link\",\"unverified_password\":"
                             "\"removed\"}"))))
            return rc;
        authcache_revoke_user_sessions(u->id, NULL);
        authcache_set_user_tia(u->id, tia);
        u->tokens_invalidated_at = tia;
        *gen = authcache_generation();
    }
    return rc;
}

enum gh_err links_magic_verify(const struct store_ops *ops, struct store_conn *c,
                               const struct accounts_req *in, const char *tok, size_t tok_len,
                               struct accounts_result *res)
{
    accounts_result_init(res);
    struct store_magic m;
    bool spent, created = false;
    enum gh_err rc = spend_link(ops, c, in, tok, tok_len, "signin", &m, &spent, res);
    if (rc || !spent) return rc;
    uint64_t gen = authcache_generation();
    rc = magic_account(ops, c, in, &m, &res->u, &created);
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = ACCOUNTS_LINK_INVALID;
        return GH_OK;
    }
    if (rc) return rc;
    if ((rc = magic_prove_address(ops, c, in, &res->u, created, &gen))) return rc;
    return signin_first_factor_done(ops, c, in, "magic_link", &gen, res);
}

/* A reset link that is real, unused and of its purpose: GH_OK with *ok
 * and *m (nothing spent yet); GH_OK with res->outcome when refused
 * (audited); or a failure. */
static enum gh_err reset_link_check(const struct store_ops *ops, struct store_conn *c,
                                    const struct accounts_req *in, const uint8_t h[32], bool hashed,
                                    struct store_magic *m, bool *ok, struct accounts_result *res)
{
    enum gh_err rc = GH_ERR_NOT_FOUND;
    *ok = false;
    if (hashed) rc = ops->links.get(c, h, m);
    if (rc == GH_OK && (strcmp(m->purpose, "reset") != 0 || m->used_at)) rc = GH_ERR_NOT_FOUND;
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = ACCOUNTS_LINK_INVALID;
        return link_failed(ops, c, in, "reset", "invalid", NULL);
    }
    if (rc) return rc;
    if (m->expires_at <= gh_now_s()) {
        res->outcome = ACCOUNTS_LINK_EXPIRED;
        return link_failed(ops, c, in, "reset", "expired", m->email_key);
    }
    *ok = true;
    return GH_OK;
}

/* One transaction: the link is spent if and only if the password is set,
 * the sessions revoked, the other links killed and it is audited. */
static enum gh_err reset_apply(const struct store_ops *ops, struct store_conn *c,
                               const struct accounts_req *in, const uint8_t h[32], const char *hash,
                               struct store_magic *m, struct accounts_result *res)
{
    const struct store_user *u = &res->u;
    enum gh_err rc;
    int64_t now = gh_now_s(), tia = sessions_next_tia(u->tokens_invalidated_at);
    if ((rc = ops->tx.begin_write(c))) return rc;
    rc = ops->links.consume(c, h, "reset", now, m);
    if (rc == GH_ERR_DENIED) {
        ops->tx.rollback(c);
        res->outcome = ACCOUNTS_LINK_USED;
        return GH_OK;
    }
    struct store_audit ev, vev;
    if (rc == GH_OK)
        rc = ops->users.set_password(c, u->id, hash, tia, NULL, now,
                                     audit_event(in->audit, &ev, "password.reset", u->id, u->id,
                                                 "{\"sessions\":\"revoked\"}"));
    /* Other links sent before the reset (sign-in, reset) die with it. */
    if (rc == GH_OK) rc = ops->links.revoke_all(c, u->email_key, now);
    if (rc == GH_OK && !u->email_verified_at) /* the link proved the address too */
        rc = ops->users.verify_email(c, u->id, now,
                                     audit_event(in->audit, &vev, "email.verified", u->id, u->id,
                                                 "{\"method\":\"reset_link\"}"));
    if (rc == GH_OK)
        rc = ops->tx.commit(c); /* rolls back itself on failure */
    else
        ops->tx.rollback(c);
    if (rc) return rc;
    authcache_revoke_user_sessions(u->id, NULL);
    authcache_set_user_tia(u->id, tia);
    limit_lockout_clear(u->email_key);
    res->outcome = ACCOUNTS_DONE;
    return GH_OK;
}

enum gh_err links_password_reset(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const char *tok, size_t tok_len,
                                 const char *pw, size_t pw_len, struct accounts_result *res)
{
    accounts_result_init(res);
    uint8_t h[32];
    struct store_magic m;
    char hash[PASSWORD_HASH_MAX];
    bool ok;
    memset(hash, 0, sizeof hash);
    bool hashed = tok_len == 43 && gh_sha256(h, tok, tok_len) == GH_OK;
    enum gh_err rc = reset_link_check(ops, c, in, h, hashed, &m, &ok, res);
    if (rc || !ok) return rc;
    /* Judge the password before spending the link: a refused password
     * leaves the link usable. */
    if (password_check_policy(pw, pw_len, m.email, res->reason, sizeof res->reason)) {
        res->outcome = ACCOUNTS_WEAK_PASSWORD;
        return GH_OK;
    }
    rc = ops->users.by_email_key(c, m.email_key, &res->u);
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = ACCOUNTS_LINK_GONE;
        return GH_OK;
    }
    if (rc == GH_OK) rc = password_hash(hash, pw, pw_len);
    if (rc == GH_OK) rc = reset_apply(ops, c, in, h, hash, &m, res);
    gh_wipe(hash, sizeof hash);
    return rc;
}

enum gh_err links_email_verify(const struct store_ops *ops, struct store_conn *c,
                               const struct accounts_req *in, const char *tok, size_t tok_len,
                               struct accounts_result *res)
{
    accounts_result_init(res);
    struct store_magic m;
    bool spent;
    enum gh_err rc = spend_link(ops, c, in, tok, tok_len, "verify", &m, &spent, res);
    if (rc || !spent) return rc;
    struct store_user *u = &res->u;
    rc = ops->users.by_email_key(c, m.email_key, u);
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = ACCOUNTS_LINK_GONE;
        return GH_OK;
    }
    if (rc) return rc;
    struct store_audit ev;
    rc = ops->users.verify_email(
        c, u->id, gh_now_s(),
        audit_event(in->audit, &ev, "email.verified", u->id, u->id, "{\"method\":\"link\"}"));
    if (rc == GH_OK) res->outcome = ACCOUNTS_DONE;
    return rc;
}
