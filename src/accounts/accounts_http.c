#include "accounts/accounts_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/email.h"
#include "accounts/password_change.h"
#include "accounts/password_guard.h"
#include "accounts/signup.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "http/pool.h"
#include "mail/mail.h"
#include "mfa/mfa.h"
#include "mfa/mfa_http.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "guard/guard.h"
#include "guard/limit.h"
#include "credentials/password.h"
#include "sessions/authcache.h"
#include "sessions/cookie.h"
#include "sessions/sessions.h"

/* Emailed links: sign in, reset the password, confirm the address. */
enum link_kind { LINK_SIGNIN, LINK_RESET, LINK_VERIFY };
static void queue_link(const char *email, const char *key, enum link_kind kind);

static json_t *user_json(const char *id, const char *email, int64_t created_at)
{
    char ts[GH_RFC3339_LEN + 1];
    gh_rfc3339(ts, created_at);
    return json_pack("{s:s,s:s,s:s}", "id", id, "email", email, "created_at", ts);
}

/* The "mode" field of the sign-in routes: 0 bearer (the default), 1
 * cookie, -1 refused (the reply is set). Checked before any work. A
 * cookie sign-in must come from our origin or an allowlisted one, like a
 * cookie mutation: nobody can sign a browser into their own account from
 * another site (login CSRF). */
static int signin_mode(struct gh_req *r, const char *mode)
{
    if (!mode || strcmp(mode, "bearer") == 0) return 0;
    if (strcmp(mode, "cookie") != 0) {
        gh_fail_msg(r, GH_E_INVALID_FIELD, "Field 'mode' must be bearer or cookie.");
        return -1;
    }
    if (!cookie_available()) {
        gh_fail(r, GH_E_COOKIE_MODE_UNAVAILABLE);
        return -1;
    }
    if (!r->origin_ok) {
        gh_log(GH_LOG_WARN, "request %s: cookie sign-in from a refused origin", r->request_id);
        gh_count_csrf_failed();
        gh_fail_msg(r, GH_E_CSRF_FAILED,
                    "A cookie sign-in must come from an allowed origin (Origin or "
                    "Sec-Fetch-Site).");
        return -1;
    }
    return 1;
}

/* A cookie sign-in from a browser that still sends a session cookie ends
 * that session: a new sign-in never leaves the token it replaces alive
 * (no fixation, ASVS 7.2.4). Holding the cookie is proof enough to end its
 * session, whoever's it is. Best effort: a failure is only logged. */
static void end_presented_session(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c)
{
    if (r->token_len == 0) return;
    uint8_t h[32];
    struct store_refresh *rt = calloc(1, sizeof *rt);
    if (rt && refresh_hash(r->token, r->token_len, h) == GH_OK &&
        ops->refresh.get(c, h, rt) == GH_OK && rt->session_cookie && rt->rotated_at_us == 0 &&
        rt->session_live) {
        struct store_audit ev;
        char details[128];
        snprintf(details, sizeof details, "{\"session_id\":\"%s\",\"reason\":\"signin\"}",
                 rt->session_id);
        enum gh_err rc = ops->sessions.revoke(
            c, rt->session_id, rt->user_id, gh_now_s(),
            gh_audit_event(r, &ev, "signout", rt->user_id, rt->user_id, details));
        if (rc == GH_OK)
            authcache_revoke_session(rt->session_id);
        else if (rc != GH_ERR_NOT_FOUND)
            gh_log(GH_LOG_WARN, "could not end the session a cookie sign-in replaced");
    }
    if (rt) gh_wipe(rt, sizeof *rt);
    free(rt);
    gh_wipe(r->token, sizeof r->token);
    r->token_len = 0;
}

/* 200/201 with {user, access_token, refresh_token, token_type, expires_in};
 * in cookie mode {user, mode, csrf_token, expires_in} and the cookies. */
