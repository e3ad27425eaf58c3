/* The emailed links: sign in (magic link), reset the password, confirm the
 * address. Their texts (built in, or the operator's templates from
 * GATEHOUSE_TEMPLATE_DIR), the URL under GATEHOUSE_PUBLIC_URL
 * (/magic-link, /reset-password, /verify-email, ?token=...), the link row
 * (only its SHA-256 is stored) and queueing the email (mail_enqueue). All
 * of it runs in the background on a POOL_DB worker, so a request takes the
 * same time whether or not the account exists. */
#ifndef GH_ACCOUNTS_LINK_MAIL_H
#define GH_ACCOUNTS_LINK_MAIL_H

/* The link's purpose is also its magic_links.purpose: "signin", "reset",
 * "verify". */
enum link_kind { LINK_SIGNIN, LINK_RESET, LINK_VERIFY };

/** Queues the job that creates a link of kind for the address (email as
 *  typed, normalised; key its lookup key, accounts/email.h) and mails it.
 *  Nothing is sent for an unknown address, except a sign-in link when
 *  GATEHOUSE_MAGIC_LINK_SIGNUP is on. Never fails the caller: a full
 *  queue drops the job (logged), a store or mail failure is logged.
 *  Copies its arguments. */
void link_mail_queue(const char *email, const char *key, enum link_kind kind);

#endif
