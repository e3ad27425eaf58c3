#include "accounts/email_change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/email.h"
#include "accounts/password_guard.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "credentials/password.h"
#include "guard/limit.h"
#include "mail/mail.h"
#include "sessions/authcache.h"

void email_change_mask(const char *email, char out[STORE_EMAIL_MAX + 8])
{
    const char *at = strchr(email, '@');
    char first = email[0];
    bool alnum = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') ||
                 (first >= '0' && first <= '9');
    /* The domain holds only letters, digits, '-' and '.' (accounts/email.h). */
    snprintf(out, STORE_EMAIL_MAX + 8, "%c***@%s", alnum ? first : '*', at ? at + 1 : "");
}

/* ---- the request ---- */

/* The proof for changing the identifier: the current password (under the
 * sign-in defences), or for an account without one a sign-in of this
 * session within GATEHOUSE_REAUTH_WINDOW. GH_OK with *proof set, or GH_OK
 * with res->outcome set (refused), or a failure. */
static enum gh_err check_proof(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                               const struct store_user *u, const char *pw, size_t pw_len,
                               const char **proof, struct email_change_result *res)
{
    *proof = NULL;
    bool has_pw = u->password_hash[0] && u->password_hash[0] != '!'; /* "!": magic links only */
    if (!has_pw) {
        struct store_session s;
        enum gh_err rc = ops->sessions.get(c, r->ident.session_id, &s);
        if (rc) return rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc;
        if (gh_now_s() - s.created_at > gh_cfg.reauth_window) {
            res->outcome = EMAIL_CHANGE_REAUTH;
            return GH_OK;
        }
        *proof = "recent_signin";
        return GH_OK;
    }
    if (!pw) {
        res->outcome = EMAIL_CHANGE_NO_PASSWORD;
        return GH_OK;
    }
    /* The sign-in budgets and lockout of the account's address, before any
     * hash: a stolen access token guesses no faster than the sign-in form. */
    if (!password_guard_admit(r, u->email_key)) {
        res->outcome = EMAIL_CHANGE_REPLIED;
        return GH_OK;
    }
    enum gh_err rc = pw_len > PASSWORD_MAX_BYTES
                         ? (password_verify_dummy(pw, pw_len), GH_ERR_DENIED)
                         : password_verify_user(u->id, u->password_hash, pw, pw_len);
    if (rc == GH_ERR_DENIED) {
        struct store_audit base;
        rc = password_guard_failed(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                   "email.change_failure", u->id, r->ident.session_id, u->email_key,
                                   u);
        if (rc == GH_OK) res->outcome = EMAIL_CHANGE_BAD_PASSWORD;
        return rc;
    }
    if (rc) return rc;
    limit_lockout_clear(u->email_key); /* a right password, as at sign-in */
    *proof = "password";
    return GH_OK;
}

/* The confirmation link to the new address (the operator's template
 * "email_change" when present) and the notice to the old one (template
 * "email_change_requested"; no link in it). */
static enum gh_err queue_mails(const struct store_ops *ops, struct store_conn *c,
                               const struct store_user *u, const char *new_email, const char *link)
{
    char text[1400], html[1800], subject[160], masked[STORE_EMAIL_MAX + 8];
    long long minutes = (long long)(gh_cfg.magic_link_ttl / 60);
    snprintf(subject, sizeof subject, "Confirm your new email address for %s", gh_cfg.brand);
    snprintf(text, sizeof text,
             "Someone, probably you, asked to use this address for their %s account. Use this "
             "link to confirm it:\r\n\r\n%s\r\n\r\nIt works once and expires in %lld minutes. "
             "If you did not ask for it, ignore this email: nothing changes.\r\n",
             gh_cfg.brand, link, minutes);
    snprintf(html, sizeof html,
             "<p>Someone, probably you, asked to use this address for their %s account. Use this "
             "link to confirm it:</p><p><a href=\"%s\">Confirm my new email address</a></p>"
             "<p>It works once and expires in %lld minutes. If you did not ask for it, ignore "
             "this email: nothing changes.</p>",
             gh_cfg.brand, link, minutes);
    char *t_text = NULL, *t_html = NULL;
    if (mail_template(EMAIL_CHANGE_PURPOSE, "txt", link, minutes, &t_text) != GH_OK) t_text = NULL;
    if (mail_template(EMAIL_CHANGE_PURPOSE, "html", link, minutes, &t_html) != GH_OK) t_html = NULL;
    enum gh_err rc =
        mail_enqueue(ops, c, new_email, subject, t_text ? t_text : text, t_html ? t_html : html);
    gh_free_secret_str(t_text);
    gh_free_secret_str(t_html);
    gh_wipe(text, sizeof text);
    gh_wipe(html, sizeof html);
    if (rc) return rc;
    email_change_mask(new_email, masked);
    snprintf(subject, sizeof subject, "A change of your %s email address was requested",
             gh_cfg.brand);
    snprintf(text, sizeof text,
             "Someone asked to change the email address of your %s account to %s. The change "
             "happens only once the new address is confirmed.\r\n\r\nIf it was you, there is "
             "nothing to do. If it was not, change your password now: whoever asked knows "
             "it.\r\n",
             gh_cfg.brand, masked);
    snprintf(html, sizeof html,
             "<p>Someone asked to change the email address of your %s account to %s. The change "
             "happens only once the new address is confirmed.</p><p>If it was you, there is "
             "nothing to do. If it was not, change your password now: whoever asked knows "
             "it.</p>",
             gh_cfg.brand, masked);
    return mail_enqueue_notice(ops, c, u->email, "email_change_requested", subject, text, html);
}

