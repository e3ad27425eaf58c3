/* Changing the account's email address, the identifier it signs in with
 * (POST /v1/email/change and /confirm, and the /account/email and
 * /email-change pages, which call the same functions).
 *
 * A request re-authenticates (ASVS: changing a sign-in identifier): the
 * current password under the sign-in defences (accounts/password_guard.h),
 * or, for an account without one (magic links only), a sign-in of this
 * session within GATEHOUSE_REAUTH_WINDOW, as enrolling a factor does. It
 * then stores a single-use link of purpose "email_change" that carries the
 * new address (magic_links.new_email, plain like every stored address:
 * decision 0033-email-email-change), mails the new address the link
 * <GATEHOUSE_PUBLIC_URL>/email-change?token=... and the old one a notice
 * without a link, naming the new address partly masked. Whether the new
 * address has an account is not looked at: the answer is the same
 * (decision 0014's spirit); the confirmation fails then, with email_taken.
 *
 * Confirming spends the link and changes users.email (marked verified: the
 * owner just proved it) in one transaction with the audit row, the end of
 * the old address's other links and a notice to the old address; the
 * account's sessions stay (decision 0033), and every process's auth cache
 * reads the user again (STORE_EV_USER_CHANGED), so X-Gatehouse-Email and
 * /v1/me show the new address at the next check.
 *
 * Worker threads only (the store, Argon2id). Nothing returned needs
 * freeing. */
#ifndef GH_ACCOUNTS_EMAIL_CHANGE_H
#define GH_ACCOUNTS_EMAIL_CHANGE_H

#include <stddef.h>

#include "core/err.h"
#include "http/server.h"
#include "store/store.h"

#define EMAIL_CHANGE_PURPOSE "email_change" /* magic_links.purpose */

enum email_change_outcome {
    EMAIL_CHANGE_NONE,          /* not set: a path that forgot answers 500 */
    EMAIL_CHANGE_SENT,          /* request: the link and the notice are queued (202) */
    EMAIL_CHANGE_PENDING,       /* peek: the link is good; email is the new address */
    EMAIL_CHANGE_DONE,          /* confirm: the address changed; user_id, email */
    EMAIL_CHANGE_REPLIED,       /* request: a budget or the lockout refused; r is answered */
    EMAIL_CHANGE_INVALID_EMAIL, /* request: new_email is not an address (422) */
    EMAIL_CHANGE_SAME,          /* request: it already is the account's address (422) */
    EMAIL_CHANGE_NO_PASSWORD,   /* request: the account has a password; none was sent (422) */
    EMAIL_CHANGE_BAD_PASSWORD,  /* request: wrong password (403 proof_failed; audited) */
    EMAIL_CHANGE_REAUTH,        /* request: no password, and the sign-in is too old (403) */
    EMAIL_CHANGE_GONE,          /* request: the account is gone (401) */
    EMAIL_CHANGE_NOT_VERIFIED,  /* request: the current address is not proved (403) */
    EMAIL_CHANGE_LINK_INVALID,  /* unknown, used, or of another purpose (401) */
    EMAIL_CHANGE_LINK_EXPIRED,  /* a real link, expired (401) */
    EMAIL_CHANGE_LINK_GONE,     /* its account is gone or changed address since (401) */
    EMAIL_CHANGE_TAKEN,         /* confirm: another account has the address (409); the
                                 * link is not spent and nothing changed */
};

struct email_change_result {
    enum email_change_outcome outcome;
    char user_id[STORE_ID_LEN + 1];  /* DONE */
    char email[STORE_EMAIL_MAX + 1]; /* PENDING, DONE: the new address */
};

/** The address partly masked for a notice: its first character (when a
 *  letter or digit, else "*"), "***", then "@" and the domain, so
 *  "nora@example.com" is "n***@example.com". Only characters safe in HTML
 *  and mail text. */
void email_change_mask(const char *email, char out[STORE_EMAIL_MAX + 8]);

/** POST /v1/email/change for r's signed-in account: new_email as typed,
 *  pw the current password (NULL when not sent). Checks, in order: the
 *  address, the account, the proof (password or recent sign-in), then the
 *  email budgets (email_account for the new address, email_ip), then
 *  writes the email.change_requested row, the link and both emails in one
 *  transaction. GH_OK with res->outcome, or a failure (nothing written).
 *  REPLIED: r holds the 429/503. The caller wipes pw. */
enum gh_err email_change_request(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c, const char *new_email, size_t email_len,
                                 const char *pw, size_t pw_len,
                                 struct email_change_result *res) GH_WUR;

/** Reads the link tok without spending it or writing anything (the
 *  /email-change landing page's GET): PENDING with res->email, or
 *  LINK_INVALID, LINK_EXPIRED, LINK_GONE. */
enum gh_err email_change_peek(const struct store_ops *ops, struct store_conn *c, const char *tok,
                              size_t tok_len, struct email_change_result *res) GH_WUR;

/** POST /v1/email/change/confirm: spends tok and changes the address.
 *  base: the request's audit fields (gh_audit_event; NULL when auditing is
 *  off). Outcomes DONE, LINK_INVALID, LINK_EXPIRED (both audited as
 *  email.change_failure), LINK_GONE, TAKEN (audited; nothing changes). */
enum gh_err email_change_confirm(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_audit *base, const char *tok, size_t tok_len,
                                 struct email_change_result *res) GH_WUR;

#endif