static void reply_signed_in(struct gh_req *r, int status, const struct store_user *u,
                            struct sessions_pair *p, bool restricted, bool cookie)
{
    json_t *body = json_object();
    json_t *user = user_json(u->id, u->email, u->created_at);
    json_t *pair = NULL;
    char csrf[COOKIE_CSRF_LEN + 1] = "";
    if (cookie) {
        if (cookie_csrf_token(p->session_id, csrf) == GH_OK)
            pair = json_pack("{s:s,s:s,s:I}", "mode", "cookie", "csrf_token", csrf, "expires_in",
                             (json_int_t)gh_cfg.refresh_ttl);
    } else {
        pair = sessions_pair_json(p);
    }
    gh_wipe(csrf, sizeof csrf); /* jansson holds its own copy */
    if (!body || !user || !pair || json_object_set(body, "user", user) != 0 ||
        json_object_update(body, pair) != 0) {
        json_decref(body);
        json_decref(user);
        json_decref(pair);
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    json_decref(pair);
    json_decref(user);
    if (restricted) json_object_set_new(body, "mfa_enrolment_required", json_true());
    r->authed = true; /* for the log line */
    snprintf(r->ident.user_id, sizeof r->ident.user_id, "%s", u->id);
    if (cookie) { /* finish() sets the cookies */
        memcpy(r->ident.session_id, p->session_id, sizeof r->ident.session_id);
        memcpy(r->set_session, p->refresh, sizeof r->set_session);
    }
    gh_reply(r, status, body);
}

void accounts_http_signup(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *email_in, *pw;
    size_t email_len, pw_len;
    const char *mode_in;
    const struct gh_field f[] = {{"email", true, &email_in, &email_len},
                                 {"password", true, &pw, &pw_len},
                                 {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 3)) return;
    int cookie = signin_mode(r, mode_in);
    if (cookie < 0) return;

    struct store_user u;
    struct sessions_pair pair = {0};
    char reason[200];
    memset(&u, 0, sizeof u);
    if (email_normalize(email_in, email_len, u.email, u.email_key)) {
        gh_fail(r, GH_E_INVALID_EMAIL);
        return;
    }
    if (password_check_policy(pw, pw_len, u.email, reason, sizeof reason)) {
        gh_fail_msg(r, GH_E_WEAK_PASSWORD, reason);
        return;
    }
    enum gh_err rc = password_hash(u.password_hash, pw, pw_len);
    if (rc) goto fail;
    sessions_new_id(u.id);
    u.created_at = u.updated_at = gh_now_s();
    if (gh_cfg.email_verification == 2) { /* no session, and no word on whether it existed */
        bool created = false;
        if ((rc = signup_unconfirmed(r, ops, c, &u, &created))) goto fail;
        if (created) queue_link(u.email, u.email_key, LINK_VERIFY);
        gh_reply(r, 202, json_pack("{s:b}", "email_verification_required", 1));
        goto out;
    }
    struct store_audit ev;
    rc = ops->users.create(
        c, &u, gh_audit_event(r, &ev, "signup", u.id, u.id, "{\"method\":\"password\"}"));
    if (rc == GH_ERR_CONFLICT) {
        gh_fail(r, GH_E_EMAIL_TAKEN);
        goto out;
    }
    if (rc) goto fail;
    authcache_put_user(&u, authcache_generation());
    if (gh_cfg.email_verification) queue_link(u.email, u.email_key, LINK_VERIFY);
    /* A new account has no second factor: under "all" it must enrol first. */
    bool restricted = gh_cfg.mfa_required == 2;
    if ((rc = sessions_start(ops, c, &u, r->ip, r->user_agent, NULL, "password", restricted, cookie,
                             &pair)))
        goto fail;
    if (cookie) end_presented_session(r, ops, c);
    reply_signed_in(r, 201, &u, &pair, restricted, cookie);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    sessions_pair_clear(&pair);
    gh_wipe(u.password_hash, sizeof u.password_hash);
}

/* A wrong password or an unknown address: recorded and counted toward the
 * address's lockout (accounts/password_guard.h), and the same answer either
 * way. u is NULL for an unknown address. */
static enum gh_err signin_failed(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c, const char *email_key,
                                 const struct store_user *u)
{
    enum gh_err rc =
        password_guard_failed(r, ops, c, "signin.failure", "anonymous", NULL, email_key, u);
    if (rc == GH_OK) gh_fail(r, GH_E_INVALID_CREDENTIALS);
    return rc;
}

void accounts_http_signin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *email_in, *pw;
    size_t email_len, pw_len;
    const char *mode_in;
    const struct gh_field f[] = {{"email", true, &email_in, &email_len},
                                 {"password", true, &pw, &pw_len},
                                 {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 3)) return;
    int cookie = signin_mode(r, mode_in);
    if (cookie < 0) return;

