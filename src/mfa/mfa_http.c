#include "mfa/mfa_http.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "accounts/password_guard.h"
#include "audit/failures.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "mfa/mfa.h"
#include "mfa/totp.h"
#include "sessions/authcache.h"
#include "vault/vault.h"

static json_t *codes_json(char codes[STORE_BACKUP_CODES][MFA_BACKUP_LEN + 1]);

/* Enrolment waits for a proved address (issue 9, decision 0006). Sets the
 * reply and returns non-zero when it may not go on. */
static int check_may_enrol(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    enum gh_err rc = mfa_may_enrol(ops, c, r->ident.user_id);
    if (rc == GH_ERR_DENIED)
        gh_fail_msg(r, GH_E_EMAIL_NOT_VERIFIED,
                    "Confirm your email address first (POST /v1/email/verify/resend sends "
                    "the link); then set up a second factor.");
    else if (rc)
        gh_reply_fail(r, rc);
    return rc != GH_OK;
}

/* POST /v1/mfa/totp: a new secret, not active until confirmed. */
void mfa_http_totp_begin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    if (check_may_enrol(r, ops, c)) return;
    uint8_t secret[TOTP_SECRET_BYTES];
    char b32[TOTP_BASE32_LEN + 1], *sealed = NULL, *uri = NULL, *svg = NULL;
    totp_new_secret(secret);
    enum gh_err rc =
        vault_seal("mfa_totp", "secret_sealed", r->ident.user_id, secret, sizeof secret, &sealed);
    if (rc == GH_OK && strlen(sealed) > STORE_SEALED_MAX) rc = GH_ERR_INTERNAL;
    if (rc == GH_OK) rc = ops->totp.begin(c, r->ident.user_id, sealed, gh_now_s());
    if (rc == GH_ERR_CONFLICT) {
        gh_fail(r, GH_E_MFA_ALREADY_ENABLED);
        goto out;
    }
    if (rc == GH_OK) rc = totp_base32(secret, b32);
    if (rc == GH_OK) rc = totp_uri(secret, gh_cfg.brand, r->ident.email, &uri);
    if (rc == GH_OK) rc = totp_qr_svg(uri, &svg);
    if (rc) {
        gh_reply_fail(r, rc);
        goto out;
    }
    gh_reply(r, 200, json_pack("{s:s,s:s,s:s}", "secret", b32, "otpauth_uri", uri, "qr_svg", svg));
out:
    gh_wipe(secret, sizeof secret);
    gh_wipe(b32, sizeof b32);
    free(sealed);
    gh_free_secret_str(uri);
    gh_free_secret_str(svg);
}

/* The proofs sent (the password, a code (TOTP or backup), or both: the
 * password first, so a wrong one spends no code) against the account's
 * guessing budget, one unit per request: a wrong one is spent and audited,
 * a right one refunded. Sets the reply and returns non-zero unless every
 * proof sent holds. *method names the code's kind ("password" if none). */
static int proof_check(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                       const char *code, const char *pw, size_t pw_len, const char **method)
{
    struct limit_result lim;
    limit_take(LIMIT_MFA_ACCOUNT, r->ident.user_id, &lim);
    if (!lim.allowed) {
        gh_reply_limited(r, LIMIT_MFA_ACCOUNT, &lim);
        return -1;
    }
    struct store_audit base;
    enum gh_err rc = GH_OK;
    *method = "password";
    if (pw) {
        /* A password typed here is a sign-in guess like any other (issue 9,
         * item 5): the sign-in budgets and the address's lockout, and a
         * wrong one counts toward it (password_guard.h). */
        struct store_user u;
        memset(&u, 0, sizeof u);
        rc = ops->users.by_id(c, r->ident.user_id, &u);
        if (rc == GH_OK && !password_guard_admit(r, u.email_key)) {
            gh_wipe(u.password_hash, sizeof u.password_hash);
            return -1; /* the MFA unit stays spent: a request was made */
        }
        if (rc == GH_OK)
            rc = pw_len > PASSWORD_MAX_BYTES
                     ? (password_verify_dummy(pw, pw_len), GH_ERR_DENIED)
                     : password_verify_user(u.id, u.password_hash, pw, pw_len);
        gh_wipe(u.password_hash, sizeof u.password_hash);
        if (rc == GH_ERR_DENIED) {
            if ((rc = password_guard_failed(
                     ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL), "mfa.proof_failed",
                     u.id, r->ident.session_id, u.email_key, &u)) == GH_OK) {
                gh_fail(r, GH_E_PROOF_FAILED);
                return -1;
            }
            gh_reply_fail(r, rc);
            return -1;
        }
        if (rc == GH_OK) limit_lockout_clear(u.email_key);
    }
    if (rc == GH_OK && code) {
        rc = mfa_verify_code(ops, c, r->ident.user_id, code, method);
    }
    if (rc == GH_ERR_DENIED &&
        (rc = mfa_record_failure(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                 r->ident.user_id, "mfa.proof_failed", &lim)) == GH_OK) {
        gh_fail(r, GH_E_PROOF_FAILED);
        return -1;
    }
    if (rc) {
        gh_reply_fail(r, rc);
        return -1;
    }
    limit_refund(LIMIT_MFA_ACCOUNT, r->ident.user_id);
    return 0;
}

