/* POST /v1/password: changing the password of the signed-in account. */
#ifndef GH_ACCOUNTS_PASSWORD_CHANGE_H
#define GH_ACCOUNTS_PASSWORD_CHANGE_H

#include <stddef.h>

#include "http/server.h"
#include "store/store.h"

/** Checks cur against r's account under the sign-in defences
 *  (accounts/password_guard.h: budgets, lockout, a failure audited as
 *  password.change_failure), then sets next (policy-checked), revokes the
 *  account's other sessions and every access token issued before, and
 *  answers r: 204, 403 invalid_credentials, 422 weak_password, 429, 401
 *  when the account is gone, or a failure. The caller wipes cur and next
 *  (they live in r's body). Worker thread. */
void password_change(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                     const char *cur, size_t cur_len, const char *next, size_t next_len);

#endif
