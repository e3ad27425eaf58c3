#include "mfa/mfa.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "mail/mail.h"
#include "mfa/totp.h"
#include "vault/vault.h"

enum gh_err mfa_enabled(const struct store_ops *ops, struct store_conn *c, const char *user_id,
                        bool *on)
{
    struct store_totp t;
    enum gh_err rc = ops->totp.get(c, user_id, &t);
    *on = rc == GH_OK && t.confirmed_at != 0;
    return rc == GH_ERR_NOT_FOUND ? GH_OK : rc;
}

enum gh_err mfa_may_enrol(const struct store_ops *ops, struct store_conn *c, const char *user_id)
{
    struct store_user u;
    enum gh_err rc = ops->users.by_id(c, user_id, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc == GH_ERR_NOT_FOUND) return GH_ERR_DENIED;
    if (rc) return rc;
    return u.email_verified_at ? GH_OK : GH_ERR_DENIED;
}

bool mfa_backup_canon(const char *code, char canon[MFA_BACKUP_CANON_LEN + 1])
{
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == '-' || *p == ' ') continue;
        if (n >= MFA_BACKUP_CANON_LEN || !isalnum((unsigned char)*p)) {
            gh_wipe(canon, MFA_BACKUP_CANON_LEN + 1); /* a prefix of the code */
            return false;
        }
        canon[n++] = (char)tolower((unsigned char)*p);
    }
    canon[n] = '\0';
    if (n == MFA_BACKUP_CANON_LEN) return true;
    gh_wipe(canon, MFA_BACKUP_CANON_LEN + 1);
    return false;
}

/* Backup codes are compared by hash of their canonical form. */
static bool backup_hash(const char *code, uint8_t hash[32])
{
    char canon[MFA_BACKUP_CANON_LEN + 1];
    if (!mfa_backup_canon(code, canon)) return false;
    bool ok = gh_sha256(hash, canon, MFA_BACKUP_CANON_LEN) == GH_OK;
    gh_wipe(canon, sizeof canon);
    return ok;
}

void mfa_backup_codes(char codes[STORE_BACKUP_CODES][MFA_BACKUP_LEN + 1],
                      uint8_t hashes[STORE_BACKUP_CODES][32])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567"; /* base32 */
    for (int i = 0; i < STORE_BACKUP_CODES; i++) {
        uint8_t raw[MFA_BACKUP_CHARS];
        gh_random(raw, sizeof raw);
        size_t o = 0;
        for (int k = 0; k < MFA_BACKUP_CHARS; k++) {
            if (k && k % 4 == 0) codes[i][o++] = '-';
            codes[i][o++] = alphabet[raw[k] & 31]; /* 5 bits from each byte */
        }
        codes[i][o] = '\0';
        gh_wipe(raw, sizeof raw);
        if (!backup_hash(codes[i], hashes[i])) memset(hashes[i], 0, 32);
    }
}

enum gh_err mfa_verify_code(const struct store_ops *ops, struct store_conn *c, const char *user_id,
                            const char *code, const char **method)
{
    struct store_totp t;
    enum gh_err rc = ops->totp.get(c, user_id, &t);
    if (rc == GH_ERR_NOT_FOUND || (rc == GH_OK && !t.confirmed_at)) return GH_ERR_DENIED;
    if (rc) return rc;
    size_t len = strlen(code);
    if (len == TOTP_DIGITS) {
        uint8_t *secret = NULL;
        size_t slen = 0;
        rc = vault_open("mfa_totp", "secret_sealed", user_id, t.secret_sealed, &secret, &slen);
        if (rc) {
            /* Damaged or moved between rows: fail closed, and say which row. */
            gh_log(GH_LOG_ERROR, "vault: mfa_totp.secret_sealed row %s does not open (%s)", user_id,
                   gh_err_name(rc));
            return rc == GH_ERR_DENIED || rc == GH_ERR_INVALID ? GH_ERR_INTERNAL : rc;
        }
        int64_t step = 0;
        rc = slen == TOTP_SECRET_BYTES ? totp_check(secret, code, gh_now_s(), t.last_step, &step)
                                       : GH_ERR_INTERNAL;
        vault_free(secret, slen);
        if (rc) return rc;
        /* Conditional on last_step: of two racing uses of one code, one wins. */
        rc = ops->totp.use_step(c, user_id, step);
        if (rc == GH_ERR_CONFLICT) return GH_ERR_DENIED;
        if (rc == GH_OK) *method = "totp";
        return rc;
    }
    uint8_t h[32];
    if (!backup_hash(code, h)) return GH_ERR_DENIED;
    rc = ops->backup_codes.use(c, user_id, h, gh_now_s());
    if (rc == GH_OK) *method = "backup_code";
    return rc;
}