    struct store_user u;
    struct sessions_pair pair = {0};
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    memset(&u, 0, sizeof u);
    enum gh_err rc = GH_ERR_NOT_FOUND;
    uint64_t gen = authcache_generation(); /* before the read: see authcache.h */
    bool is_address = email_normalize(email_in, email_len, email, key) == GH_OK;
    if (!is_address) { /* not an address: the audit hash covers what was typed */
        size_t n = email_len < STORE_EMAIL_MAX ? email_len : STORE_EMAIL_MAX;
        memcpy(key, email_in, n);
        key[n] = '\0';
    }
    if (password_guard_locked(r, key)) goto out; /* before any hash: known or not alike */
    if (is_address) rc = ops->users.by_email_key(c, key, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        /* Same work as a wrong password: no account enumeration by timing. */
        password_verify_dummy(pw, pw_len);
        rc = signin_failed(r, ops, c, key, NULL);
        if (rc) goto fail;
        goto out;
    }
    if (rc) goto fail;
    /* Over-long passwords cannot be ours (sign-up caps them) but still cost
     * the same as a check, so length tells nothing either. */
    rc = pw_len > PASSWORD_MAX_BYTES ? (password_verify_dummy(pw, pw_len), GH_ERR_DENIED)
                                     : password_verify(u.password_hash, pw, pw_len);
    if (rc == GH_ERR_DENIED) {
        rc = signin_failed(r, ops, c, u.email_key, &u);
        if (rc) goto fail;
        goto out;
    }
    if (rc) goto fail;
    limit_lockout_clear(key);
    if (password_needs_rehash(u.password_hash)) {
        char h[PASSWORD_HASH_MAX];
        if (password_hash(h, pw, pw_len) == GH_OK &&
            ops->users.rehash(c, u.id, h, gh_now_s()) == GH_OK)
            gh_log(GH_LOG_INFO, "password rehashed at current parameters for user %s", u.id);
        gh_wipe(h, sizeof h);
    }
    authcache_put_user(&u, gen);
    if (gh_cfg.email_verification == 2 && !u.email_verified_at) {
        /* Only said after a correct password: it reveals nothing to others. */
        gh_fail_msg(r, GH_E_EMAIL_NOT_VERIFIED,
                    "Confirm your email address first; the link is in your inbox.");
        goto out;
    }
    bool mfa = false;
    if ((rc = mfa_enabled(ops, c, u.id, &mfa))) goto fail;
    if (mfa) { /* the password was right; a second factor must follow */
        char token[MFA_TOKEN_LEN + 1];
        if ((rc = mfa_challenge_start(ops, c, &u, "password", token))) goto fail;
        gh_reply(r, 200,
                 json_pack("{s:b,s:s,s:i}", "mfa_required", 1, "mfa_token", token, "expires_in",
                           MFA_CHALLENGE_TTL));
        gh_wipe(token, sizeof token);
        goto out;
    }
    struct store_audit ev;
    bool restricted = mfa_policy_applies(&u);
    rc = sessions_start(ops, c, &u, r->ip, r->user_agent,
                        gh_audit_event(r, &ev, "signin.success", u.id, u.id, NULL), "password",
                        restricted, cookie, &pair);
    if (rc == GH_ERR_CONFLICT) { /* the password changed while we were checking it */
        rc = signin_failed(r, ops, c, u.email_key, &u);
        if (rc) goto fail;
        goto out;
    }
    if (rc) goto fail;
    if (cookie) end_presented_session(r, ops, c);
    reply_signed_in(r, 200, &u, &pair, restricted, cookie);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    sessions_pair_clear(&pair);
    gh_wipe(u.password_hash, sizeof u.password_hash);
}

