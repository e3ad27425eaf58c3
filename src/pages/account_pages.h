/* The signed-in account page (GET /account), its password form (POST
 * /account/password) and the confirmation email button (POST
 * /account/resend-confirmation), plus what the account, factor and
 * sessions pages share to call their JSON twin.
 *
 * A page does what its JSON twin does by calling the twin's own logic on
 * the same request: password_change (POST /v1/password),
 * accounts_http_email_resend (POST /v1/email/verify/resend), the mfa_http
 * handlers, sessions_http_list and _revoke. Their reply (a JSON body or
 * error) is then read and replaced by a page: a 303, the form again with
 * the error next to its field, or, left as it is, an error that
 * pages_http_error turns into an error page (decision 0032). The
 * routes are R_AUTH | R_PAGE (R_BODY on POSTs, R_HASH where a password is
 * checked); the http layer checked the session, its CSRF field and Origin.
 * Handlers run on workers; templates are static text. */
#ifndef GH_PAGES_ACCOUNT_PAGES_H
#define GH_PAGES_ACCOUNT_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

/* Body templates (the layout adds title, brand, base, wide). */
extern const char ACCOUNT_PAGE[]; /* email, verified, notice, csrf, pw_error, cur_bad, new_bad,
                                   * mfa_on, codes_error, remove_error, has_pw,
                                   * methods (identity_pages.h) */

/** GET /account: the email (confirmed or not, with the resend button),
 *  password, email, two-step verification and sessions sections. A
 *  notice chosen by a fixed query key (?verified=1, ?password=changed,
 *  ?email=changed, ?email=sent, ?confirmation=sent, ?totp=off); the query's
 *  text is never shown. A session restricted to enrolling a factor is
 *  sent to /account/totp. */
void account_pages_show(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/password {current_password, new_password}: 303
 *  /account?password=changed; the form again on a wrong (403
 *  proof_failed) or weak (422 weak_password) password. */
void account_pages_password(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/resend-confirmation: a new confirmation link (the email
 *  budgets); 303 /account?confirmation=sent. */
void account_pages_resend(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** What the /account page shows besides the account itself: a notice, or
 *  an error at one of its forms (NULL: none). Borrowed. */
struct account_view {
    const char *notice;
    const char *pw_error;     /* the password form */
    bool cur_bad, new_bad;    /* which password field it is about */
    const char *codes_error;  /* "Get new backup codes" */
    const char *remove_error; /* "Turn off two-step verification" */
};

/** Replies with the /account page in status, showing v. */
void account_pages_render(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                          int status, const struct account_view *v);

/** Drops the form fields sent empty from r's body, so that the twin reads
 *  an empty field as absent (a blank optional password is no proof to
 *  check and count). */
void account_pages_blank_fields(struct gh_req *r);

/** The message of r's JSON error reply into out ("" when none). Copy it
 *  before replying again: the reply owns it. */
void account_pages_error_message(const struct gh_req *r, char *out, size_t cap);

/** True when r's reply is the error whose code is code. */
bool account_pages_is_error(const struct gh_req *r, const char *code);

/** Wipes the strings of r's JSON reply (secrets: a TOTP key, backup codes)
 *  and drops it, before a page replaces it. */
void account_pages_wipe_reply(struct gh_req *r);

#endif
