/* Following an emailed link (accounts/link_mail.h sends them): magic-link
 * sign-in (and sign-up, when enabled), password reset, email
 * verification. A link works once, for its own purpose, until it
 * expires; a refused one is one audit row (ASVS 16.3.1) naming the
 * account only by a keyed hash of its address, and only when the link
 * was real but expired. Following any link proves the address; a
 * never-verified account's password and sessions do not survive its
 * owner proving it (account pre-hijacking). Worker threads. */
#ifndef GH_ACCOUNTS_LINKS_H
#define GH_ACCOUNTS_LINKS_H

#include <stddef.h>

#include "accounts/accounts.h"
#include "core/err.h"

/** POST /v1/magic-link/verify: spends the sign-in link tok and signs in
 *  (or up, when GATEHOUSE_MAGIC_LINK_SIGNUP is on). Outcomes
 *  LINK_INVALID, LINK_EXPIRED, MFA_REQUIRED (the account has a second
 *  factor), SIGNED_IN (in->cookie's mode). */
enum gh_err links_magic_verify(const struct store_ops *ops, struct store_conn *c,
                               const struct accounts_req *in, const char *tok, size_t tok_len,
                               struct accounts_result *res) GH_WUR;

/** POST /v1/password/reset: sets pw (policy-checked before the link is
 *  spent: a refused password leaves the link usable), revokes every
 *  session and older access token, kills the address's other links and
 *  proves the address, all in one transaction with the spending of the
 *  link. It does not sign in (a reset never skips a second factor).
 *  Outcomes LINK_INVALID, LINK_EXPIRED, WEAK_PASSWORD, LINK_GONE,
 *  LINK_USED, DONE. */
enum gh_err links_password_reset(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const char *tok, size_t tok_len,
                                 const char *pw, size_t pw_len, struct accounts_result *res) GH_WUR;

/** POST /v1/email/verify: confirms the address the link tok was sent
 *  to. Outcomes LINK_INVALID, LINK_EXPIRED, LINK_GONE, DONE. */
enum gh_err links_email_verify(const struct store_ops *ops, struct store_conn *c,
                               const struct accounts_req *in, const char *tok, size_t tok_len,
                               struct accounts_result *res) GH_WUR;

#endif