void accounts_http_password(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *cur, *next;
    size_t cur_len, next_len;
    const struct gh_field f[] = {{"current_password", true, &cur, &cur_len},
                                 {"new_password", true, &next, &next_len}};
    if (gh_body_fields(r, f, 2)) return;
    password_change(r, ops, c, cur, cur_len, next, next_len);
}

void accounts_http_me(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    json_t *u = user_json(r->ident.user_id, r->ident.email, r->ident.created_at);
    if (!u) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    if (r->cookie_auth) { /* how a page of an allowlisted origin learns it again */
        char csrf[COOKIE_CSRF_LEN + 1];
        bool ok = cookie_csrf_token(r->ident.session_id, csrf) == GH_OK &&
                  json_object_set_new(u, "csrf_token", json_string(csrf)) == 0;
        gh_wipe(csrf, sizeof csrf);
        if (!ok) {
            json_decref(u);
            gh_reply_fail(r, GH_ERR_INTERNAL);
            return;
        }
    }
    gh_reply(r, 200, u);
}

/* POST /v1/signin/mfa {mfa_token, code}: the second step of a sign-in. */
void accounts_http_signin_mfa(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok, *code_in;
    size_t tok_len, code_len;
    const char *mode_in;
    const struct gh_field f[] = {{"mfa_token", true, &tok, &tok_len},
                                 {"code", true, &code_in, &code_len},
                                 {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 3)) return;
    int cookie = signin_mode(r, mode_in);
    if (cookie < 0) return;

    uint8_t h[32];
    char code[64];
    size_t n = 0;
    for (size_t i = 0; i < code_len && n + 1 < sizeof code; i++)
        if (code_in[i] != ' ') code[n++] = code_in[i]; /* "123 456" as shown by apps */
    code[n] = '\0';
    struct store_user u;
    struct store_challenge ch;
    struct sessions_pair pair = {0};
    memset(&u, 0, sizeof u);
    enum gh_err rc = GH_ERR_DENIED;
    if (tok_len == MFA_TOKEN_LEN && gh_sha256(h, tok, tok_len) == GH_OK)
        rc = ops->challenges.attempt(c, h, MFA_CHALLENGE_ATTEMPTS, gh_now_s(), &ch);
    if (rc == GH_ERR_DENIED) {
        gh_fail_msg(r, GH_E_INVALID_TOKEN,
                    "This sign-in step expired, was used or had too many attempts; sign in "
                    "again.");
        goto out;
    }
    if (rc) goto fail;
    uint64_t gen = authcache_generation(); /* before the read: see authcache.h */
    rc = ops->users.by_id(c, ch.user_id, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This sign-in step is no longer valid.");
        goto out;
    }
    if (rc) goto fail;
    /* Per account as well as per challenge: each correct password brings a
     * new challenge, so only this budget bounds guessing the code. */
    struct limit_result lim;
    limit_take(LIMIT_MFA_ACCOUNT, u.id, &lim);
    if (!lim.allowed) {
        gh_reply_limited(r, LIMIT_MFA_ACCOUNT, &lim);
        goto out;
    }
    const char *method = NULL;
    rc =
        n > 0 && n < sizeof code - 1 ? mfa_verify_code(ops, c, u.id, code, &method) : GH_ERR_DENIED;
    if (rc == GH_ERR_DENIED) {
        if ((rc = mfa_record_failure(r, ops, c, u.id, "signin.failure", &lim))) goto fail;
        gh_fail(r, GH_E_INVALID_CODE);
        goto out;
    }
    if (rc) goto fail;
    limit_refund(LIMIT_MFA_ACCOUNT, u.id);
    if (ops->challenges.consume(c, h, gh_now_s()) != GH_OK) { /* a parallel request won */
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This sign-in step was already used.");
        goto out;
    }
    /* The session is refused if the password changed since it was checked. */
    u.tokens_invalidated_at = ch.tokens_invalidated_at;
    char m[32];
    snprintf(m, sizeof m, "%s+%s", ch.first_factor, method);
    struct store_audit ev;
    rc = sessions_start(ops, c, &u, r->ip, r->user_agent,
                        gh_audit_event(r, &ev, "signin.success", u.id, u.id, NULL), m, false,
                        cookie, &pair);
    if (rc == GH_ERR_CONFLICT) {
        gh_fail(r, GH_E_INVALID_CREDENTIALS);
        goto out;
    }
    if (rc) goto fail;
    authcache_put_user(&u, gen);
    if (cookie) end_presented_session(r, ops, c);
    reply_signed_in(r, 200, &u, &pair, false, cookie);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    gh_wipe(code, sizeof code);
    sessions_pair_clear(&pair);
    gh_wipe(u.password_hash, sizeof u.password_hash);
}

