/* Step-up: a signed-in session proves its second factor again (a TOTP or
 * an unused backup code), so that an access rule asking for a recent
 * second factor (rules "mfa", optionally within N minutes) lets it pass.
 * The one logic function behind POST /v1/mfa/step-up and the /step-up
 * page: the same code check, guessing budget and failure audit as the
 * sign-in's second step and the factor-change proofs. Workers only (store
 * calls). */
#ifndef GH_MFA_STEPUP_H
#define GH_MFA_STEPUP_H

#include <stdint.h>

#include "core/err.h"
#include "guard/limit.h"
#include "store/store.h"

#define MFA_STEPUP_CODE_MAX 64 /* longer is never a code: refused unread */

enum mfa_stepup_outcome {
    MFA_STEPUP_OK,           /* sessions.mfa_at = *at, audited, in the auth cache */
    MFA_STEPUP_WRONG,        /* not a valid code: spent the account's budget, audited */
    MFA_STEPUP_LIMITED,      /* the account's budget is spent (lim says until when) */
    MFA_STEPUP_NO_FACTOR,    /* the user has no second factor to prove */
    MFA_STEPUP_SESSION_GONE, /* the session ended meanwhile */
};

/** Checks code (NUL-terminated, as typed) as a second factor of user_id
 *  for its live session session_id. On success sets sessions.mfa_at to
 *  now with an `mfa.step_up` audit row (base: the request's audit fields,
 *  NULL when auditing is off; details {"method"}) in one transaction, then
 *  tells the auth cache (authcache_set_session_mfa). A wrong code spends
 *  one unit of LIMIT_MFA_ACCOUNT (shared with the sign-in step) and is
 *  audited as `mfa.proof_failed`; a right one gives it back. *out: the
 *  outcome; *at: the new mfa_at; lim: the budget (for a 429). GH_ERR_* only
 *  for a backend failure (then nothing was set). */
enum gh_err mfa_step_up(const struct store_ops *ops, struct store_conn *c,
                        const struct store_audit *base, const char *user_id, const char *session_id,
                        const char *code, enum mfa_stepup_outcome *out, int64_t *at,
                        struct limit_result *lim) GH_WUR;

#endif
