/* The pages of linked identities (issue 13): /signin/link (a federated
 * sign-in whose identity no account has yet: sign in to link it; it reads
 * the same whether or not an account holds the address), /account/link
 * (GET: "Link <Display>?", POST: federated_link, 303
 * /account?linked=1), the Remove button of the account page (POST
 * /account/identities/remove: the same step as DELETE
 * /v1/identities/{provider}), the account page's "Sign-in methods"
 * section and its notices, and the closed sign-up page.
 *
 * The pending link comes from its sealed cookie (federation/pending_link.h);
 * signed-in forms carry the session's CSRF token (pages_session_csrf).
 * Handlers run on workers, except /signin/link (R_LOOP: no store).
 * Templates are static text; every value is escaped (page.h). */
#ifndef GH_PAGES_IDENTITY_PAGES_H
#define GH_PAGES_IDENTITY_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"
#include "pages/page.h"
#include "store/store.h"

extern const char IDENTITY_SIGNIN_LINK_PAGE[]; /* display, signin */
extern const char IDENTITY_LINK_PAGE[];        /* display, email, csrf, unverified */
extern const char IDENTITY_METHODS_SECTION[];  /* has_pw, email_links, rows, links */
extern const char IDENTITY_METHODS_ROW[];      /* display, email, action, csrf, provider,
                                                * subject */
extern const char IDENTITY_METHODS_LINK[];     /* display, href */

/** GET /signin/link: "Sign in to link your <Display> account" with the
 *  link to /signin?rd=/account/link; without a pending link, 303 /signin. */
void identity_pages_signin_link(struct gh_req *r, const struct store_ops *ops,
                                struct store_conn *c);
/** GET /account/link (signed in): "Link <Display>?" with the provider's
 *  address and the "Link account" button; without a pending link, 303
 *  /account. A session older than GATEHOUSE_REAUTH_WINDOW gets the "Sign
 *  in to link" page instead (linking needs a fresh sign-in; POST: 403
 *  reauth_required, the same page). */
void identity_pages_link_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/link: federated_link for the signed-in account, the
 *  pending cookie expired; 303 /account?linked=1, or an error page (403
 *  when the provider did not verify the address or the identity is
 *  another account's). */
void identity_pages_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/identities/remove {provider, subject}: 303
 *  /account?unlinked=1, or the error page (409 last_sign_in_method). */
void identity_pages_remove(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** The account page's "Sign-in methods" section for r's account (has_pw:
 *  it has a password; verified: its address is proved, so emailed links
 *  sign in), into
 *  out (page_fill output, for the page's verbatim {{{methods}}}). */
enum gh_err identity_pages_section(struct gh_req *r, const struct store_ops *ops,
                                   struct store_conn *c, bool has_pw, bool verified,
                                   const char *csrf, struct page_buf *out) GH_WUR;

/** The account page's notice for ?linked=1 ("Your <Display> account is
 *  linked.", the newest identity's provider) or ?unlinked=1, into out;
 *  NULL when neither. */
const char *identity_pages_notice(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c, char *out, size_t cap);

/** Under GATEHOUSE_SIGNUP=closed: replies with the 403 signup_closed page
 *  and returns true (the sign-up page and form call it first). */
bool identity_pages_signup_closed(struct gh_req *r);

#endif
