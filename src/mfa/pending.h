/* The pending (not yet confirmed) TOTP enrolment shown again: what the
 * enrolment page needs to draw the QR code and the key after the POST that
 * started it (POST /v1/mfa/totp, the account page's "Set up") answered
 * with a 303. Reads only; never starts or changes an enrolment. Store
 * calls: workers only. */
#ifndef GH_MFA_PENDING_H
#define GH_MFA_PENDING_H

#include "core/err.h"
#include "mfa/totp.h"
#include "store/store.h"

/** The pending enrolment of user_id: b32 gets its secret in base32 (wipe
 *  it) and *svg the QR code of its otpauth URI (issuer the brand, account
 *  email; heap, holds the secret: gh_free_secret_str). GH_ERR_NOT_FOUND
 *  when there is none or it is already confirmed; GH_ERR_* on a store or
 *  vault failure (then nothing is allocated). */
enum gh_err mfa_totp_pending(const struct store_ops *ops, struct store_conn *c, const char *user_id,
                             const char *email, char b32[TOTP_BASE32_LEN + 1], char **svg) GH_WUR;

#endif
