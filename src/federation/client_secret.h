/* Apple's client secret: an ES256 JWT Gatehouse signs with the team's key
 * (the .p8 file, EC P-256, PKCS#8 PEM) through cjose, minted fresh for each
 * token request: header alg ES256, kid = the key id; claims iss = the team
 * id, sub = the client id, aud = the issuer (https://appleid.apple.com),
 * iat = now, exp = now + FED_CLIENT_SECRET_TTL. The key stays in
 * providers.c's table (heap, wiped at exit); this module only reads it. */
#ifndef GH_FEDERATION_CLIENT_SECRET_H
#define GH_FEDERATION_CLIENT_SECRET_H

#include <stdint.h>

#include "core/err.h"
#include "federation/providers.h"

#define FED_CLIENT_SECRET_TTL 300 /* seconds: the secret is used at once */

/** GH_OK when pem is a usable EC P-256 private key. */
enum gh_err fed_client_secret_check_key(const char *pem) GH_WUR;

/** Signs a client secret for p (Apple preset) at time now. *out is a heap
 *  string (a credential: gh_free_secret_str). GH_ERR_CONFIG when p has no
 *  usable key; GH_ERR_NOMEM/INTERNAL. */
enum gh_err fed_client_secret_make(const struct fed_provider *p, int64_t now, char **out) GH_WUR;

#endif
