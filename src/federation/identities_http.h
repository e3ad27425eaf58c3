/* HTTP handlers of the linked identities (R_AUTH): GET /v1/identities
 * lists the signed-in account's identities at providers, DELETE
 * /v1/identities/{provider} (body optional {"subject"} when the account
 * has several at that provider) removes one unless it is the last way to
 * sign in (federated.h federated_unlink). Parse, call, reply; workers. */
#ifndef GH_FEDERATION_IDENTITIES_HTTP_H
#define GH_FEDERATION_IDENTITIES_HTTP_H

#include "http/server.h"
#include "store/store.h"

/* How many identities a list shows at most. */
#define IDENTITIES_LIST_MAX 32

void identities_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void identities_http_delete(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** The shared step of DELETE /v1/identities/{provider} and the account
 *  page's Remove button: federated_unlink and its reply (204, 404
 *  not_found, 422 missing_field, 409 last_sign_in_method). */
void identities_http_unlink(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                            const char *provider, const char *subject);

#endif
