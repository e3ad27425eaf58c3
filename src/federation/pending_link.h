/* The pending link of a federated sign-in (LINK_REQUIRED, federated.h):
 * the provider and the claims it vouched for, kept in the browser for ten
 * minutes so that the person can sign in to their account and then link
 * the identity (/signin/link, /account/link). A sealed (vault_seal, bound
 * to a pseudo row "pending_link"), HttpOnly, SameSite=Lax cookie
 * `__Host-gh_link` (`gh_link` with insecure development cookies), the
 * expiry inside the sealed value: an altered, moved, expired or foreign
 * cookie reads as none. The sealed text is base64url-encoded again (the
 * vault's dots are not cookie characters).
 *
 * http/credentials.c reads the cookie into r->link_cookie on page routes;
 * these functions run on workers (the vault), any thread. Nothing returned
 * needs freeing; the claims hold an address: callers wipe them. */
#ifndef GH_FEDERATION_PENDING_LINK_H
#define GH_FEDERATION_PENDING_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "federation/oidc.h"
#include "federation/providers.h"
#include "http/server.h"

#define FED_PENDING_TTL 600

/** "__Host-gh_link", or "gh_link" when cookies are not Secure. */
const char *fed_pending_cookie_name(void);

/** Sets the cookie on r's reply: provider and cl (sub, email,
 *  email_verified, name, mfa), expiring in FED_PENDING_TTL. false: the
 *  reply is already set (500). */
bool fed_pending_set(struct gh_req *r, const char *provider, const struct fed_claims *cl);

/** The pending link r's cookie holds. false: none, expired or altered. */
bool fed_pending_get(struct gh_req *r, char provider[FED_NAME_MAX + 1], struct fed_claims *out);

/** Expires the cookie on r's reply (after the link is made). false: the
 *  reply is already set (500). */
bool fed_pending_clear(struct gh_req *r);

/** The cookie's value for (provider, cl) expiring at expires_at, into out
 *  (cap bytes). GH_ERR_INVALID when it does not fit. */
enum gh_err fed_pending_encode(const char *provider, const struct fed_claims *cl,
                               int64_t expires_at, char *out, size_t cap) GH_WUR;

/** Opens a cookie value made by fed_pending_encode; false unless it is
 *  intact, well formed and live at now. */
bool fed_pending_decode(const char *value, int64_t now, char provider[FED_NAME_MAX + 1],
                        struct fed_claims *out);

/** Parses the opened plaintext (JSON); exposed for the fuzz target. false
 *  unless well formed and live at now. */
bool fed_pending_parse(const uint8_t *pt, size_t len, int64_t now, char provider[FED_NAME_MAX + 1],
                       struct fed_claims *out);

#endif