/* ---- magic links ---- */

struct magic_job {
    char email[STORE_EMAIL_MAX + 1];
    char key[STORE_EMAIL_MAX + 1];
    enum link_kind kind;
};

static const char *const link_purpose[] = {"signin", "reset", "verify"};
static const char *const link_path[] = {"magic-link", "reset-password", "verify-email"};
static const char *const link_what[] = {"sign in to", "choose a new password for",
                                        "confirm your email address for"};
static const char *const link_button[] = {"Sign in", "Choose a new password",
                                          "Confirm my email address"};
static const char *const link_subject[] = {"Sign in to", "Reset your password for",
                                           "Confirm your email address for"};

/* In the background, so the answer to the request takes the same time
 * whether or not the account exists. */
static void magic_send(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    struct magic_job *j = arg;
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = ops->users.by_email_key(c, j->key, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc == GH_ERR_NOT_FOUND && (j->kind != LINK_SIGNIN || !gh_cfg.magic_link_signup))
        goto out; /* nothing to send */
    if (rc && rc != GH_ERR_NOT_FOUND) {
        gh_log(GH_LOG_ERROR, "magic link: store error");
        goto out;
    }
    const char *to = rc == GH_OK ? u.email : j->email;
    char token[44], link[700], text[1200], html[1600];
    uint8_t h[32];
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.purpose, sizeof m.purpose, "%s", link_purpose[j->kind]);
    memcpy(m.email_key, j->key, sizeof m.email_key);
    memcpy(m.email, to, strlen(to) + 1);
    m.expires_at = gh_now_s() + gh_cfg.magic_link_ttl;
    if (gh_random_token(token, sizeof token, 32) || gh_sha256(h, token, 43) ||
        ops->links.create(c, h, &m, gh_now_s())) {
        gh_log(GH_LOG_ERROR, "magic link: cannot create the link");
        goto wipe;
    }
    const char *what = link_what[j->kind];
    snprintf(link, sizeof link, "%s/%s?token=%s", gh_cfg.public_url, link_path[j->kind], token);
    snprintf(text, sizeof text,
             "Use this link to %s %s:\r\n\r\n%s\r\n\r\nIt works once and expires in %lld "
             "minutes. If you did not ask for it, ignore this email.\r\n",
             what, gh_cfg.brand, link, (long long)(gh_cfg.magic_link_ttl / 60));
    snprintf(html, sizeof html,
             "<p>Use this link to %s %s:</p><p><a href=\"%s\">%s</a></p>"
             "<p>It works once and expires in %lld minutes. If you did not ask for it, ignore "
             "this email.</p>",
             what, gh_cfg.brand, link, link_button[j->kind],
             (long long)(gh_cfg.magic_link_ttl / 60));
    char subject[128];
    snprintf(subject, sizeof subject, "%s %s", link_subject[j->kind], gh_cfg.brand);
    /* The operator's own texts, when GATEHOUSE_TEMPLATE_DIR has them. */
    char *t_text = NULL, *t_html = NULL;
    long long minutes = (long long)(gh_cfg.magic_link_ttl / 60);
    if (mail_template(link_purpose[j->kind], "txt", link, minutes, &t_text) != GH_OK) t_text = NULL;
    if (mail_template(link_purpose[j->kind], "html", link, minutes, &t_html) != GH_OK)
        t_html = NULL;
    rc = mail_enqueue(ops, c, to, subject, t_text ? t_text : text, t_html ? t_html : html);
    gh_free_secret_str(t_text);
    gh_free_secret_str(t_html);
    if (rc != GH_OK)
        gh_log(GH_LOG_ERROR, "magic link: cannot queue the email");
    else if (!gh_cfg.production)
        gh_log(GH_LOG_INFO, "development: %s link for %s: %s", link_purpose[j->kind], to, link);
