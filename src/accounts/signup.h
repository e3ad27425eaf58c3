/* Sign-up when GATEHOUSE_EMAIL_VERIFICATION=required: the reply must not
 * tell whether the address already had an account (docs/api.md, POST
 * /v1/signup), in its body or in its timing. */
#ifndef GH_ACCOUNTS_SIGNUP_H
#define GH_ACCOUNTS_SIGNUP_H

#include <stdbool.h>

#include "core/err.h"
#include "http/server.h"
#include "store/store.h"

/** u: the new account, its password already hashed (Argon2id runs for
 *  every sign-up, new address or not). Creates it (*created true: the
 *  caller queues its confirmation link); or, when the address has an
 *  account, changes nothing about it, audits the attempt
 *  (signup.address_taken, the address only as a keyed hash) and queues a
 *  notice to the address (background: sent only while the address's
 *  email_account budget allows, so it cannot be used to flood a mailbox).
 *  Either way one committed write and one background job, and the caller
 *  answers the same 202. Sets no reply. GH_OK or the store's failure. */
enum gh_err signup_unconfirmed(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                               const struct store_user *u, bool *created) GH_WUR;

#endif
