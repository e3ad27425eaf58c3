/* HTTP handlers of Gatehouse's pages (route flag R_PAGE: the page CSP,
 * form bodies, the CSRF token from the form's "csrf" field), and the HTML
 * form of an error reply on a page route. The pages themselves are in
 * pages.c; the logic they call is the API's (mfa/stepup.h,
 * sessions/sessions.h sessions_signout), so a page does exactly what its
 * JSON twin does. */
#ifndef GH_PAGES_PAGES_HTTP_H
#define GH_PAGES_PAGES_HTTP_H

#include "http/server.h"

/** GET /assets/gatehouse.css (on the loop, cacheable). */
void pages_http_stylesheet(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /assets/logo: GATEHOUSE_BRAND_LOGO's bytes (image/png or
 *  image/svg+xml; cacheable; the asset CSP, so an SVG opened directly runs
 *  no script); 404 when no logo is configured. */
void pages_http_logo(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /denied?rd=: "You don't have access" (403), the page a proxy shows
 *  when the gate refuses a signed-in person; "Go back" to the checked rd,
 *  and sign in with another account (/signout?rd=). */
void pages_http_denied(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /step-up?rd=: the form asking for the code again. */
void pages_http_step_up_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /step-up (code, csrf, rd): 303 to rd (or /step-up/done); a wrong
 *  code shows the form again with the error (422). */
void pages_http_step_up(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /step-up/done: "Confirmed" (no session needed: static). */
void pages_http_stepped_up(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /signout?rd=: the confirmation page (one button). */
void pages_http_signout_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /signout (csrf, rd): signs out like POST /v1/signout, clears the
 *  cookies, 303 to rd (or /signout/done). */
void pages_http_signout(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /signout/done: "You are signed out" (static). */
void pages_http_signed_out(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** For a request no route matched: a route that makes its 404 a page
 *  ("Page not found"), when it looks like a person's browser asking for a
 *  page (GET, Accept naming text/html, not under /v1/ or /.well-known/);
 *  NULL (the API's JSON 404) otherwise. The route is logged as
 *  "unmatched" and has no handler. Pure. */
const struct gh_route *pages_not_found_route(int method, const char *path, const char *accept);

/** Called by http_finish for a JSON error reply on an R_PAGE route: turns
 *  it into an HTML page with the same status and error code (for the log),
 *  keeping its other headers (Retry-After, cookies). Leaves the JSON reply
 *  when the page cannot be built. Any thread. */
void pages_http_error(struct gh_req *r);

#endif