wipe:
    gh_wipe(token, sizeof token);
    gh_wipe(link, sizeof link);
    gh_wipe(text, sizeof text);
    gh_wipe(html, sizeof html);
out:
    free(j);
}

/* POST /v1/magic-link and /v1/password/forgot {email}: always 202 with
 * the same body. */
/* Queues the link job in the background (a full queue drops it). */
static void queue_link(const char *email, const char *key, enum link_kind kind)
{
    struct magic_job *j = calloc(1, sizeof *j);
    if (!j) return;
    j->kind = kind;
    snprintf(j->email, sizeof j->email, "%s", email);
    snprintf(j->key, sizeof j->key, "%s", key);
    if (pool_submit(POOL_DB, magic_send, j) != GH_OK) {
        gh_log(GH_LOG_WARN, "link email: queue full, request dropped");
        free(j);
    }
}

static void send_link(struct gh_req *r, enum link_kind kind)
{
    const char *email_in;
    size_t email_len;
    const struct gh_field f[] = {{"email", true, &email_in, &email_len}};
    if (gh_body_fields(r, f, 1)) return;
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(email_in, email_len, email, key) == GH_OK) queue_link(email, key, kind);
    gh_reply(r, 202,
             json_pack("{s:s}", "message",
                       "If an account exists for this address, a link is on its way."));
}

void accounts_http_magic_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    send_link(r, LINK_SIGNIN);
}

void accounts_http_password_forgot(struct gh_req *r, const struct store_ops *ops,
                                   struct store_conn *c)
{
    send_link(r, LINK_RESET);
}

/* An emailed link refused: one audit row (ASVS 16.3.1). The account is
 * named only by a keyed hash of its address, and only when the link was
 * real but expired; a made-up token names nothing. */
static enum gh_err link_failed(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                               const char *purpose, const char *reason, const char *email_key)
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
    return audit_failure_append(ops, c, gh_audit_event(r, &ev, action, "anonymous", "", details));
}

/* Spends an emailed link of the given purpose. GH_OK with *m; any other
 * result has set the reply already (401 invalid_token / token_expired, or
 * a failure). */
static enum gh_err spend_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                              const char *tok, size_t tok_len, const char *purpose,
                              struct store_magic *m)
{
    uint8_t h[32];
    enum gh_err rc = GH_ERR_DENIED;
    if (tok_len == 43 && gh_sha256(h, tok, tok_len) == GH_OK)
        rc = ops->links.consume(c, h, purpose, gh_now_s(), m);
    enum gh_err arc = GH_OK;
    if (rc == GH_ERR_DENIED) {
        if (!(arc = link_failed(r, ops, c, purpose, "invalid", NULL)))
            gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is invalid or was already used.");
    } else if (rc) {
        gh_reply_fail(r, rc);
    } else if (m->expires_at <= gh_now_s()) {
        if (!(arc = link_failed(r, ops, c, purpose, "expired", m->email_key)))
            gh_fail(r, GH_E_TOKEN_EXPIRED);
        rc = GH_ERR_DENIED;
    }
    if (arc) gh_reply_fail(r, arc); /* an unrecorded failure is a failure */
    return rc;
}

