/* HTTP handlers of the accounts capability: parse, call, reply. */
#ifndef GH_ACCOUNTS_HTTP_H
#define GH_ACCOUNTS_HTTP_H

#include <stdbool.h>

#include "accounts/accounts.h"
#include "http/server.h"

/** What the accounts logic needs to know about r (ip, user agent, audit
 *  fields, the session cookie sent along), into in; cookie: a cookie-mode
 *  sign-in. Shared by the JSON handlers and the pages. base is the audit
 *  event's storage; both are the caller's. */
const struct accounts_req *accounts_http_request(struct gh_req *r, struct accounts_req *in,
                                                 struct store_audit *base, bool cookie);

/** The reply of a logic function's result (accounts.h outcomes: SIGNED_IN
 *  in signed_in_status, 200 {mfa_required, mfa_token}, each refusal its
 *  error: LINK_REQUIRED 409 link_required, SIGNUP_CLOSED 403
 *  signup_closed...), then wipes res. For handlers of other capabilities
 *  (federation) that end in the same outcomes. */
void accounts_http_answer(struct gh_req *r, enum gh_err rc, struct accounts_result *res,
                          int signed_in_status, bool cookie);

void accounts_http_signup(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void accounts_http_signin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void accounts_http_password(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void accounts_http_signin_mfa(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void accounts_http_magic_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void accounts_http_magic_verify(struct gh_req *r, const struct store_ops *ops,
                                struct store_conn *c);
void accounts_http_password_forgot(struct gh_req *r, const struct store_ops *ops,
                                   struct store_conn *c);
void accounts_http_password_reset(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c);
void accounts_http_email_verify(struct gh_req *r, const struct store_ops *ops,
                                struct store_conn *c);
void accounts_http_email_resend(struct gh_req *r, const struct store_ops *ops,
                                struct store_conn *c);
void accounts_http_me(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
