#include "accounts/signin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/email.h"
#include "accounts/password_guard.h"
#include "audit/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "mfa/mfa.h"
#include "sessions/authcache.h"
#include "sessions/sessions.h"

/* A cookie sign-in from a browser that still sends a session cookie ends
 * that session: a new sign-in never leaves the token it replaces alive
 * (no fixation, ASVS 7.2.4). Holding the cookie is proof enough to end its
 * session, whoever's it is. Best effort: a failure is only logged. */
void signin_end_presented(const struct store_ops *ops, struct store_conn *c,
                          const struct accounts_req *in)
{
    if (in->presented_len == 0) return;
    uint8_t h[32];
    struct store_refresh *rt = calloc(1, sizeof *rt);
    if (rt && refresh_hash(in->presented, in->presented_len, h) == GH_OK &&
        ops->refresh.get(c, h, rt) == GH_OK && rt->session_cookie && rt->rotated_at_us == 0 &&
        rt->session_live) {
        struct store_audit ev;
        char details[128];
        snprintf(details, sizeof details, "{\"session_id\":\"%s\",\"reason\":\"signin\"}",
                 rt->session_id);
        enum gh_err rc = ops->sessions.revoke(
            c, rt->session_id, rt->user_id, gh_now_s(),
            audit_event(in->audit, &ev, "signout", rt->user_id, rt->user_id, details));
        if (rc == GH_OK)
            authcache_revoke_session(rt->session_id);
        else if (rc != GH_ERR_NOT_FOUND)
            gh_log(GH_LOG_WARN, "could not end the session a cookie sign-in replaced");
    }
    if (rt) gh_wipe(rt, sizeof *rt);
    free(rt);
}

enum gh_err signin_session_start(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const char *method, bool audit,
                                 const uint64_t *cache_gen, struct accounts_result *res)
{
    struct store_audit ev;
    const struct store_user *u = &res->u;
    enum gh_err rc = sessions_start(
        ops, c, u, in->ip, in->user_agent,
        audit ? audit_event(in->audit, &ev, "signin.success", u->id, u->id, NULL) : NULL, method,
        res->restricted, in->cookie, &res->pair);
    if (rc) return rc;
    if (cache_gen) authcache_put_user(u, *cache_gen);
    if (in->cookie) signin_end_presented(ops, c, in);
    res->outcome = ACCOUNTS_SIGNED_IN;
    return GH_OK;
}

enum gh_err signin_first_factor_done(const struct store_ops *ops, struct store_conn *c,
                                     const struct accounts_req *in, const char *first_factor,
                                     const uint64_t *cache_gen, struct accounts_result *res)
{
    bool mfa = false;
    enum gh_err rc = mfa_enabled(ops, c, res->u.id, &mfa);
    if (rc) return rc;
    if (mfa) { /* the first factor was right; a second must follow, of the same strength */
        if ((rc = mfa_challenge_start(ops, c, &res->u, first_factor, res->mfa_token))) return rc;
        res->outcome = ACCOUNTS_MFA_REQUIRED;
        return GH_OK;
    }
    res->restricted = mfa_policy_applies(&res->u);
    return signin_session_start(ops, c, in, first_factor, true, cache_gen, res);
}

/* A wrong password or an unknown address: recorded and counted toward the
 * address's lockout (accounts/password_guard.h), and the same answer either
 * way. u is NULL for an unknown address. */
static enum gh_err signin_failed(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const char *email_key,
                                 const struct store_user *u, struct accounts_result *res)
{
    enum gh_err rc =
        password_guard_failed(ops, c, in->audit, "signin.failure", "anonymous", NULL, email_key, u);
    if (rc == GH_OK) res->outcome = ACCOUNTS_BAD_CREDENTIALS;
    return rc;
}

/* The password was right: stored again as Argon2id at current parameters
 * when it is an imported format or older parameters, audited
 * password.rehashed in the same transaction. Best effort: the old hash
 * still works, and a password changed meanwhile is left alone. */
static void rehash_if_needed(const struct store_ops *ops, struct store_conn *c,
                             const struct accounts_req *in, struct store_user *u, const char *pw,
                             size_t pw_len)
{
    if (!password_needs_rehash(u->password_hash)) return;
    char h[PASSWORD_HASH_MAX], details[96];
    struct store_audit ev;
    snprintf(details, sizeof details, "{\"from\":\"%s\",\"to\":\"argon2id\"}",
             password_hash_format(u->password_hash));
    enum gh_err rc = password_hash(h, pw, pw_len);
    if (rc == GH_OK)
        rc = ops->users.rehash(
            c, u->id, u->password_hash, h, gh_now_s(),
            audit_event(in->audit, &ev, "password.rehashed", u->id, u->id, details));
    if (rc == GH_OK) {
        gh_log(GH_LOG_INFO, "password rehashed to Argon2id at current parameters for user %s",
               u->id);
        snprintf(u->password_hash, sizeof u->password_hash, "%s", h);
    } else if (rc != GH_ERR_CONFLICT) {
        gh_log(GH_LOG_WARN, "could not rehash the password of user %s (%s)", u->id,
               gh_err_name(rc));
    }
    gh_wipe(h, sizeof h);
}