/* One transaction: the audit row, the link (only its hash) and both
 * emails, or none of them. */
static enum gh_err request_write(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c, const struct store_user *u,
                                 const char *new_email, const char *new_key, const char *proof)
{
    char token[44], link[700], mac[AUDIT_HASH_HEX + 1], details[200];
    uint8_t h[32];
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.purpose, sizeof m.purpose, "%s", EMAIL_CHANGE_PURPOSE);
    memcpy(m.email_key, u->email_key, sizeof m.email_key);
    memcpy(m.email, u->email, sizeof m.email);
    snprintf(m.new_email, sizeof m.new_email, "%s", new_email);
    int64_t now = gh_now_s();
    m.expires_at = now + gh_cfg.magic_link_ttl;
    audit_email_hmac(new_key, mac);
    snprintf(details, sizeof details, "{\"new_email_hmac\":\"%s\",\"proof\":\"%s\"}", mac, proof);
    enum gh_err rc = gh_random_token(token, sizeof token, 32);
    if (rc == GH_OK) rc = gh_sha256(h, token, 43);
    if (rc) return rc;
    snprintf(link, sizeof link, "%s/email-change?token=%s", gh_cfg.public_url, token);
    struct store_audit ev;
    const struct store_audit *e =
        gh_audit_event(r, &ev, "email.change_requested", u->id, u->id, details);
    if ((rc = ops->tx.begin_write(c))) goto out;
    if (e) rc = ops->audit.append(c, e);
    if (rc == GH_OK) rc = ops->links.create(c, h, &m, now);
    if (rc == GH_OK) rc = queue_mails(ops, c, u, new_email, link);
    if (rc == GH_OK)
        rc = ops->tx.commit(c); /* rolls back itself on failure */
    else
        ops->tx.rollback(c);
    if (rc == GH_OK && !gh_cfg.production)
        gh_log(GH_LOG_INFO, "development: email_change link for %s: %s", new_email, link);
out:
    gh_wipe(token, sizeof token);
    gh_wipe(link, sizeof link);
    return rc;
}

enum gh_err email_change_request(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c, const char *new_email, size_t email_len,
                                 const char *pw, size_t pw_len, struct email_change_result *res)
{
    memset(res, 0, sizeof *res);
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(new_email, email_len, email, key) != GH_OK) {
        res->outcome = EMAIL_CHANGE_INVALID_EMAIL;
        return GH_OK;
    }
    struct store_user u;
    memset(&u, 0, sizeof u);
    const char *proof = NULL;
    enum gh_err rc = ops->users.by_id(c, r->ident.user_id, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = EMAIL_CHANGE_GONE;
        return GH_OK;
    }
    if (rc) goto out;
    if (strcmp(email, u.email) == 0) {
        res->outcome = EMAIL_CHANGE_SAME;
        goto out;
    }
    /* Only a proved address may be moved. Otherwise someone who signed up
     * with another person's address (verification off) asks for a change
     * to their own inbox, the owner proves the address by a link (which
     * reclaims the account), and the pending link then moves the
     * reclaimed account to the attacker (as for TOTP enrolment, decision
     * 0006). */
    if (!u.email_verified_at) {
        res->outcome = EMAIL_CHANGE_NOT_VERIFIED;
        goto out;
    }
    if ((rc = check_proof(r, ops, c, &u, pw, pw_len, &proof, res)) || !proof) goto out;
    /* Mail goes out: the budgets /v1/magic-link spends, for the new
     * address (whoever owns it is not flooded) and this client. */
    const enum limit_rule rules[] = {LIMIT_EMAIL_ACCOUNT, LIMIT_EMAIL_IP};
    char ipk[PROXY_KEY_MAX];
    gh_client_key(r, ipk);
    const char *subjects[] = {key, ipk};
    if (!gh_take(r, rules, subjects, 2)) {
        res->outcome = EMAIL_CHANGE_REPLIED;
        goto out;
    }
    if ((rc = request_write(r, ops, c, &u, email, key, proof)) == GH_OK)
        res->outcome = EMAIL_CHANGE_SENT;
