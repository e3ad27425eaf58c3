/* The forgot-password pages: GET /forgot-password (the form: "Email",
 * "Send reset link"), POST /forgot-password (the same logic and budget as
 * POST /v1/password/forgot: GUARD_EMAIL, email_normalize and
 * link_mail_queue; the same 303 to /forgot-password/sent whether or not
 * the account exists, the work happening in the background) and GET
 * /forgot-password/sent ("Check your email"). The emailed link lands on
 * /reset-password (pages/link_pages.h). docs/api.md "Pages". */
#ifndef GH_PAGES_FORGOT_PAGES_H
#define GH_PAGES_FORGOT_PAGES_H

#include "http/server.h"

/** GET /forgot-password: the form, with the pre-session form token. */
void forgot_pages_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /forgot-password (email, csrf): queues the reset link, 303 to
 *  /forgot-password/sent; an empty address shows the form again (422). */
void forgot_pages_send(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /forgot-password/sent: "Check your email" (static). */
void forgot_pages_sent(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
