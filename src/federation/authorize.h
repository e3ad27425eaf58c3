/* The insides of oidc.h's three calls (authorize.c) that tests and fuzz
 * targets reach without a network: the token endpoint's answer, the
 * token request's form, and the verification step with its one JWKS
 * refresh on an unknown kid. Not for other modules: they call oidc.h. */
#ifndef GH_FEDERATION_AUTHORIZE_H
#define GH_FEDERATION_AUTHORIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "federation/id_token.h"
#include "federation/oidc.h"

#define FED_CODE_MAX 4096 /* an authorization code, bytes */

/** The token endpoint's answer (status, body): GH_OK with *id_token (heap,
 *  gh_free_secret_str); GH_ERR_DENIED with the provider's error code in
 *  why (400/401, or 200 without an id_token); GH_ERR_BUSY for any other
 *  status or a body that is not a JSON object. */
enum gh_err fed_token_response_parse(long status, const char *body, size_t len, char **id_token,
                                     char *why, size_t whylen) GH_WUR;

/** The token request for p: the form body (heap, gh_free_secret_str) and,
 *  for client_secret_basic, the encoded user and password (heap, NULL when
 *  the secret goes in the form or there is none). */
struct fed_token_form {
    char *form;
    char *user, *pass;
};
enum gh_err fed_token_form_make(const struct fed_provider *p, bool auth_post, const char *code,
                                const char *verifier, const char *redirect_uri, int64_t now,
                                struct fed_token_form *out) GH_WUR;
/** Wipes and frees what fed_token_form_make made. */
void fed_token_form_free(struct fed_token_form *f);

/** Verifies token with p's cached keys (fetched if needed); on an unknown
 *  kid asks for one refresh (discovery.h limits it) and tries again. */
enum gh_err fed_verify_with_keys(const struct fed_provider *p, const char *token, size_t len,
                                 const struct fed_verify *v, struct fed_claims *out, char *why,
                                 size_t whylen) GH_WUR;

#endif