enum gh_err mfa_challenge_start(const struct store_ops *ops, struct store_conn *c,
                                const struct store_user *u, const char *first_factor,
                                char token[MFA_TOKEN_LEN + 1])
{
    uint8_t h[32];
    enum gh_err rc = gh_random_token(token, MFA_TOKEN_LEN + 1, 32);
    if (rc == GH_OK) rc = gh_sha256(h, token, MFA_TOKEN_LEN);
    if (rc) return rc;
    struct store_challenge ch;
    memset(&ch, 0, sizeof ch);
    memcpy(ch.user_id, u->id, sizeof ch.user_id);
    ch.tokens_invalidated_at = u->tokens_invalidated_at;
    ch.expires_at = gh_now_s() + MFA_CHALLENGE_TTL;
    snprintf(ch.first_factor, sizeof ch.first_factor, "%s", first_factor);
    return ops->challenges.create(c, h, &ch);
}

bool mfa_policy_applies(const struct store_user *u)
{
    return gh_cfg.mfa_required == 2 || (gh_cfg.mfa_required == 1 && strcmp(u->role, "admin") == 0);
}

void mfa_notify(const struct store_ops *ops, struct store_conn *c, const char *email, bool added)
{
    char subject[160], text[700], html[800];
    const char *what = added ? "added to" : "removed from";
    snprintf(subject, sizeof subject, "A second factor was %s your %s account", what, gh_cfg.brand);
    snprintf(text, sizeof text,
             "An authenticator app was just %s your %s account, and the account's other "
             "sessions were signed out.\r\n\r\nIf this was you, there is nothing to do. If it "
             "was not, reset your password now and contact the service's support.\r\n",
             what, gh_cfg.brand);
    snprintf(html, sizeof html,
             "<p>An authenticator app was just %s your %s account, and the account's other "
             "sessions were signed out.</p><p>If this was you, there is nothing to do. If it was "
             "not, reset your password now and contact the service's support.</p>",
             what, gh_cfg.brand);
    if (!email || !email[0] ||
        mail_enqueue_notice(ops, c, email, added ? "mfa_added" : "mfa_removed", subject, text,
                            html) != GH_OK)
        gh_log(GH_LOG_ERROR, "second-factor notice: cannot queue the email");
}

enum gh_err mfa_record_failure(const struct store_ops *ops, struct store_conn *c,
                               const struct store_audit *base, const char *user_id,
                               const char *action, const struct limit_result *lim)
{
    struct store_audit ev;
    bool signin = strcmp(action, "signin.failure") == 0;
    /* "rate_limited" marks the failure that spent the account's budget:
     * one row per lockout, not one per refused attempt after it. */
    const char *details = lim->remaining == 0
                              ? "{\"method\":\"second_factor\",\"rate_limited\":true}"
                              : "{\"method\":\"second_factor\"}";
    const struct store_audit *e =
        audit_event(base, &ev, action, signin ? "anonymous" : user_id, user_id, details);
    return audit_failure_append(ops, c, e); /* bounded per kind and client */
}