out:
    gh_wipe(u.password_hash, sizeof u.password_hash);
    return rc;
}

/* ---- following the link ---- */

/* A refused link or change: one audit row (ASVS 16.3.1), naming the
 * account only by a keyed hash of its address, and only when the link was
 * real. */
static enum gh_err change_failed(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_audit *base, const char *reason,
                                 const char *target, const char *email_key)
{
    char mac[AUDIT_HASH_HEX + 1] = "", details[200];
    if (email_key) audit_email_hmac(email_key, mac);
    snprintf(details, sizeof details, "{\"method\":\"link\",\"reason\":\"%s\"%s%s%s}", reason,
             mac[0] ? ",\"email_hmac\":\"" : "", mac, mac[0] ? "\"" : "");
    struct store_audit ev;
    return audit_failure_append(
        ops, c,
        audit_event(base, &ev, "email.change_failure", "anonymous", target ? target : "", details));
}

/* The link tok if it is real, unused, of its purpose and unexpired: GH_OK
 * with *ok, *m and h; else GH_OK with res->outcome (and, when audit, the
 * failure row), or a failure. */
static enum gh_err link_check(const struct store_ops *ops, struct store_conn *c,
                              const struct store_audit *base, bool audit, const char *tok,
                              size_t tok_len, uint8_t h[32], struct store_magic *m, bool *ok,
                              struct email_change_result *res)
{
    enum gh_err rc = GH_ERR_NOT_FOUND;
    *ok = false;
    if (tok_len == 43 && gh_sha256(h, tok, tok_len) == GH_OK) rc = ops->links.get(c, h, m);
    if (rc == GH_OK && (strcmp(m->purpose, EMAIL_CHANGE_PURPOSE) != 0 || m->used_at))
        rc = GH_ERR_NOT_FOUND;
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = EMAIL_CHANGE_LINK_INVALID;
        return audit ? change_failed(ops, c, base, "invalid", NULL, NULL) : GH_OK;
    }
    if (rc) return rc;
    if (m->expires_at <= gh_now_s()) {
        res->outcome = EMAIL_CHANGE_LINK_EXPIRED;
        return audit ? change_failed(ops, c, base, "expired", NULL, m->email_key) : GH_OK;
    }
    *ok = true;
    return GH_OK;
}

enum gh_err email_change_peek(const struct store_ops *ops, struct store_conn *c, const char *tok,
                              size_t tok_len, struct email_change_result *res)
{
    memset(res, 0, sizeof *res);
    uint8_t h[32];
    struct store_magic m;
    struct store_user u;
    bool ok;
    memset(&u, 0, sizeof u);
    enum gh_err rc = link_check(ops, c, NULL, false, tok, tok_len, h, &m, &ok, res);
    if (rc || !ok) return rc;
    rc = ops->users.by_email_key(c, m.email_key, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc == GH_ERR_NOT_FOUND) res->outcome = EMAIL_CHANGE_LINK_GONE;
    if (rc) return rc == GH_ERR_NOT_FOUND ? GH_OK : rc;
    memcpy(res->email, m.new_email, sizeof res->email);
    res->outcome = EMAIL_CHANGE_PENDING;
    return GH_OK;
}

/* "Your address was changed", to the old address, in the change's
 * transaction (template "email_changed"; no link). */
