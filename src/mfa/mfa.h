/* Second factors for an account: verifying a TOTP or backup code (each
 * works once), making backup codes, and the sign-in challenge that stands
 * between a correct password and a session. Store calls: workers only. */
#ifndef GH_MFA_MFA_H
#define GH_MFA_MFA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "guard/limit.h"
#include "store/store.h"

#define MFA_CHALLENGE_TTL 300 /* seconds to enter the code */
#define MFA_CHALLENGE_ATTEMPTS 5
#define MFA_TOKEN_LEN 43
/* 24 base32 characters, 120 bits: a fast hash (SHA-256) is safe to store
 * only for codes that cannot be guessed offline (ASVS 6.5.2: >= 112 bits). */
#define MFA_BACKUP_CHARS 24
#define MFA_BACKUP_LEN 29 /* "xxxx-xxxx-xxxx-xxxx-xxxx-xxxx" */
#define MFA_BACKUP_CANON_LEN MFA_BACKUP_CHARS

/** True if GATEHOUSE_MFA_REQUIRED covers u (all; or admins and u is one):
 *  without a factor, its sign-ins get sessions restricted to enrolling. */
bool mfa_policy_applies(const struct store_user *u);

/** Tells the account's address that a second factor was added (added
 *  true) or removed, so that an owner who did not do it finds out (the
 *  operator's template `mfa_added` / `mfa_removed`, or the built-in text).
 *  Queued on the caller's connection, after the change committed; a failure is only
 *  logged: the change itself has been made. */
void mfa_notify(const struct store_ops *ops, struct store_conn *c, const char *email, bool added);

/** Whether user_id may enrol a second factor: only once its address is
 *  proved (a factor set up by whoever typed someone else's address would
 *  lock the address's owner out). GH_OK if it may, GH_ERR_DENIED if the
 *  address is not verified, GH_ERR_* on store failure. */
enum gh_err mfa_may_enrol(const struct store_ops *ops, struct store_conn *c,
                          const char *user_id) GH_WUR;

/** True if the user has a confirmed TOTP factor. GH_ERR_* on store failure. */
enum gh_err mfa_enabled(const struct store_ops *ops, struct store_conn *c, const char *user_id,
                        bool *on) GH_WUR;

/** Checks code for user_id: a 6-digit TOTP code (each step once) or an
 *  unused backup code (spent by this call). *method gets "totp" or
 *  "backup_code". GH_ERR_DENIED if neither. */
enum gh_err mfa_verify_code(const struct store_ops *ops, struct store_conn *c, const char *user_id,
                            const char *code, const char **method) GH_WUR;

/** The canonical form of a user-typed backup code: dashes and spaces
 *  dropped, lower case; true only for exactly 16 letters and digits. canon
 *  gets 16 characters + NUL (wipe it: it is the code). Public for the unit
 *  and fuzz tests; mfa_verify_code is the caller. */
bool mfa_backup_canon(const char *code, char canon[MFA_BACKUP_CANON_LEN + 1]);

/** Ten fresh backup codes (text for the user, SHA-256 for the store). */
void mfa_backup_codes(char codes[STORE_BACKUP_CODES][MFA_BACKUP_LEN + 1],
                      uint8_t hashes[STORE_BACKUP_CODES][32]);

/** Starts a sign-in challenge for a user whose first factor ("password",
 *  "magic_link") was just checked; token gets the mfa_token to hand out (a
 *  bearer secret: wipe it). */
enum gh_err mfa_challenge_start(const struct store_ops *ops, struct store_conn *c,
                                const struct store_user *u, const char *first_factor,
                                char token[MFA_TOKEN_LEN + 1]) GH_WUR;

/** Records a wrong second-factor code (or proof) for user_id as an audit
 *  row of action ("signin.failure" or "mfa.proof_failed"), marked when it
 *  spent the account's budget (lim from limit_take). base: the request's
 *  audit fields (audit/audit.h audit_event; NULL when auditing is off).
 *  Bounded per kind and client (audit/failures.h). GH_ERR_* on store
 *  failure. */
enum gh_err mfa_record_failure(const struct store_ops *ops, struct store_conn *c,
                               const struct store_audit *base, const char *user_id,
                               const char *action, const struct limit_result *lim) GH_WUR;

#endif