/* Adding a factor is a change to how the account is protected, so a stolen
 * access token alone must not do it (an attacker's authenticator would
 * lock the owner out): the session must have signed in within
 * GATEHOUSE_REAUTH_WINDOW, or the request must carry the password. Sets the
 * reply and returns non-zero when neither holds. */
static int check_recent_auth(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                             const char *pw, size_t pw_len)
{
    struct store_session s;
    enum gh_err rc = ops->sessions.get(c, r->ident.session_id, &s);
    if (rc) {
        gh_reply_fail(r, rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc);
        return -1;
    }
    if (!pw) {
        if (gh_now_s() - s.created_at <= gh_cfg.reauth_window) return 0;
        gh_fail_msg(r, GH_E_REAUTH_REQUIRED,
                    "Sign in again, or send 'password', to set up a second factor.");
        return -1;
    }
    /* A magic-link account's "!" matches nothing: it must sign in again. */
    const char *method;
    return proof_check(r, ops, c, NULL, pw, pw_len, &method);
}

/* The factor, its backup codes and (for a session restricted to enrolling)
 * the session's release are one write: a failure in between must not turn
 * the factor on with backup codes nobody saw. Like a password change (ASVS
 * 7.4.3), sessions that never passed the new factor end with its arrival;
 * this one stays. */
static enum gh_err confirm_write(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c, int64_t step, const uint8_t (*hashes)[32])
{
    enum gh_err rc = ops->tx.begin_write(c);
    if (rc) return rc;
    struct store_audit ev;
    rc =
        ops->totp.confirm(c, r->ident.user_id, step, hashes, r->ident.session_id, gh_now_s(),
                          gh_audit_event(r, &ev, "mfa.enrolled", r->ident.user_id, r->ident.user_id,
                                         "{\"factor\":\"totp\",\"other_sessions\":\"revoked\"}"));
    if (rc == GH_OK && r->ident.restricted) rc = ops->sessions.unrestrict(c, r->ident.session_id);
    if (rc == GH_OK) rc = ops->tx.commit(c); /* rolls back itself on failure */
    if (rc) ops->tx.rollback(c);
    return rc;
}

/* POST /v1/mfa/totp/confirm {code[, password]}: activates the factor after
 * one valid code, and hands out the backup codes once. */
