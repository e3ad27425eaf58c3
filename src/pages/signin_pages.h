/* The pages that sign a person in or up (issue 12): /signin (password,
 * and the form asking for a magic link), the second-factor step
 * /signin/mfa, /signup, and their "check your email" pages. Each POST
 * calls the logic of its JSON twin (accounts/signin.h signin_password and
 * signin_mfa, accounts/signup.h signup_password, the magic-link request of
 * POST /v1/magic-link), on a route with the twin's budget, in cookie mode,
 * and answers 303. Their forms carry the pre-session form token
 * (pages/form_token.h, route flag R_FORM), and `rd` checked at every step.
 *
 * The mfa_token of a sign-in waiting for its second factor never appears
 * in a page: it travels in the HttpOnly cookie `__Host-gh_mfa` (`gh_mfa`
 * with insecure development cookies), set for MFA_CHALLENGE_TTL and
 * expired when used or refused. The HTTP layer reads it into
 * r->mfa_cookie on page routes.
 *
 * GET /signin does not read the session cookie (no R_AUTH): a person who
 * is signed in already sees the form, and signing in again ends the
 * session the browser held (R_SIGNIN, signin_end_presented). Templates
 * are in signin_templates.c. Handlers of R_PAGE routes; any thread. */
#ifndef GH_PAGES_SIGNIN_PAGES_H
#define GH_PAGES_SIGNIN_PAGES_H

#include "accounts/accounts.h"
#include "http/server.h"

/* The body templates (variables in each comment; pages.h adds the layout's). */
extern const char PAGES_SIGN_IN[];         /* notice, error, email, csrf, rd, rdq, magic_error,
                                            * providers */
extern const char PAGES_SIGN_IN_MFA[];     /* error, csrf, rd, rdq */
extern const char PAGES_SIGN_UP[];         /* email_error, taken, password_error, email, csrf, rd,
                                            * rdq, providers */
extern const char PAGES_CHECK_EMAIL[];     /* message, back */
extern const char PAGES_PROVIDER_BUTTON[]; /* href, display: one row of {{{providers}}} */

/** The name of the cookie holding a sign-in's mfa_token: "__Host-gh_mfa",
 *  or "gh_mfa" when cookies are not Secure. Static. */
const char *pages_mfa_cookie_name(void);

/** The page reply of a sign-in that got through its first step, shared by
 *  every page that signs in (the password form, a provider's callback):
 *  SIGNED_IN: the session cookie and 303 to rd (checked) or /account
 *  (/account/totp for a session restricted to enrolling a factor);
 *  MFA_REQUIRED: the mfa cookie and 303 /signin/mfa?rd=. false, nothing
 *  set, for any other outcome. */
bool signin_pages_signed_in(struct gh_req *r, const struct accounts_result *res, const char *rd);

/** GET /signin?rd=&reset=done: the sign-in page (password form, the
 *  magic-link form, provider buttons). */
void signin_pages_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /signin (email, password, rd): signin_password in cookie mode;
 *  303 to rd or /account (/account/totp for a session restricted to
 *  enrolling a factor), or to /signin/mfa with the mfa cookie set. */
void signin_pages_signin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /signin/mfa?rd=: the code form (303 /signin without the mfa
 *  cookie). */
void signin_pages_mfa_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /signin/mfa (code, rd): signin_mfa with the cookie's mfa_token. */
void signin_pages_mfa(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /signin/magic-link (email): queues a sign-in link as POST
 *  /v1/magic-link does; 303 /signin/check-email whatever the address. */
void signin_pages_magic_link(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /signin/check-email: "Check your email" (static). */
void signin_pages_check_email(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /signup?rd=: the sign-up form. */
void signin_pages_signup_form(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /signup (email, password, rd): signup_password in cookie mode;
 *  303 to rd or /account, or /signup/check-email when the address must be
 *  confirmed first. */
void signin_pages_signup(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** GET /signup/check-email: "Check your email" (static). */
void signin_pages_signup_check_email(struct gh_req *r, const struct store_ops *ops,
                                     struct store_conn *c);

#endif
