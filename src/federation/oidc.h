/* The OpenID Connect relying party: authorization URLs, the code exchange
 * and ID token verification for the providers in providers.h.
 *
 * THREADS: every function here may do network I/O (libcurl, bounded by
 * connect and total timeouts): call them on worker threads only, never on
 * an event loop. They are thread-safe (the metadata cache has its own
 * mutex). curl_global_init is done once at start (mail.c).
 *
 * Results: GH_OK; GH_ERR_DENIED when the provider refused or a token failed
 * a check (why: a short reason for the log, never a secret or a token);
 * GH_ERR_BUSY when the provider cannot be reached, is too slow or answers
 * garbage or too much (the caller answers 502 provider_unavailable);
 * GH_ERR_INVALID for arguments that do not fit; GH_ERR_NOMEM/INTERNAL.
 * The implementation is split by what it owns: fetch.c (HTTP), discovery.c
 * (discovery document + JWKS cache), id_token.c (verification),
 * client_secret.c (Apple's JWT), authorize.c (these three functions). */
#ifndef GH_FEDERATION_OIDC_H
#define GH_FEDERATION_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "federation/providers.h"
#include "store/store.h"

#ifndef STORE_SUBJECT_MAX
#define STORE_SUBJECT_MAX 255 /* the provider's `sub` (store.h, identities) */
#endif

/* oidc.h: every function here may do network I/O: worker threads only. */
struct fed_claims {
    char sub[STORE_SUBJECT_MAX + 1];
    char email[STORE_EMAIL_MAX + 1]; /* "" when the provider gave none */
    bool email_verified;             /* true only for JSON true (or Apple's "true") */
    char name[128];                  /* "" when none */
    bool mfa;                        /* amr names a second factor ("mfa","otp","hwk","swk"...) */
    int64_t iat;
};

/** The provider's authorization URL for a browser (fetches discovery if needed).
 *  GH_ERR_UNAVAILABLE-like failures are GH_ERR_BUSY: the provider cannot be reached.
 *  state and nonce are base64url of 16..256 characters, code_challenge_s256
 *  the 43 characters of a SHA-256; redirect_uri printable ASCII up to 1024.
 *  out (cap bytes) gets the whole URL; GH_ERR_INVALID for arguments that
 *  do not fit these or a URL longer than cap. */
enum gh_err fed_authorize_url(const struct fed_provider *p, const char *redirect_uri,
                              const char *state, const char *nonce, const char *code_challenge_s256,
                              char *out, size_t cap) GH_WUR;

/** Redeems code at the token endpoint (PKCE verifier, client authentication, Apple's
 *  JWT client secret), then verifies the ID token for the web client: aud = client_id
 *  (azp checked with several audiences), nonce must equal `nonce` (constant time).
 *  GH_ERR_DENIED: the provider refused or the token failed a check (why: a short
 *  reason for the log, never a secret); GH_ERR_BUSY: unreachable/timeout/too large.
 *  out is zeroed first and filled only on GH_OK. */
enum gh_err fed_exchange_code(const struct fed_provider *p, const char *code, const char *verifier,
                              const char *redirect_uri, const char *nonce, struct fed_claims *out,
                              char *why, size_t whylen) GH_WUR;

/** The native-app flow: verifies an ID token the app obtained, aud one of
 *  native_client_ids, nonce claim equal to `nonce` or to the lower-case hex SHA-256 of
 *  it (Apple's native SDKs hash it). Same results as above. */
enum gh_err fed_verify_native(const struct fed_provider *p, const char *id_token, size_t len,
                              const char *nonce, struct fed_claims *out, char *why,
                              size_t whylen) GH_WUR;

#endif
