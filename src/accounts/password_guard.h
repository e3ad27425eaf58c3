/* The defences around checking a password that someone typed: the same
 * for a sign-in and for the current password of POST /v1/password, so a
 * stolen access token is no better a password oracle than the sign-in
 * form. They share the sign-in budgets (per client IP + address, per
 * client IP), the address's lockout (guard/limit.h) and its notice to the
 * owner, and each wrong password is one audit row. Worker threads. */
#ifndef GH_ACCOUNTS_PASSWORD_GUARD_H
#define GH_ACCOUNTS_PASSWORD_GUARD_H

#include <stdbool.h>

#include "core/err.h"
#include "http/server.h"
#include "store/store.h"

/** Before a password is checked for the address email_key (normalised):
 *  answers r with 429 (or 503 when Redis is down and sign-in fails
 *  closed) and returns false when the address is locked or a sign-in
 *  budget is spent; otherwise spends one unit of each and returns true.
 *  The sign-in route spends its budgets at admission instead and only
 *  checks the lockout (limit_locked, accounts/signin.c). */
bool password_guard_admit(struct gh_req *r, const char *email_key);

/** The lockout check alone: true (and r answered 429) while email_key is
 *  locked. */
bool password_guard_locked(struct gh_req *r, const char *email_key);

/** Records one wrong password for email_key: an audit row `action` by
 *  actor (target: u's id, or "" when u is NULL, an unknown address; the
 *  address only as a keyed hash; session_id named when not NULL), one
 *  failure toward the lockout and, when that failure locks the address,
 *  a signin.locked row and (for an account, at most hourly) an email to
 *  its owner. base: the request's audit fields (audit_event in
 *  audit/audit.h; NULL when auditing is off). Sets no reply. GH_OK, or the store's failure (then
 * nothing was counted). */
enum gh_err password_guard_failed(const struct store_ops *ops, struct store_conn *c,
                                  const struct store_audit *base, const char *action,
                                  const char *actor, const char *session_id, const char *email_key,
                                  const struct store_user *u) GH_WUR;

#endif
