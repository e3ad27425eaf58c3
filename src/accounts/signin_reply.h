/* The JSON replies of a sign-in's outcome, shared by every route that
 * signs in (POST /v1/signin, /v1/signup, the magic link, POST
 * /v1/oauth/{provider}/token) so that none copies them, and what the
 * accounts logic needs to know about a request. Worker threads (they read
 * the request struct); nothing to free: the replies are set on r. */
#ifndef GH_ACCOUNTS_SIGNIN_REPLY_H
#define GH_ACCOUNTS_SIGNIN_REPLY_H

#include <stdbool.h>

#include <jansson.h>

#include "accounts/accounts.h"
#include "http/server.h"

/** What the accounts logic needs to know about r (ip, user agent, audit
 *  fields, the session cookie sent along), into in; cookie: a cookie-mode
 *  sign-in. base is the audit event's storage; both are the caller's. */
const struct accounts_req *accounts_request_of(struct gh_req *r, struct accounts_req *in,
                                               struct store_audit *base, bool cookie);

/** The "mode" field of the sign-in routes: 0 bearer (the default, NULL or
 *  "bearer"), 1 cookie, -1 refused (r's reply is set: 422 for another
 *  value, 400 cookie_mode_unavailable, 403 csrf_failed when the request's
 *  Origin / Sec-Fetch-Site is not ours or allowlisted: nobody can sign a
 *  browser into their own account from another site). Checked before any
 *  work. */
int accounts_signin_mode(struct gh_req *r, const char *mode);

/** {"id","email","created_at"} of an account (a new reference; NULL when
 *  out of memory). */
json_t *accounts_user_json(const char *id, const char *email, int64_t created_at);

/** The reply of the one "signed in" path (accounts/signin.h,
 *  signin_session_start): status (200, 201) with {user, access_token,
 *  refresh_token, token_type, expires_in}; in cookie mode {user, mode,
 *  csrf_token, expires_in} and the cookies (the session sent along has
 *  ended: r->token is wiped). */
void accounts_reply_signed_in(struct gh_req *r, int status, const struct accounts_result *res,
                              bool cookie);

/** 200 {"mfa_required": true, "mfa_token", "expires_in"}: the first factor
 *  held (or a provider vouched) and the second step is POST /v1/signin/mfa. */
void accounts_reply_mfa_required(struct gh_req *r, const struct accounts_result *res);

#endif
