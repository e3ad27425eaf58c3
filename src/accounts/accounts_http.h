/* HTTP handlers of the accounts capability: parse, call, reply. */
#ifndef GH_ACCOUNTS_HTTP_H
#define GH_ACCOUNTS_HTTP_H

#include "http/server.h"

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