enum gh_err signin_password(const struct store_ops *ops, struct store_conn *c,
                            const struct accounts_req *in, const char *email_in, size_t email_len,
                            const char *pw, size_t pw_len, struct accounts_result *res)
{
    accounts_result_init(res);
    struct store_user *u = &res->u;
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    enum gh_err rc = GH_ERR_NOT_FOUND;
    uint64_t gen = authcache_generation(); /* before the read: see authcache.h */
    bool is_address = email_normalize(email_in, email_len, email, key) == GH_OK;
    if (!is_address) { /* not an address: the audit hash covers what was typed */
        size_t n = email_len < STORE_EMAIL_MAX ? email_len : STORE_EMAIL_MAX;
        memcpy(key, email_in, n);
        key[n] = '\0';
    }
    if (limit_locked(key, &res->retry_after)) { /* before any hash: known or not alike */
        res->outcome = ACCOUNTS_LOCKED;
        return GH_OK;
    }
    if (is_address) rc = ops->users.by_email_key(c, key, u);
    if (rc == GH_ERR_NOT_FOUND) {
        /* Same work as a wrong password: no account enumeration by timing. */
        password_verify_dummy(pw, pw_len);
        return signin_failed(ops, c, in, key, NULL, res);
    }
    if (rc) return rc;
    /* Over-long passwords cannot be ours (sign-up caps them) but still cost
     * the same as a check, so length tells nothing either. */
    rc = pw_len > PASSWORD_MAX_BYTES ? (password_verify_dummy(pw, pw_len), GH_ERR_DENIED)
                                     : password_verify_user(u->id, u->password_hash, pw, pw_len);
    if (rc == GH_ERR_DENIED) return signin_failed(ops, c, in, u->email_key, u, res);
    if (rc) return rc;
    limit_lockout_clear(key);
    rehash_if_needed(ops, c, in, u, pw, pw_len);
    authcache_put_user(u, gen);
    if (gh_cfg.email_verification == 2 && !u->email_verified_at) {
        /* Only said after a correct password: it reveals nothing to others. */
        res->outcome = ACCOUNTS_NOT_VERIFIED;
        return GH_OK;
    }
    rc = signin_first_factor_done(ops, c, in, "password", NULL, res);
    if (rc == GH_ERR_CONFLICT) /* the password changed while we were checking it */
        return signin_failed(ops, c, in, u->email_key, u, res);
    return rc;
}

enum gh_err signin_mfa(const struct store_ops *ops, struct store_conn *c,
                       const struct accounts_req *in, const char *tok, size_t tok_len,
                       const char *code_in, size_t code_len, struct accounts_result *res)
{
    accounts_result_init(res);
    struct store_user *u = &res->u;
    uint8_t h[32];
    char code[64];
    size_t n = 0;
    for (size_t i = 0; i < code_len && n + 1 < sizeof code; i++)
        if (code_in[i] != ' ') code[n++] = code_in[i]; /* "123 456" as shown by apps */
    code[n] = '\0';
    struct store_challenge ch;
    enum gh_err rc = GH_ERR_DENIED;
    if (tok_len == MFA_TOKEN_LEN && gh_sha256(h, tok, tok_len) == GH_OK)
        rc = ops->challenges.attempt(c, h, MFA_CHALLENGE_ATTEMPTS, gh_now_s(), &ch);
    if (rc == GH_ERR_DENIED) {
        res->outcome = ACCOUNTS_STEP_INVALID;
        rc = GH_OK;
        goto out;
    }
    if (rc) goto out;
    uint64_t gen = authcache_generation(); /* before the read: see authcache.h */
    rc = ops->users.by_id(c, ch.user_id, u);
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = ACCOUNTS_STEP_GONE;
        rc = GH_OK;
        goto out;
    }
    if (rc) goto out;
    /* Per account as well as per challenge: each correct password brings a
     * new challenge, so only this budget bounds guessing the code. */
    limit_take(LIMIT_MFA_ACCOUNT, u->id, &res->lim);
    if (!res->lim.allowed) {
        res->outcome = ACCOUNTS_LIMITED;
        goto out;
    }
    const char *method = NULL;
    rc = n > 0 && n < sizeof code - 1 ? mfa_verify_code(ops, c, u->id, code, &method)
                                      : GH_ERR_DENIED;
    if (rc == GH_ERR_DENIED) {
        rc = mfa_record_failure(ops, c, in->audit, u->id, "signin.failure", &res->lim);
        if (rc == GH_OK) res->outcome = ACCOUNTS_BAD_CODE;
        goto out;
    }
    if (rc) goto out;
    limit_refund(LIMIT_MFA_ACCOUNT, u->id);
    rc = ops->challenges.consume(c, h, gh_now_s());
    if (rc == GH_ERR_DENIED) { /* a parallel request won */
        res->outcome = ACCOUNTS_STEP_USED;
        rc = GH_OK;
        goto out;
    }
    if (rc) goto out; /* a backend failure is not a spent step */
    /* The session is refused if the password changed since it was checked. */
    u->tokens_invalidated_at = ch.tokens_invalidated_at;
    char m[32];
    snprintf(m, sizeof m, "%s+%s", ch.first_factor, method);
    rc = signin_session_start(ops, c, in, m, true, &gen, res);
    if (rc == GH_ERR_CONFLICT) {
        res->outcome = ACCOUNTS_BAD_CREDENTIALS;
        rc = GH_OK;
    }
out:
    gh_wipe(code, sizeof code);
    return rc;
}