/* POST /v1/magic-link/verify {token}: signs in (or up, when enabled). */
void accounts_http_magic_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    const char *mode_in;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len}, {"mode", false, &mode_in, NULL}};
    if (gh_body_fields(r, f, 2)) return;
    int cookie = signin_mode(r, mode_in); /* before the link is spent */
    if (cookie < 0) return;
    struct store_magic m;
    struct store_user u;
    struct sessions_pair pair = {0};
    memset(&u, 0, sizeof u);
    enum gh_err rc = spend_link(r, ops, c, tok, tok_len, "signin", &m);
    if (rc) return;
    uint64_t gen = authcache_generation();
    rc = ops->users.by_email_key(c, m.email_key, &u);
    bool created = false;
    if (rc == GH_ERR_NOT_FOUND && gh_cfg.magic_link_signup) {
        created = true;
        memset(&u, 0, sizeof u);
        sessions_new_id(u.id);
        memcpy(u.email, m.email, sizeof u.email);
        memcpy(u.email_key, m.email_key, sizeof u.email_key);
        memcpy(u.password_hash, "!", 2); /* no password: password sign-in always fails */
        u.created_at = u.updated_at = gh_now_s();
        struct store_audit ev;
        rc = ops->users.create(
            c, &u, gh_audit_event(r, &ev, "signup", u.id, u.id, "{\"method\":\"magic_link\"}"));
    }
    if (rc == GH_ERR_NOT_FOUND) {
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is invalid or was already used.");
        goto out;
    }
    if (rc) goto fail;
    if (!u.email_verified_at && created) { /* following the link proves the address */
        struct store_audit vev;
        if ((rc = ops->users.verify_email(c, u.id, gh_now_s(),
                                          gh_audit_event(r, &vev, "email.verified", u.id, u.id,
                                                         "{\"method\":\"magic_link\"}"))))
            goto fail;
    } else if (!u.email_verified_at) {
        /* Whoever signed up with this address never proved it; its owner
         * just did. The password and sessions made before do not survive
         * (account pre-hijacking); a second factor does (store.h). */
        int64_t now = gh_now_s(), tia = sessions_next_tia(u.tokens_invalidated_at);
        struct store_audit vev;
        if ((rc = ops->users.reclaim(
                 c, u.id, tia, now,
                 gh_audit_event(r, &vev, "email.verified", u.id, u.id,
                                "{\"method\":\"magic_link\",\"unverified_password\":"
                                "\"removed\"}"))))
            goto fail;
        authcache_revoke_user_sessions(u.id, NULL);
        authcache_set_user_tia(u.id, tia);
        u.tokens_invalidated_at = tia;
        gen = authcache_generation();
    }
    bool mfa = false;
    if ((rc = mfa_enabled(ops, c, u.id, &mfa))) goto fail;
    if (mfa) { /* the same strength as a password sign-in */
        char token[MFA_TOKEN_LEN + 1];
        if ((rc = mfa_challenge_start(ops, c, &u, "magic_link", token))) goto fail;
        gh_reply(r, 200,
                 json_pack("{s:b,s:s,s:i}", "mfa_required", 1, "mfa_token", token, "expires_in",
                           MFA_CHALLENGE_TTL));
        gh_wipe(token, sizeof token);
        goto out;
    }
    bool restricted = mfa_policy_applies(&u);
    struct store_audit ev;
    rc = sessions_start(ops, c, &u, r->ip, r->user_agent,
                        gh_audit_event(r, &ev, "signin.success", u.id, u.id, NULL), "magic_link",
                        restricted, cookie, &pair);
    if (rc) goto fail;
    authcache_put_user(&u, gen);
    if (cookie) end_presented_session(r, ops, c);
    reply_signed_in(r, 200, &u, &pair, restricted, cookie);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    sessions_pair_clear(&pair);
    gh_wipe(u.password_hash, sizeof u.password_hash);
}

/* POST /v1/password/reset {token, new_password}: sets the password, revokes
 * every session, and does not sign in (a reset never skips a second factor:
 * the user signs in afterwards, with it). */