void mfa_http_totp_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *code, *pw;
    size_t code_len, pw_len;
    const struct gh_field f[] = {{"code", true, &code, &code_len},
                                 {"password", false, &pw, &pw_len}};
    if (gh_body_fields(r, f, 2)) return;
    if (check_may_enrol(r, ops, c)) return;
    struct store_totp t;
    enum gh_err rc = ops->totp.get(c, r->ident.user_id, &t);
    if (rc == GH_ERR_NOT_FOUND || (rc == GH_OK && t.confirmed_at)) {
        gh_fail(r, GH_E_NO_PENDING_ENROLMENT);
        return;
    }
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    if (check_recent_auth(r, ops, c, pw, pw_len)) return;
    uint8_t *secret = NULL;
    size_t slen = 0;
    int64_t step = 0;
    rc = vault_open("mfa_totp", "secret_sealed", r->ident.user_id, t.secret_sealed, &secret, &slen);
    if (rc) {
        gh_log(GH_LOG_ERROR, "vault: mfa_totp.secret_sealed row %s does not open (%s)",
               r->ident.user_id, gh_err_name(rc));
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    rc = slen == TOTP_SECRET_BYTES ? totp_check(secret, code, gh_now_s(), -1, &step)
                                   : GH_ERR_INTERNAL;
    vault_free(secret, slen);
    if (rc == GH_ERR_DENIED) {
        gh_fail(r, GH_E_CODE_MISMATCH);
        return;
    }
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    char codes[STORE_BACKUP_CODES][MFA_BACKUP_LEN + 1];
    uint8_t hashes[STORE_BACKUP_CODES][32];
    mfa_backup_codes(codes, hashes);
    rc = confirm_write(r, ops, c, step, (const uint8_t(*)[32])hashes);
    if (rc == GH_OK) { /* after the commit (architecture.md, "The auth cache") */
        authcache_revoke_user_sessions(r->ident.user_id, r->ident.session_id);
        mfa_notify(ops, c, r->ident.email, true);
    }
    if (rc == GH_ERR_CONFLICT) {
        gh_fail_msg(r, GH_E_NO_PENDING_ENROLMENT, "The enrolment was already confirmed.");
    } else if (rc) {
        gh_reply_fail(r, rc);
    } else {
        /* The user proved the password and now the factor: a full session. */
        if (r->ident.restricted) authcache_unrestrict_session(r->ident.session_id);
        json_t *body = codes_json(codes);
        if (body)
            gh_reply(r, 200, body);
        else
            gh_reply_fail(r, GH_ERR_NOMEM);
    }
    gh_wipe(codes, sizeof codes);
    gh_wipe(hashes, sizeof hashes);
}

/* Proof for changing a factor (ASVS 7.5.1): a current code (TOTP or unused
 * backup code) and the password, both, so neither a stolen access token
 * with a phished password nor one with a code is enough. An account
 * without a password (magic links only) has a sign-in of this session that
 * passed the factor within GATEHOUSE_REAUTH_WINDOW stand in for it. Sets
 * the reply and returns non-zero when a proof is missing or wrong; proof
 * gets what was used ("totp+password", ...). */
static int check_proof(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                       char proof[48])
{
    const char *code, *pw, *method;
    size_t code_len, pw_len;
    const struct gh_field f[] = {{"code", false, &code, &code_len},
                                 {"password", false, &pw, &pw_len}};
    if (gh_body_fields(r, f, 2)) return -1;
    bool on = false;
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = mfa_enabled(ops, c, r->ident.user_id, &on);
    if (rc == GH_OK && !on) {
        gh_fail_msg(r, GH_E_NOT_FOUND, "No authenticator app is set up.");
        return -1;
    }
    if (rc == GH_OK) rc = ops->users.by_id(c, r->ident.user_id, &u);
    bool has_pw = u.password_hash[0] && u.password_hash[0] != '!'; /* "!": magic links only */
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc) {
        gh_reply_fail(r, rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc);
        return -1;
    }
    if (!code || (has_pw && !pw)) {
        gh_fail_msg(r, GH_E_MISSING_FIELD,
                    has_pw ? "Send both 'code' (a current or backup code) and 'password'."
                           : "Send 'code' (a current or backup code).");
        return -1;
    }
    if (!has_pw) {
        struct store_session s;
        if ((rc = ops->sessions.get(c, r->ident.session_id, &s))) {
            gh_reply_fail(r, rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc);
            return -1;
        }
        if (!s.mfa_at || gh_now_s() - s.mfa_at > gh_cfg.reauth_window) {
            gh_fail_msg(r, GH_E_REAUTH_REQUIRED,
                        "Sign in again, with your second factor, to change it.");
            return -1;
        }
    }
    if (proof_check(r, ops, c, code, has_pw ? pw : NULL, pw_len, &method)) return -1;
    snprintf(proof, 48, "%s+%s", method, has_pw ? "password" : "recent_signin");
    return 0;
}

/* DELETE /v1/mfa/totp {code, password}: removing a factor needs proof
 * stronger than any one stolen piece. */
