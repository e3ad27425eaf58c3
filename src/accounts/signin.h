/* Signing in: the password step (POST /v1/signin), the second-factor step
 * (POST /v1/signin/mfa), and the one "signed in" path every route that
 * starts a session ends through (sign-up, password, second factor, magic
 * link). A sign-in failure never tells whether the account exists, in
 * its answer or in its timing. Worker threads. */
#ifndef GH_ACCOUNTS_SIGNIN_H
#define GH_ACCOUNTS_SIGNIN_H

#include <stddef.h>
#include <stdint.h>

#include "accounts/accounts.h"
#include "core/err.h"

/** The password step. The sign-in budgets were spent at admission; here
 *  the address's lockout is checked before any hash (LOCKED), an unknown
 *  address or an over-long password costs the same as a wrong one
 *  (BAD_CREDENTIALS, audited and counted toward the lockout,
 *  accounts/password_guard.h), a right one clears the lockout, rehashes
 *  at current parameters, and gives NOT_VERIFIED (verification
 *  "required", address unconfirmed), MFA_REQUIRED, or SIGNED_IN
 *  (signin.success audited). GH_OK with res->outcome, or a failure. */
enum gh_err signin_password(const struct store_ops *ops, struct store_conn *c,
                            const struct accounts_req *in, const char *email, size_t email_len,
                            const char *pw, size_t pw_len, struct accounts_result *res) GH_WUR;

/** The second-factor step: tok is the mfa_token, code a TOTP or backup
 *  code as typed (spaces ignored). Outcomes STEP_INVALID, STEP_GONE,
 *  LIMITED (the account's budget, spent one unit per try and refunded on
 *  success), BAD_CODE (audited), STEP_USED, BAD_CREDENTIALS (the
 *  password changed since it was checked), SIGNED_IN. */
enum gh_err signin_mfa(const struct store_ops *ops, struct store_conn *c,
                       const struct accounts_req *in, const char *tok, size_t tok_len,
                       const char *code, size_t code_len, struct accounts_result *res) GH_WUR;

/** After a first factor held for res->u: a challenge for the second
 *  (MFA_REQUIRED, first_factor remembered for its method) when the
 *  account has one; otherwise the "signed in" path (restricted when
 *  GATEHOUSE_MFA_REQUIRED covers it), method first_factor. cache_gen: see
 *  signin_session_start. GH_ERR_CONFLICT when the password changed since
 *  res->u was read. */
enum gh_err signin_first_factor_done(const struct store_ops *ops, struct store_conn *c,
                                     const struct accounts_req *in, const char *first_factor,
                                     const uint64_t *cache_gen, struct accounts_result *res) GH_WUR;

/** The "signed in" path: starts res->u's session in in->cookie's mode
 *  (res->restricted, method for the audit row and mfa_at; sessions.h),
 *  writes the signin.success row when audit is true (sign-up has its own
 *  "signup" row), puts res->u in the auth cache when cache_gen is not
 *  NULL (the generation read before res->u was), and ends the session of
 *  the cookie the browser sent along (no fixation). Then res->outcome is
 *  SIGNED_IN. GH_ERR_CONFLICT when the password changed since res->u was
 *  read (nothing started), or a failure. */
enum gh_err signin_session_start(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const char *method, bool audit,
                                 const uint64_t *cache_gen, struct accounts_result *res) GH_WUR;

/** Ends the session of the cookie a cookie sign-in sent along (none when
 *  in->presented_len is 0), with its "signout" row, in its own write: run
 *  it outside any open transaction. Best effort: a failure is logged. */
void signin_end_presented(const struct store_ops *ops, struct store_conn *c,
                          const struct accounts_req *in);

#endif