void accounts_http_password_reset(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c)
{
    const char *tok, *pw;
    size_t tok_len, pw_len;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len},
                                 {"new_password", true, &pw, &pw_len}};
    if (gh_body_fields(r, f, 2)) return;
    uint8_t h[32];
    struct store_magic m;
    struct store_user u;
    char reason[200], hash[PASSWORD_HASH_MAX];
    memset(&u, 0, sizeof u);
    memset(hash, 0, sizeof hash);
    enum gh_err rc = GH_ERR_NOT_FOUND;
    if (tok_len == 43 && gh_sha256(h, tok, tok_len) == GH_OK) rc = ops->links.get(c, h, &m);
    if (rc == GH_OK && (strcmp(m.purpose, "reset") != 0 || m.used_at)) rc = GH_ERR_NOT_FOUND;
    if (rc == GH_ERR_NOT_FOUND) {
        if ((rc = link_failed(r, ops, c, "reset", "invalid", NULL))) goto fail;
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is invalid or was already used.");
        return;
    }
    if (rc) goto fail;
    if (m.expires_at <= gh_now_s()) {
        if ((rc = link_failed(r, ops, c, "reset", "expired", m.email_key))) goto fail;
        gh_fail(r, GH_E_TOKEN_EXPIRED);
        return;
    }
    /* Judge the password before spending the link: a refused password
     * leaves the link usable. */
    if (password_check_policy(pw, pw_len, m.email, reason, sizeof reason)) {
        gh_fail_msg(r, GH_E_WEAK_PASSWORD, reason);
        return;
    }
    rc = ops->users.by_email_key(c, m.email_key, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is no longer valid.");
        goto out;
    }
    if (rc) goto fail;
    if ((rc = password_hash(hash, pw, pw_len))) goto fail;
    /* One transaction: the link is spent if and only if the password is
     * set, the sessions revoked, the other links killed and it is audited. */
    int64_t now = gh_now_s(), tia = sessions_next_tia(u.tokens_invalidated_at);
    if ((rc = ops->tx.begin_write(c))) goto fail;
    rc = ops->links.consume(c, h, "reset", now, &m);
    if (rc == GH_ERR_DENIED) {
        ops->tx.rollback(c);
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link was already used.");
        goto out;
    }
    struct store_audit ev, vev;
    if (rc == GH_OK)
        rc = ops->users.set_password(
            c, u.id, hash, tia, NULL, now,
            gh_audit_event(r, &ev, "password.reset", u.id, u.id, "{\"sessions\":\"revoked\"}"));
    /* Other links sent before the reset (sign-in, reset) die with it. */
    if (rc == GH_OK) rc = ops->links.revoke_all(c, u.email_key, now);
    if (rc == GH_OK && !u.email_verified_at) /* the link proved the address too */
        rc = ops->users.verify_email(
            c, u.id, now,
            gh_audit_event(r, &vev, "email.verified", u.id, u.id, "{\"method\":\"reset_link\"}"));
    if (rc == GH_OK)
        rc = ops->tx.commit(c); /* rolls back itself on failure */
    else
        ops->tx.rollback(c);
    if (rc) goto fail;
    authcache_revoke_user_sessions(u.id, NULL);
    authcache_set_user_tia(u.id, tia);
    limit_lockout_clear(u.email_key);
    gh_reply(r, 204, NULL);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    gh_wipe(hash, sizeof hash);
    gh_wipe(u.password_hash, sizeof u.password_hash);
}

/* POST /v1/email/verify {token}: confirms the address the link was sent to. */
void accounts_http_email_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len}};
    if (gh_body_fields(r, f, 1)) return;
    struct store_magic m;
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = spend_link(r, ops, c, tok, tok_len, "verify", &m);
    if (rc) return;
    rc = ops->users.by_email_key(c, m.email_key, &u);
    if (rc == GH_ERR_NOT_FOUND) {
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is no longer valid.");
        goto out;
    }
    if (rc) goto fail;
    struct store_audit ev;
    rc = ops->users.verify_email(
        c, u.id, gh_now_s(),
        gh_audit_event(r, &ev, "email.verified", u.id, u.id, "{\"method\":\"link\"}"));
    if (rc) goto fail;
    gh_reply(r, 204, NULL);
    goto out;
fail:
    gh_reply_fail(r, rc);
out:
    gh_wipe(u.password_hash, sizeof u.password_hash);
}

/* POST /v1/email/verify/resend (bearer): a new confirmation link. */
void accounts_http_email_resend(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(r->ident.email, strlen(r->ident.email), email, key) != GH_OK) {
        gh_reply_fail(r, GH_ERR_INTERNAL);
        return;
    }
    /* The same budgets as /v1/magic-link: mail goes out. */
    const enum limit_rule rules[] = {LIMIT_EMAIL_ACCOUNT, LIMIT_EMAIL_IP};
    char ipk[PROXY_KEY_MAX];
    guard_ip_key(r, ipk);
    const char *subjects[] = {key, ipk};
    if (!guard_take(r, rules, subjects, 2)) return;
    queue_link(email, key, LINK_VERIFY);
    gh_reply(r, 202, json_pack("{s:s}", "message", "A confirmation link is on its way."));
}
