#include "sessions/sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "sessions/authcache.h"
#include "sessions/jwt.h"

void sessions_pair_clear(struct sessions_pair *p)
{
    gh_free_secret_str(p->access);
    p->access = NULL;
    gh_wipe(p->refresh, sizeof p->refresh);
}

json_t *sessions_pair_json(const struct sessions_pair *p)
{
    return json_pack("{s:s,s:s,s:s,s:I}", "access_token", p->access, "refresh_token", p->refresh,
                     "token_type", "Bearer", "expires_in", (json_int_t)gh_cfg.access_ttl);
}

void sessions_new_id(char out[STORE_ID_LEN + 1])
{
    uint8_t b[16];
    gh_random(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char h[33];
    gh_hex(h, b, sizeof b);
    snprintf(out, STORE_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int64_t sessions_next_tia(int64_t current)
{
    int64_t now = gh_now_s();
    return now > current ? now : current + 1;
}

enum gh_err sessions_signout(const struct store_ops *ops, struct store_conn *c,
                             const struct store_audit *base, const char *user_id,
                             const char *session_id)
{
    struct store_audit ev;
    char details[96];
    snprintf(details, sizeof details, "{\"session_id\":\"%s\"}", session_id);
    enum gh_err rc =
        ops->sessions.revoke(c, session_id, user_id, gh_now_s(),
                             audit_event(base, &ev, "signout", user_id, user_id, details));
    if (rc && rc != GH_ERR_NOT_FOUND) return rc;
    authcache_revoke_session(session_id);
    return GH_OK;
}

enum gh_err sessions_revoke_others(const struct store_ops *ops, struct store_conn *c,
                                   const struct store_audit *base, const char *user_id,
                                   const char *keep_sid, size_t *n)
{
    *n = 0;
    enum gh_err rc = ops->tx.begin_write(c);
    if (rc) return rc;
    rc = ops->sessions.revoke_others(c, user_id, keep_sid, gh_now_s(), n);
    struct store_audit ev;
    char details[64];
    snprintf(details, sizeof details, "{\"count\":%zu}", *n);
    const struct store_audit *e =
        audit_event(base, &ev, "session.revoke_others", user_id, user_id, details);
    if (rc == GH_OK && e) rc = ops->audit.append(c, e);
    if (rc == GH_OK) rc = ops->tx.commit(c); /* rolls back itself on failure */
    if (rc) {
        ops->tx.rollback(c);
        *n = 0;
        return rc;
    }
    authcache_revoke_user_sessions(user_id, keep_sid); /* after the commit */
    return GH_OK;
}

/* iat is the signing time, never later (standard libraries refuse a
 * future iat); "rev" carries the user's tokens_invalidated_at as read with
 * the session, which is what revocation compares (decision 0004). */
static enum gh_err issue_access(const char *uid, const char *sid, int64_t tia, bool restricted,
                                char **out)
{
    struct jwt_claims cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.sub, sizeof cl.sub, "%s", uid);
    snprintf(cl.sid, sizeof cl.sid, "%s", sid);
    cl.iat = gh_now_s();
    cl.exp = cl.iat + gh_cfg.access_ttl;
    cl.rev = tia;
    cl.restricted = restricted;
    enum gh_err rc = gh_random_token(cl.jti, sizeof cl.jti, 16);
    if (rc) return rc;
    return jwt_sign(&cl, out);
}

enum gh_err sessions_start(const struct store_ops *ops, struct store_conn *c,
                           const struct store_user *u, const char *ip, const char *user_agent,
                           const struct store_audit *ev, const char *method, bool restricted,
                           bool cookie, struct sessions_pair *out)
{
    struct store_session s;
    uint8_t h[32];
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    sessions_new_id(s.id);
    snprintf(s.user_id, sizeof s.user_id, "%s", u->id);
    s.created_at = s.last_used_at = gh_now_s();
    s.expires_at = s.created_at + gh_cfg.refresh_ttl;
    s.restricted = restricted;
    s.cookie = cookie;
    /* "password+totp", "magic_link+backup_code": this sign-in passed a
     * second factor (a passwordless account's proof for changing it). */
    if (method && strchr(method, '+')) s.mfa_at = s.created_at;
    snprintf(s.ip, sizeof s.ip, "%s", ip ? ip : "");
    snprintf(s.user_agent, sizeof s.user_agent, "%s", user_agent ? user_agent : "");
    enum gh_err rc = refresh_new(out->refresh, h);
    if (rc) goto fail;
    uint64_t gen = authcache_generation();
    struct store_audit sev;
    char details[320];
    if (ev) { /* the row names the session it created, then ev's own members */
        sev = *ev;
        const char *more =
            ev->details && ev->details[0] == '{' && ev->details[1] && ev->details[1] != '}'
                ? ev->details + 1
                : NULL;
        int n = snprintf(details, sizeof details, "{\"method\":\"%s\",\"session_id\":\"%s\"%s%s",
                         method ? method : "password", s.id, more ? "," : "}", more ? more : "");
        if (n < 0 || (size_t)n >= sizeof details) /* never half a JSON object */
            snprintf(details, sizeof details, "{\"method\":\"%s\",\"session_id\":\"%s\"}",
                     method ? method : "password", s.id);
        sev.details = details;
    }
    /* Refused if the password changed since the caller verified it. */
    if ((rc = ops->sessions.create(c, &s, h, u->tokens_invalidated_at, ev ? &sev : NULL)))
        goto fail;
    authcache_put_session(&s, gen);
    memcpy(out->session_id, s.id, sizeof out->session_id);
    if (cookie) return GH_OK;
    if ((rc = issue_access(u->id, s.id, u->tokens_invalidated_at, restricted, &out->access)))
        goto fail;
    return GH_OK;
fail:
    sessions_pair_clear(out);
    return rc;
}

/* Successor pair as sealed JSON: {"a": access, "r": refresh}. */
static enum gh_err seal_pair(const char *old, const struct sessions_pair *p, uint8_t *box,
                             size_t *boxlen)
{
    json_t *j = json_pack("{s:s,s:s}", "a", p->access ? p->access : "", "r", p->refresh);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    gh_json_wipe(j);
    json_decref(j);
    if (!s) return GH_ERR_NOMEM;
    enum gh_err rc = refresh_seal(old, (const uint8_t *)s, strlen(s), box, STORE_BOX_MAX, boxlen);
    gh_free_secret_str(s);
    return rc;
}

static enum gh_err open_pair(const char *old, const struct store_refresh *rt,
                             struct sessions_pair *out)
{
    char *s = NULL;
    enum gh_err orc = refresh_open(old, rt->box, rt->box_len, &s);
    if (orc) return orc; /* DENIED: does not open; anything else is ours */
    json_t *j = json_loads(s, 0, NULL);
    gh_free_secret_str(s);
    const char *a = json_string_value(json_object_get(j, "a"));
    const char *r = json_string_value(json_object_get(j, "r"));
    enum gh_err rc = GH_ERR_DENIED;
    if (a && r && strlen(r) == REFRESH_TOKEN_LEN) {
        out->access = a[0] ? strdup(a) : NULL; /* "": a cookie session's */
        memcpy(out->refresh, r, REFRESH_TOKEN_LEN + 1);
        rc = out->access || !a[0] ? GH_OK : GH_ERR_NOMEM;
    }
    /* jansson keeps its own copies of the strings; wipe them too. */
    if (a) gh_wipe((char *)a, strlen(a));
    if (r) gh_wipe((char *)r, strlen(r));
    json_decref(j);
    return rc;
}

/* A spent token came back: the family leaked. Revokes every session of
 * the account (the first return always audited; replays of a family
 * already revoked are bounded like failures). */
static enum gh_err revoke_family(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_refresh *rt, const uint8_t old_hash[32],
                                 int64_t now_us, struct store_audit *reuse_ev)
{
    enum gh_err rc = GH_OK;
    int64_t now = now_us / 1000000;
    char details[96];
    snprintf(details, sizeof details, "{\"session_id\":\"%s\"}", rt->session_id);
    if (reuse_ev) {
        reuse_ev->target = rt->user_id;
        reuse_ev->details = details;
    }
    /* Its first return (session live) always gets a row; replays
     * of a family already revoked are bounded like failures. */
    bool audit = reuse_ev != NULL;
    if (!rt->session_live && (rc = audit_failure_admit(ops, c, reuse_ev, &audit))) return rc;
    if ((rc = ops->sessions.revoke_user(c, rt->user_id, now, audit ? reuse_ev : NULL))) return rc;
    authcache_revoke_user_sessions(rt->user_id, NULL);
    /* Past the grace the pair is never opened again. A failure here
     * is left to the hourly prune: the revocation is what counts. */
    if (rt->box_len > 0 && ops->refresh.forget_successors(
                               c, old_hash, now_us - gh_cfg.refresh_grace * 1000000) != GH_OK)
        gh_log(GH_LOG_WARN, "could not drop a spent token's successor pair");
    gh_log(GH_LOG_WARN, "refresh token reuse detected for user %s: all sessions revoked",
           rt->user_id);
    return GH_OK;
}

enum gh_err sessions_refresh(const struct store_ops *ops, struct store_conn *c, const char *tok,
                             size_t toklen, bool cookie, struct store_audit *reuse_ev,
                             enum sessions_refresh_result *res, struct limit_result *lim,
                             struct sessions_pair *out)
{
    uint8_t old_hash[32], new_hash[32];
    struct store_refresh *rt = calloc(1, sizeof *rt);
    uint8_t *box = malloc(STORE_BOX_MAX);
    enum gh_err rc = GH_OK;
    memset(out, 0, sizeof *out);
    if (!rt || !box) {
        rc = GH_ERR_NOMEM;
        goto out;
    }
    *res = SESSIONS_INVALID;
    if (refresh_hash(tok, toklen, old_hash) != GH_OK) goto out;

    /* Two rounds at most: if our rotation loses a race, the winner's row
     * is read again and handled as a spent token (grace or reuse). */
    for (int round = 0; round < 2; round++) {
        rc = ops->refresh.get(c, old_hash, rt);
        if (rc == GH_ERR_NOT_FOUND) {
            rc = GH_OK;
            goto out;
        }
        if (rc) goto out;
        /* A cookie token at /v1/token, or a refresh token as a cookie:
         * refused before anything else, and revokes nothing. */
        if (rt->session_cookie != cookie) goto out;
        int64_t now_us = gh_now_us(), now = now_us / 1000000;

        if (rt->rotated_at_us != 0) {
            bool in_window = gh_cfg.refresh_grace > 0 &&
                             now_us - rt->rotated_at_us < gh_cfg.refresh_grace * 1000000;
            if (in_window && !rt->session_live) goto out; /* signed out meanwhile: invalid */
            if (in_window) {
                rc = open_pair(tok, rt, out);
                if (rc == GH_OK) {
                    *res = SESSIONS_REFRESHED;
                    goto out;
                }
                if (rc != GH_ERR_DENIED) goto out; /* our failure: 500, revoke nothing */
                rc = GH_OK;
            }
            if ((rc = revoke_family(ops, c, rt, old_hash, now_us, reuse_ev))) goto out;
            *res = SESSIONS_REUSED;
            goto out;
        }
        if (!rt->session_live || rt->expires_at <= now) goto out;
        /* The absolute lifetime, counted from sign-in; each refresh only
         * moves the idle expiry (GATEHOUSE_REFRESH_TTL). */
        if (gh_cfg.session_max_age > 0 && now - rt->session_created_at >= gh_cfg.session_max_age) {
            rc = ops->sessions.revoke(c, rt->session_id, rt->user_id, now, NULL);
            if (rc && rc != GH_ERR_NOT_FOUND) goto out;
            rc = GH_OK;
            authcache_revoke_session(rt->session_id);
            *res = SESSIONS_EXPIRED;
            goto out;
        }
        if (round == 0) { /* a lost race comes back as a spent token: not charged twice */
            limit_take(LIMIT_REFRESH_SESSION, rt->session_id, lim);
            if (!lim->allowed) {
                *res = SESSIONS_LIMITED;
                goto out;
            }
        }

        if ((rc = refresh_new(out->refresh, new_hash))) goto out;
        if (!cookie && (rc = issue_access(rt->user_id, rt->session_id, rt->tokens_invalidated_at,
                                          rt->session_restricted, &out->access)))
            goto out;
        /* Without a grace window no one will ever open the pair. */
        size_t boxlen = 0;
        if (gh_cfg.refresh_grace > 0 && (rc = seal_pair(tok, out, box, &boxlen))) goto out;
        int64_t new_exp = now + gh_cfg.refresh_ttl;
        rc = ops->refresh.rotate(c, old_hash, new_hash, boxlen ? box : NULL, boxlen, now_us,
                                 new_exp);
        if (rc == GH_OK) {
            *res = SESSIONS_REFRESHED;
            goto out;
        }
        sessions_pair_clear(out);
        if (rc != GH_ERR_CONFLICT) goto out;
        rc = GH_OK; /* lost the race: look again */
    }
out:
    if (rc || *res != SESSIONS_REFRESHED) sessions_pair_clear(out);
    if (rt) gh_wipe(rt, sizeof *rt);
    free(rt);
    free(box);
    return rc;
}

/* The identity of a current cookie token rt (hash h): its live session and
 * user, read from the store and put into the auth cache (gen: the
 * generation read before rt). *ok false when the token, session or user is
 * not good (nothing to change); an error only when the store failed. */
static enum gh_err cookie_identity(const struct store_ops *ops, struct store_conn *c,
                                   const struct store_refresh *rt, const uint8_t h[32],
                                   uint64_t gen, int64_t now, bool *ok,
                                   struct authcache_identity *out)
{
    struct store_session s;
    struct store_user u;
    enum gh_err rc = GH_OK;
    memset(&u, 0, sizeof u);
    *ok = false;
    if (!rt->session_live || rt->expires_at <= now || rt->rotated_at_us != 0) goto out;
    rc = ops->sessions.get(c, rt->session_id, &s);
    if (rc == GH_ERR_NOT_FOUND) rc = GH_OK;
    if (rc) goto out;
    rc = ops->users.by_id(c, rt->user_id, &u);
    if (rc == GH_ERR_NOT_FOUND) rc = GH_OK;
    if (rc || !u.id[0]) goto out;
    authcache_put_session(&s, gen);
    authcache_put_user(&u, gen);
    if (s.revoked_at != 0 || strcmp(s.user_id, rt->user_id) != 0) goto out;
    /* The memory answers until the idle expiry or the session's maximum age,
     * whichever comes first: the gate never rotates, so nothing else would
     * end a cached cookie at its maximum age. */
    int64_t until = rt->expires_at;
    if (gh_cfg.session_max_age > 0 && rt->session_created_at + gh_cfg.session_max_age < until)
        until = rt->session_created_at + gh_cfg.session_max_age;
    authcache_put_cookie(h, rt->user_id, rt->session_id, rt->created_at, until, gen);
    memcpy(out->user_id, rt->user_id, sizeof out->user_id);
    memcpy(out->session_id, rt->session_id, sizeof out->session_id);
    snprintf(out->email, sizeof out->email, "%s", u.email);
    out->created_at = u.created_at;
    out->iat = rt->created_at;
    out->exp = until;
    out->restricted = s.restricted;
    out->mfa_at = s.mfa_at;
    memcpy(out->role, u.role, sizeof out->role);
    *ok = true;
out:
    gh_wipe(u.password_hash, sizeof u.password_hash);
    return rc;
}

enum gh_err sessions_cookie_check(const struct store_ops *ops, struct store_conn *c,
                                  const char *tok, size_t toklen, struct store_audit *reuse_ev,
                                  enum sessions_refresh_result *res, struct limit_result *lim,
                                  char rotated[REFRESH_TOKEN_LEN + 1],
                                  struct authcache_identity *out)
{
    uint8_t h[32], nh[32];
    struct store_refresh *rt = calloc(1, sizeof *rt);
    struct sessions_pair pair = {0};
    enum gh_err rc = GH_OK;
    rotated[0] = '\0';
    *res = SESSIONS_INVALID;
    if (!rt) return GH_ERR_NOMEM;
    if (refresh_hash(tok, toklen, h) != GH_OK) goto out;
    uint64_t gen = authcache_generation(); /* before the reads: see authcache.h */
    rc = ops->refresh.get(c, h, rt);
    if (rc == GH_ERR_NOT_FOUND) {
        rc = GH_OK;
        goto out;
    }
    if (rc || !rt->session_cookie) goto out;
    int64_t now = gh_now_s();
    if (rt->rotated_at_us != 0 || rt->created_at <= now - gh_cfg.access_ttl) {
        /* Spent (grace or reuse) or due: the refresh-token rules decide. */
        enum sessions_refresh_result rr;
        rc = sessions_refresh(ops, c, tok, toklen, true, reuse_ev, &rr, lim, &pair);
        if (rc || rr != SESSIONS_REFRESHED) {
            if (!rc) *res = rr;
            goto out;
        }
        authcache_forget_cookie(h);
        memcpy(rotated, pair.refresh, sizeof pair.refresh);
        if ((rc = refresh_hash(pair.refresh, REFRESH_TOKEN_LEN, nh))) goto out;
        gen = authcache_generation();
        rc = ops->refresh.get(c, nh, rt);
        if (rc == GH_ERR_NOT_FOUND) rc = GH_OK, rotated[0] = '\0';
        if (rc || !rotated[0]) goto out;
        memcpy(h, nh, sizeof h);
    }
    bool ok = false;
    rc = cookie_identity(ops, c, rt, h, gen, now, &ok, out);
    if (ok) *res = SESSIONS_REFRESHED;
out:
    if (rc || *res != SESSIONS_REFRESHED) gh_wipe(rotated, REFRESH_TOKEN_LEN + 1);
    sessions_pair_clear(&pair);
    gh_wipe(rt, sizeof *rt);
    free(rt);
    return rc;
}

enum gh_err sessions_cookie_peek(const struct store_ops *ops, struct store_conn *c, const char *tok,
                                 size_t toklen, bool *found, struct authcache_identity *out)
{
    uint8_t h[32];
    *found = false;
    struct store_refresh *rt = calloc(1, sizeof *rt);
    if (!rt) return GH_ERR_NOMEM;
    enum gh_err rc = GH_OK;
    if (refresh_hash(tok, toklen, h) != GH_OK) goto out;
    uint64_t gen = authcache_generation(); /* before the reads: see authcache.h */
    rc = ops->refresh.get(c, h, rt);
    if (rc == GH_ERR_NOT_FOUND) rc = GH_OK;
    if (rc || !rt->session_cookie) goto out;
    int64_t now = gh_now_s();
    /* Past GATEHOUSE_SESSION_MAX_AGE: refused here; ending it is the API's
     * (the next rotation does). */
    if (gh_cfg.session_max_age > 0 && now - rt->session_created_at >= gh_cfg.session_max_age)
        goto out;
    rc = cookie_identity(ops, c, rt, h, gen, now, found, out);
out:
    gh_wipe(rt, sizeof *rt);
    free(rt);
    return rc;
}
