/* Reading an emailed link without spending it: what the page at the link
 * (pages/link_pages.c, GET /magic-link, /reset-password, /verify-email)
 * shows before the person presses its one button. Only that button's POST
 * spends the link (accounts/links.h), so a mail scanner that opens the link
 * spends nothing and signs nobody in.
 *
 * A peek writes nothing: no spending, no audit row (a scanner opening a
 * stale link is not a failed attempt; the POST audits its refusals). It
 * answers what the POST would answer for the same link at the same time,
 * short of the password policy: unknown, used, of another purpose, or
 * whose account is gone (a sign-in link with GATEHOUSE_MAGIC_LINK_SIGNUP
 * on makes one) reads LINK_PEEK_INVALID; expired LINK_PEEK_EXPIRED.
 * Worker threads (it reads the store). */
#ifndef GH_ACCOUNTS_LINK_PEEK_H
#define GH_ACCOUNTS_LINK_PEEK_H

#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

enum link_peek_outcome {
    LINK_PEEK_OK,      /* the link would work: email is the address it was sent to */
    LINK_PEEK_INVALID, /* unknown, malformed, used, another purpose, or its account gone */
    LINK_PEEK_EXPIRED, /* real and unused, past its expiry */
};

/** Reads the link tok (tok_len bytes, any bytes: a made-up value reads
 *  LINK_PEEK_INVALID without a store call) for purpose ("signin", "reset"
 *  or "verify"). GH_OK with *out (and email, "" unless LINK_PEEK_OK); a
 *  store failure otherwise (*out LINK_PEEK_INVALID, never OK). Writes
 *  nothing to the store. */
enum gh_err link_peek(const struct store_ops *ops, struct store_conn *c, const char *tok,
                      size_t tok_len, const char *purpose, enum link_peek_outcome *out,
                      char email[STORE_EMAIL_MAX + 1]) GH_WUR;

#endif
