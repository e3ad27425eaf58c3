/* Sign-up with a password (POST /v1/signup). When
 * GATEHOUSE_EMAIL_VERIFICATION=required the reply must not tell whether
 * the address already had an account (docs/api.md, POST /v1/signup), in
 * its body or in its timing. Worker threads. */
#ifndef GH_ACCOUNTS_SIGNUP_H
#define GH_ACCOUNTS_SIGNUP_H

#include <stdbool.h>

#include "core/err.h"
#include "accounts/accounts.h"
#include "store/store.h"

/** u: the new account, its password already hashed (Argon2id runs for
 *  every sign-up, new address or not). Creates it (*created true: the
 *  caller queues its confirmation link); or, when the address has an
 *  account, changes nothing about it, audits the attempt
 *  (signup.address_taken, the address only as a keyed hash) and queues a
 *  notice to the address (background: sent only while the address's
 *  email_account budget allows, so it cannot be used to flood a mailbox).
 *  Either way one committed write and one background job, and the caller
 *  answers the same 202. base: the request's audit fields (NULL: auditing
 *  off). Sets no reply. GH_OK or the store's failure. */
enum gh_err signup_unconfirmed(const struct store_ops *ops, struct store_conn *c,
                               const struct store_audit *base, const struct store_user *u,
                               bool *created) GH_WUR;

/** SIGNUP_CLOSED under GATEHOUSE_SIGNUP=closed (nothing else done).
 *  Checks the address (INVALID_EMAIL) and the password policy
 *  (WEAK_PASSWORD), hashes the password, and creates the account. Under
 *  verification "required": signup_unconfirmed, the confirmation link
 *  queued for a new account, VERIFY_PENDING either way. Otherwise
 *  EMAIL_TAKEN, or SIGNED_IN through the "signed in" path (no
 *  signin.success row: the "signup" row records it; restricted under
 *  GATEHOUSE_MFA_REQUIRED=all), the confirmation link queued when
 *  verification is on. */
enum gh_err signup_password(const struct store_ops *ops, struct store_conn *c,
                            const struct accounts_req *in, const char *email, size_t email_len,
                            const char *pw, size_t pw_len, struct accounts_result *res) GH_WUR;

#endif
