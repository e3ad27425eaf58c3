/* The browser's sign-in with an identity provider (issue 13; docs/api.md
 * "Sign-in with a provider"; decision 0036): the authorization
 * code flow with PKCE (S256), state and nonce bound to the browser by the
 * sealed state cookie (federation/state_cookie.h).
 *
 *   GET /v1/oauth/{provider}/start?rd=[&link=1]   303 to the provider
 *   GET /v1/oauth/{provider}/callback?code&state  (query response mode)
 *   POST /v1/oauth/{provider}/callback            (form_post: Apple)
 *
 * The redirect URI registered at the provider is
 * <GATEHOUSE_PUBLIC_URL>/v1/oauth/<name>/callback (oauth_redirect_uri).
 * The callback always expires the state cookie, so a state serves one
 * callback; it signs in through federated_signin (or links through
 * federated_link when the start had link=1) in cookie mode and answers
 * like the password sign-in page: 303 to the checked rd or /account, to
 * /signin/mfa with the mfa cookie, or to /signin/link with the pending-link
 * cookie; a refusal is a page ("Sign-in with <Display> didn't work"),
 * audited as signin.failure with the provider and a reason.
 *
 * The form_post callback is a cross-site POST with no same-site Origin:
 * its route has no R_FORM (no form token, no Origin check); the state,
 * compared with this browser's sealed cookie, is its CSRF defence.
 * Handlers of R_PAGE | R_NET routes (a worker of the network lane). */
#ifndef GH_FEDERATION_OAUTH_HTTP_H
#define GH_FEDERATION_OAUTH_HTTP_H

#include <stddef.h>

#include "federation/providers.h"
#include "gate/redirect.h"
#include "http/server.h"

/** <GATEHOUSE_PUBLIC_URL>/v1/oauth/<p->name>/callback into out. */
void oauth_redirect_uri(const struct fed_provider *p, char out[REDIRECT_OUT_MAX]);

void oauth_http_start(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void oauth_http_callback(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
