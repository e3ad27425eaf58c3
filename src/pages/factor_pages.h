/* The second-factor pages of the signed-in account: TOTP enrolment
 * (GET /account/totp, POST /account/totp/start, GET and POST
 * /account/totp/confirm), new backup codes (POST /account/backup-codes)
 * and turning the factor off (POST /account/totp/remove). Each POST calls
 * its JSON twin's logic on the same request (account_pages.h): POST
 * /v1/mfa/totp, /v1/mfa/totp/confirm, /v1/mfa/backup-codes, DELETE
 * /v1/mfa/totp.
 *
 * Enrolment changes state only on POST: "Set up" stores the pending
 * secret and answers 303 to the confirm page, which reads that pending
 * enrolment (mfa/pending.h) and shows its QR code and key; reloading it
 * changes nothing. The backup codes are shown once, in the 200 answer of
 * the POST that made them (they cannot be fetched again, so there is
 * nothing to redirect to); every reply is Cache-Control: no-store.
 * Handlers run on workers; templates are static text. */
#ifndef GH_PAGES_FACTOR_PAGES_H
#define GH_PAGES_FACTOR_PAGES_H

#include "http/server.h"

/* Body templates (the layout adds title, brand, base, wide). */
extern const char FACTOR_START[];    /* restricted, on, unverified, csrf */
extern const char FACTOR_CONFIRM[];  /* qr, secret, error, csrf, code_bad, need_pw, pw_bad */
extern const char FACTOR_CODES[];    /* enabled, replaced, rows: FACTOR_CODE_ROW each */
extern const char FACTOR_CODE_ROW[]; /* code */

/** GET /account/totp: the "Set up" button; or why not (address not
 *  confirmed: the resend button; the factor already on). */
void factor_pages_start_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/totp/start: a new pending secret (the logic of POST
 *  /v1/mfa/totp), 303 /account/totp/confirm; 403 email_not_verified and
 *  409 mfa_already_enabled show the start page. */
void factor_pages_start(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /account/totp/confirm: the pending enrolment's QR code and key and
 *  the code form (a password field when the session signed in longer ago
 *  than GATEHOUSE_REAUTH_WINDOW); none pending: 303 /account/totp. */
void factor_pages_confirm_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/totp/confirm {code[, password]}: 200 the backup codes
 *  page; the form again on a wrong code (422) or password (403). */
void factor_pages_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/backup-codes {code, password}: 200 the new codes page;
 *  the account page with the error otherwise. */
void factor_pages_backup_codes(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/totp/remove {code, password}: 303 /account?totp=off; the
 *  account page with the error otherwise. */
void factor_pages_remove(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
