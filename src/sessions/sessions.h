/* Sessions: starting one at sign-in, rotating refresh tokens, revoking.
 * Functions here call the store: run them on a worker. Token strings handed
 * out are heap or fixed buffers the caller wipes (struct sessions_pair). */
#ifndef GH_SESSIONS_SESSIONS_H
#define GH_SESSIONS_SESSIONS_H

#include <stdbool.h>

#include <jansson.h>

#include "core/err.h"
#include "sessions/authcache.h"
#include "sessions/refresh.h"
#include "guard/limit.h"
#include "store/store.h"

struct sessions_pair {
    char *access;                        /* heap JWT; NULL for a cookie session */
    char refresh[REFRESH_TOKEN_LEN + 1]; /* base64url; a cookie session's token */
    char session_id[STORE_ID_LEN + 1];   /* set by sessions_start */
};

/** Wipes and frees what the pair holds. */
void sessions_pair_clear(struct sessions_pair *p);

/** JSON {access_token, refresh_token, token_type, expires_in}; NULL on OOM. */
json_t *sessions_pair_json(const struct sessions_pair *p);

/** A fresh random id (UUID v4 text): ids are not secrets. */
void sessions_new_id(char out[STORE_ID_LEN + 1]);

/** Starts a session for user u (one refresh-token family) and issues its
 *  first pair. GH_ERR_CONFLICT if u's password changed since u was read (the
 *  caller treats that as a failed sign-in). method names the factors for
 *  the audit row ("password", "password+totp", ...); a "+" in it records
 *  that the sign-in passed a second factor (store_session.mfa_at). A restricted session
 *  may only enrol a second factor (GATEHOUSE_MFA_REQUIRED). A cookie
 *  session gets no access token: its refresh token is the session cookie
 *  (sessions/cookie.h), and it is never accepted by /v1/token. The audit
 *  row ev's details are {method, session_id} followed by the members of
 *  ev->details when it is a JSON object ({"provider":"google"}). */
enum gh_err sessions_start(const struct store_ops *ops, struct store_conn *c,
                           const struct store_user *u, const char *ip, const char *user_agent,
                           const struct store_audit *ev, const char *method, bool restricted,
                           bool cookie, struct sessions_pair *out) GH_WUR;

/** The tokens_invalidated_at to store when every access token of a user
 *  issued so far must stop working (password change, reset, reclaim): now,
 *  or current + 1 when that is not later, so it always moves forward. It is
 *  a revocation generation carried in each token's "rev" claim; no token's
 *  iat is ever set from it (decision 0004). */
int64_t sessions_next_tia(int64_t current);

/** Signs session_id of user_id out: revokes it with a `signout` audit row
 *  (base: the request's audit fields, NULL when auditing is off; details
 *  {"session_id"}) and drops it from the auth cache. A session already
 *  ended is not an error. The one logic of POST /v1/signout and the
 *  sign-out page. GH_ERR_* on store failure (nothing changed). */
enum gh_err sessions_signout(const struct store_ops *ops, struct store_conn *c,
                             const struct store_audit *base, const char *user_id,
                             const char *session_id) GH_WUR;

/** Signs every other session of user_id out (POST
 *  /v1/sessions/revoke-others, the sessions page's "Sign out everywhere
 *  else"): revokes them all but keep_sid with one `session.revoke_others`
 *  audit row ({"count"}) in one transaction, then drops them from this
 *  process's auth cache (other processes follow the change event). *n:
 *  how many ended (0 is fine). GH_ERR_* on store failure (nothing
 *  changed). Worker. */
enum gh_err sessions_revoke_others(const struct store_ops *ops, struct store_conn *c,
                                   const struct store_audit *base, const char *user_id,
                                   const char *keep_sid, size_t *n) GH_WUR;

enum sessions_refresh_result {
    SESSIONS_REFRESHED, /* out holds the successor pair (new, or the same again within grace) */
    SESSIONS_INVALID,   /* unknown, expired or revoked */
    SESSIONS_REUSED,    /* a spent token outside grace: every session of the user is revoked */
    SESSIONS_LIMITED,   /* the session's refresh budget is spent (*lim says when); nothing done */
    SESSIONS_EXPIRED,   /* the session is older than GATEHOUSE_SESSION_MAX_AGE: it is ended
                         * (revoked); the person signs in again */
};

/** Rotates a refresh token (see docs/api.md, POST /v1/token). On a backend
 *  failure returns GH_ERR_INTERNAL and *res is unset. reuse_ev (may be NULL)
 *  is recorded when reuse is detected; its target and details are set here.
 *  cookie: the token must belong to a session of that mode (else INVALID,
 *  nothing revoked); cookie successors carry no access token. */
enum gh_err sessions_refresh(const struct store_ops *ops, struct store_conn *c, const char *tok,
                             size_t toklen, bool cookie, struct store_audit *reuse_ev,
                             enum sessions_refresh_result *res, struct limit_result *lim,
                             struct sessions_pair *out) GH_WUR;

/** Authenticates a session cookie on a worker and fills the auth cache.
 *  The token is rotated (sessions_refresh) when it was issued more than
 *  GATEHOUSE_ACCESS_TTL ago, and a token a parallel request just rotated
 *  is answered with the same successor within GATEHOUSE_REFRESH_REUSE_GRACE;
 *  either way rotated gets the value to set ("" when unchanged). A spent
 *  token after the grace is reuse: every session of the user is revoked
 *  (SESSIONS_REUSED, reuse_ev recorded). *res is SESSIONS_REFRESHED when
 *  out holds the identity. */
enum gh_err sessions_cookie_check(const struct store_ops *ops, struct store_conn *c,
                                  const char *tok, size_t toklen, struct store_audit *reuse_ev,
                                  enum sessions_refresh_result *res, struct limit_result *lim,
                                  char rotated[REFRESH_TOKEN_LEN + 1],
                                  struct authcache_identity *out) GH_WUR;

/** The gate's cookie check (GET /v1/verify) on a worker: never rotates,
 *  never revokes. A current cookie token of a live session (due for
 *  rotation or not) gives *found true and out, and fills the auth cache;
 *  a token that is unknown, spent (rotated), expired, of a bearer session,
 *  revoked, or past GATEHOUSE_SESSION_MAX_AGE gives *found false and
 *  changes nothing. GH_ERR_INTERNAL (or NOMEM) when the store failed. */
enum gh_err sessions_cookie_peek(const struct store_ops *ops, struct store_conn *c, const char *tok,
                                 size_t toklen, bool *found, struct authcache_identity *out) GH_WUR;

#endif
