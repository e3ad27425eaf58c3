/* The three calls of oidc.h: the authorization URL, the code exchange and
 * the native flow's verification. */
#include "federation/oidc.h"

#include <stdio.h>

/* Placeholder until the implementation lands: the provider is reported as
 * unreachable, so callers fail closed. */
enum gh_err fed_authorize_url(const struct fed_provider *p, const char *redirect_uri,
                              const char *state, const char *nonce, const char *code_challenge_s256,
                              char *out, size_t cap)
{
    if (cap) out[0] = '\0';
    return GH_ERR_BUSY;
}

enum gh_err fed_exchange_code(const struct fed_provider *p, const char *code, const char *verifier,
                              const char *redirect_uri, const char *nonce, struct fed_claims *out,
                              char *why, size_t whylen)
{
    snprintf(why, whylen, "not implemented");
    return GH_ERR_BUSY;
}

enum gh_err fed_verify_native(const struct fed_provider *p, const char *id_token, size_t len,
                              const char *nonce, struct fed_claims *out, char *why, size_t whylen)
{
    snprintf(why, whylen, "not implemented");
    return GH_ERR_BUSY;
}
