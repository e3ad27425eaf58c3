/* The pages of changing the email address (docs/api.md "Pages"), with
 * their templates: GET/POST /account/email (signed in: R_AUTH | R_PAGE),
 * GET /account/email/sent, and the landing of the emailed link, GET/POST
 * /email-change?token= (no session needed: the token is the authority; the
 * GET reads the link and changes nothing, only the POST spends it). Every
 * handler calls the same logic as the JSON routes (accounts/email_change.h:
 * same budgets, same audit rows) and answers 303 after a successful POST.
 * Worker threads (the store), except the static sent page. */
#ifndef GH_PAGES_EMAIL_PAGES_H
#define GH_PAGES_EMAIL_PAGES_H

#include "http/server.h"

/** GET /account/email: the form (New email, Current password). */
void email_pages_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/email (new_email, password, csrf): 303 to
 *  /account/email/sent, or the form again with the error. */
void email_pages_request(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /account/email/sent: "Check your new inbox". */
void email_pages_sent(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /email-change?token=: "Confirm your new email address" with the new
 *  address and a Confirm button; spends nothing. */
void email_pages_landing(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /email-change (token, csrf: the form token of pages/form_token.h,
 *  checked by the HTTP layer, R_FORM): spends the link; 303 to
 *  /account?email=changed when a session cookie came along, else to
 *  /email-change/done. */
void email_pages_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /email-change/done: "Your email address was changed". */
void email_pages_done(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