static enum gh_err changed_notice(const struct store_ops *ops, struct store_conn *c,
                                  const char *old_email, const char *new_email)
{
    char text[900], html[1100], subject[160], masked[STORE_EMAIL_MAX + 8];
    email_change_mask(new_email, masked);
    snprintf(subject, sizeof subject, "Your %s email address was changed", gh_cfg.brand);
    snprintf(text, sizeof text,
             "The email address of your %s account was changed to %s. This address no longer "
             "signs in to it.\r\n\r\nIf it was not you, someone may have taken over your "
             "account: contact the site's operator.\r\n",
             gh_cfg.brand, masked);
    snprintf(html, sizeof html,
             "<p>The email address of your %s account was changed to %s. This address no longer "
             "signs in to it.</p><p>If it was not you, someone may have taken over your "
             "account: contact the site's operator.</p>",
             gh_cfg.brand, masked);
    return mail_enqueue_notice(ops, c, old_email, "email_changed", subject, text, html);
}

/* One transaction: the link is spent if and only if the address changed,
 * the old address's other links died, it is audited and the old address
 * is told. */
static enum gh_err confirm_write(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_audit *base, const uint8_t h[32],
                                 const struct store_user *u, const char *email, const char *key,
                                 struct email_change_result *res)
{
    char old_mac[AUDIT_HASH_HEX + 1], new_mac[AUDIT_HASH_HEX + 1], details[200];
    audit_email_hmac(u->email_key, old_mac);
    audit_email_hmac(key, new_mac);
    snprintf(details, sizeof details,
             "{\"method\":\"link\",\"old_email_hmac\":\"%s\",\"new_email_hmac\":\"%s\"}", old_mac,
             new_mac);
    int64_t now = gh_now_s();
    struct store_magic m;
    struct store_audit ev;
    enum gh_err rc = ops->tx.begin_write(c);
    if (rc) return rc;
    rc = ops->links.consume(c, h, EMAIL_CHANGE_PURPOSE, now, &m);
    if (rc == GH_ERR_DENIED) { /* a parallel request spent it */
        ops->tx.rollback(c);
        res->outcome = EMAIL_CHANGE_LINK_INVALID;
        return GH_OK;
    }
    if (rc == GH_OK)
        rc = ops->users.set_email(c, u->id, email, key, now,
                                  audit_event(base, &ev, "email.changed", u->id, u->id, details));
    if (rc == GH_ERR_CONFLICT) { /* taken since the check: nothing changes */
        ops->tx.rollback(c);
        res->outcome = EMAIL_CHANGE_TAKEN;
        return change_failed(ops, c, base, "email_taken", u->id, u->email_key);
    }
    /* Sign-in and reset links sent to the old address die with it. */
    if (rc == GH_OK) rc = ops->links.revoke_all(c, u->email_key, now);
    if (rc == GH_OK) rc = changed_notice(ops, c, u->email, email);
    if (rc == GH_OK)
        rc = ops->tx.commit(c); /* rolls back itself on failure */
    else
        ops->tx.rollback(c);
    if (rc) return rc;
    authcache_forget_user(u->id); /* read again with the new address */
    memcpy(res->user_id, u->id, sizeof res->user_id);
    memcpy(res->email, email, sizeof res->email);
    res->outcome = EMAIL_CHANGE_DONE;
    return GH_OK;
}

enum gh_err email_change_confirm(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_audit *base, const char *tok, size_t tok_len,
                                 struct email_change_result *res)
{
    memset(res, 0, sizeof *res);
    uint8_t h[32];
    struct store_magic m;
    struct store_user u, other;
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    bool ok;
    memset(&u, 0, sizeof u);
    memset(&other, 0, sizeof other);
    enum gh_err rc = link_check(ops, c, base, true, tok, tok_len, h, &m, &ok, res);
    if (rc || !ok) return rc;
    rc = ops->users.by_email_key(c, m.email_key, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        res->outcome = EMAIL_CHANGE_LINK_GONE;
        rc = GH_OK;
        goto out;
    }
    if (rc) goto out;
    if (email_normalize(m.new_email, strlen(m.new_email), email, key) != GH_OK) {
        rc = GH_ERR_INTERNAL; /* stored normalised: never */
        goto out;
    }
    /* Taken by another account: refused before the link is spent. */
    rc = ops->users.by_email_key(c, key, &other);
    if (rc == GH_OK && strcmp(other.id, u.id) != 0) {
        res->outcome = EMAIL_CHANGE_TAKEN;
        rc = change_failed(ops, c, base, "email_taken", u.id, u.email_key);
        goto out;
    }
    if (rc && rc != GH_ERR_NOT_FOUND) goto out;
    rc = confirm_write(ops, c, base, h, &u, email, key, res);
out:
    gh_wipe(u.password_hash, sizeof u.password_hash);
    gh_wipe(other.password_hash, sizeof other.password_hash);
    return rc;
}
