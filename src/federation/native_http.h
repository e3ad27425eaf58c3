/* Sign-in with a provider from a native app (issue 13; docs/api.md
 * "Sign-in with a provider"): the app gets an ID token from the platform
 * (Sign in with Apple, Google on the phone) for a nonce Gatehouse issued,
 * and trades it for a session like POST /v1/signin.
 *
 *   POST /v1/oauth/{provider}/nonce   201 {"nonce", "expires_in": 600}
 *   POST /v1/oauth/{provider}/token   {"id_token", "nonce", "mode"?}
 *
 * A nonce is 32 CSPRNG bytes (base64url), stored only as its SHA-256 with
 * the provider and an expiry (store oauth_nonces), spent by the token
 * route before the ID token is verified, whatever the verification says:
 * one nonce, one attempt. The ID token must name it (or its hex SHA-256,
 * as Apple's native SDKs send) and be for one of the provider's
 * _NATIVE_CLIENT_IDS (fed_verify_native). Only providers with native
 * client ids answer; any other name is 404. Both routes are on the
 * GUARD_OAUTH budget; the token route runs on the network lane. */
#ifndef GH_FEDERATION_NATIVE_HTTP_H
#define GH_FEDERATION_NATIVE_HTTP_H

#include "http/server.h"

#define NATIVE_NONCE_TTL_S 600
#define NATIVE_ID_TOKEN_MAX 8192 /* an ID token longer than this is refused unread */

void native_http_nonce(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void native_http_token(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
