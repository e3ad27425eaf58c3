/* HTTP handlers of the sessions capability: parse, call, reply. */
#ifndef GH_SESSIONS_HTTP_H
#define GH_SESSIONS_HTTP_H

#include "http/server.h"

void sessions_http_token(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void sessions_http_signout(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void sessions_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void sessions_http_revoke(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /v1/sessions/revoke-others: 204 once every other session of the
 *  account has ended (sessions_revoke_others). */
void sessions_http_revoke_others(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c);
void sessions_http_jwks(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void sessions_http_discovery(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