void mfa_http_totp_delete(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char method[48];
    if (check_proof(r, ops, c, method)) return;
    char details[128];
    snprintf(details, sizeof details,
             "{\"factor\":\"totp\",\"proof\":\"%s\",\"other_sessions\":\"revoked\"}", method);
    struct store_audit ev;
    /* A factor gone is a weaker account: sessions elsewhere (perhaps the
     * reason it was removed) end with it; this one stays. */
    enum gh_err rc = ops->totp.delete(
        c, r->ident.user_id, r->ident.session_id, gh_now_s(),
        gh_audit_event(r, &ev, "mfa.removed", r->ident.user_id, r->ident.user_id, details));
    if (rc && rc != GH_ERR_NOT_FOUND) {
        gh_reply_fail(r, rc);
        return;
    }
    if (rc == GH_OK) {
        authcache_revoke_user_sessions(r->ident.user_id, r->ident.session_id);
        mfa_notify(ops, c, r->ident.email, false);
    }
    gh_reply(r, 204, NULL);
}

static json_t *codes_json(char codes[STORE_BACKUP_CODES][MFA_BACKUP_LEN + 1])
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < STORE_BACKUP_CODES; i++)
        json_array_append_new(arr, json_string(codes[i]));
    return arr ? json_pack("{s:o}", "backup_codes", arr) : NULL;
}

/* POST /v1/mfa/backup-codes {code, password}: a new set; the old one
 * stops working. */
void mfa_http_backup_codes(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char method[48];
    if (check_proof(r, ops, c, method)) return;
    char codes[STORE_BACKUP_CODES][MFA_BACKUP_LEN + 1];
    uint8_t hashes[STORE_BACKUP_CODES][32];
    mfa_backup_codes(codes, hashes);
    char details[128];
    snprintf(details, sizeof details, "{\"factor\":\"backup_codes\",\"proof\":\"%s\"}", method);
    struct store_audit ev;
    enum gh_err rc =
        ops->backup_codes.replace(c, r->ident.user_id, (const uint8_t(*)[32])hashes,
                                  gh_audit_event(r, &ev, "mfa.backup_codes_regenerated",
                                                 r->ident.user_id, r->ident.user_id, details));
    if (rc == GH_ERR_NOT_FOUND) {
        gh_fail_msg(r, GH_E_NOT_FOUND, "No authenticator app is set up.");
    } else if (rc) {
        gh_reply_fail(r, rc);
    } else {
        json_t *body = codes_json(codes);
        if (body)
            gh_reply(r, 200, body);
        else
            gh_reply_fail(r, GH_ERR_NOMEM);
    }
    gh_wipe(codes, sizeof codes);
    gh_wipe(hashes, sizeof hashes);
}

void mfa_http_step_up_reply(struct gh_req *r, enum mfa_stepup_outcome o,
                            const struct limit_result *lim)
{
    switch (o) {
    case MFA_STEPUP_OK:
        gh_reply(r, 204, NULL);
        break;
    case MFA_STEPUP_WRONG:
        gh_fail_msg(r, GH_E_CODE_MISMATCH,
                    "The code is not valid: a current code from the authenticator app, or an "
                    "unused backup code.");
        break;
    case MFA_STEPUP_LIMITED:
        gh_reply_limited(r, LIMIT_MFA_ACCOUNT, lim);
        break;
    case MFA_STEPUP_NO_FACTOR:
        gh_fail(r, GH_E_MFA_NOT_ENABLED);
        break;
    case MFA_STEPUP_SESSION_GONE:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This session has ended; sign in again.");
        break;
    }
}

/* POST /v1/mfa/step-up {code}: the session proves its second factor again
 * (sessions.mfa_at = now), for access rules that want a recent one. */
void mfa_http_step_up(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *code;
    size_t code_len;
    const struct gh_field f[] = {{"code", true, &code, &code_len}};
    if (gh_body_fields(r, f, 1)) return;
    struct store_audit base;
    struct limit_result lim;
    enum mfa_stepup_outcome o;
    int64_t at;
    enum gh_err rc = mfa_step_up(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                 r->ident.user_id, r->ident.session_id, code, &o, &at, &lim);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    mfa_http_step_up_reply(r, o, &lim);
}
