/* The pages emailed links land on: GET /magic-link, /reset-password and
 * /verify-email ?token= show what the link will do, with one button; only
 * that button's POST spends the link, through the same logic as the API's
 * POST /v1/magic-link/verify, /v1/password/reset and /v1/email/verify
 * (accounts/links.h: same budget GUARD_LINK, same audit rows). The GET
 * reads the link without spending it (accounts/link_peek.h), so a mail
 * scanner that opens a link spends nothing and signs nobody in; an
 * unknown, used, expired or other-purpose link shows the "This link has
 * expired or was already used" page (401, invalid_token or token_expired,
 * as the API answers).
 *
 * The token is never logged (the request log names the route, never the
 * query) and is wiped from the request's copies once read. Route flags:
 * GETs R_PAGE (a worker: the store is read), POSTs R_FORM | R_PAGE |
 * R_BODY (the pre-session form token, pages/form_token.h). docs/api.md
 * "Pages". */
#ifndef GH_PAGES_LINK_PAGES_H
#define GH_PAGES_LINK_PAGES_H

#include <stddef.h>

#include "http/server.h"

/** GET /magic-link?token=: "Sign in as <email>?" and the button "Sign in". */
void link_pages_magic_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /magic-link (token, csrf): signs in like POST /v1/magic-link/verify
 *  in cookie mode, then 303 to /account; for an account with a second
 *  factor, 303 to /signin/mfa with the sign-in's mfa cookie. */
void link_pages_magic(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** GET /reset-password?token=: "Choose a new password". */
void link_pages_reset_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /reset-password (token, new_password, csrf): sets it like POST
 *  /v1/password/reset, then 303 to /signin?reset=done; a refused password
 *  shows the form again with the reasons (422) and leaves the link usable. */
void link_pages_reset(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** GET /verify-email?token=: "Confirm your email address" with the address. */
void link_pages_verify_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /verify-email (token, csrf): confirms like POST /v1/email/verify,
 *  then 303 to /account?verified=1 when this browser is signed in to that
 *  account, else to /verify-email/done. */
void link_pages_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /verify-email/done: "Your email address is confirmed" (static). */
void link_pages_verified(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** How long an emailed link lives, in words ("10 minutes", "1 hour"), into
 *  out (cap bytes; 32 is enough). */
void link_pages_life(char *out, size_t cap);

#endif
