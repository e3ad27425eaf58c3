/* The OAuth state cookie of a browser sign-in with a provider
 * (docs/decisions/0036-oidc-flow-state-cookie-and-lanes.md): what
 * GET /v1/oauth/{provider}/start must remember until the provider sends
 * the browser back to the callback, kept in the browser that started it
 * and nowhere else.
 *
 * The cookie `__Host-gh_oauth` (`gh_oauth` with insecure development
 * cookies) is HttpOnly, Path=/, lives STATE_COOKIE_TTL_S, SameSite=Lax, or
 * SameSite=None; Secure for a provider that answers with form_post (Apple's
 * callback is a cross-site POST a Lax cookie does not go with). Its value
 * is the vault's AES-256-GCM seal (vault_seal, bound to the table "cookie",
 * the column "gh_oauth" and the provider's name, so a cookie made for one
 * provider does not open at another's callback) of the plain form below,
 * written with only [A-Za-z0-9_-]: the key id (8), the GCM nonce (16) and
 * the ciphertext, all base64url, without the vault's dots.
 *
 * The plain form (state_cookie_encode / state_cookie_parse, fuzzed by
 * fuzz_state_cookie): "gho1", the expiry (8 bytes big-endian Unix seconds),
 * flags (1 byte: bit 0 link), state, nonce and PKCE verifier (43 characters
 * of base64url each, 32 CSPRNG bytes), then provider, user id and rd each
 * preceded by its length (1, 1 and 2 bytes big-endian). Nothing is stored
 * on the server: the callback compares the `state` it is sent with the
 * cookie's in constant time and the cookie is expired by the callback's
 * reply whatever the outcome, so one cookie serves one callback; a state
 * sent to another browser does not match that browser's cookie (or finds
 * none).
 *
 * Who frees what: struct state_cookie is plain memory holding secrets:
 * state_cookie_wipe it. state_cookie_seal writes into the caller's buffer.
 * Pure except state_cookie_new (random), _seal and _open (the vault). */
#ifndef GH_FEDERATION_STATE_COOKIE_H
#define GH_FEDERATION_STATE_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define STATE_COOKIE_TTL_S 600
#define STATE_COOKIE_PROVIDER_MAX 32 /* FED_NAME_MAX */
#define STATE_COOKIE_RD_MAX 512      /* a longer checked rd is not kept: /account instead */
#define STATE_COOKIE_RANDOM_LEN 43   /* base64url of 32 CSPRNG bytes */
#define STATE_COOKIE_PLAIN_MAX                                                                     \
    (4 + 8 + 1 + 3 * STATE_COOKIE_RANDOM_LEN + 1 + STATE_COOKIE_PROVIDER_MAX + 1 + STORE_ID_LEN +  \
     2 + STATE_COOKIE_RD_MAX)
/* key id 8 + GCM nonce 16 + base64url(plain + 16-byte tag) */
#define STATE_COOKIE_VALUE_MAX (8 + 16 + ((STATE_COOKIE_PLAIN_MAX + 16) * 4 + 2) / 3)

struct state_cookie {
    char state[STATE_COOKIE_RANDOM_LEN + 1];
    char nonce[STATE_COOKIE_RANDOM_LEN + 1];
    char verifier[STATE_COOKIE_RANDOM_LEN + 1]; /* PKCE code_verifier (RFC 7636) */
    char provider[STATE_COOKIE_PROVIDER_MAX + 1];
    char user_id[STORE_ID_LEN + 1];   /* link: the account signed in at start; else "" */
    char rd[STATE_COOKIE_RD_MAX + 1]; /* the checked return URL; "" for none */
    bool link;
    int64_t expires_at;
};

/** The cookie's name: "__Host-gh_oauth", or "gh_oauth" with insecure
 *  development cookies (cookie_secure()). Static. */
const char *state_cookie_name(void);

/** Fills sc for a new sign-in with provider (1..STATE_COOKIE_PROVIDER_MAX of
 *  [a-z0-9_]): fresh state, nonce and verifier, expiry now + TTL. rd: the
 *  checked return URL or NULL/"" (one longer than STATE_COOKIE_RD_MAX is
 *  dropped); link_user_id: the signed-in account to link to, or NULL.
 *  GH_ERR_INVALID for a bad provider or user id (sc wiped). */
enum gh_err state_cookie_new(struct state_cookie *sc, const char *provider, const char *rd,
                             const char *link_user_id, int64_t now) GH_WUR;

/** The PKCE S256 code_challenge of sc's verifier: base64url(SHA-256). */
enum gh_err state_cookie_challenge(const struct state_cookie *sc,
                                   char out[STATE_COOKIE_RANDOM_LEN + 1]) GH_WUR;

/** sc's plain form into out (cap >= STATE_COOKIE_PLAIN_MAX); *len its
 *  length. GH_ERR_INVALID when a field is out of shape. Pure. */
enum gh_err state_cookie_encode(const struct state_cookie *sc, uint8_t *out, size_t cap,
                                size_t *len) GH_WUR;

/** Reads a plain form into out. GH_ERR_INVALID (out wiped) for anything
 *  not exactly as state_cookie_encode writes it: magic, lengths, character
 *  sets, link flag without a user id or the reverse, trailing bytes. Does
 *  not look at the expiry. Pure. */
enum gh_err state_cookie_parse(const uint8_t *in, size_t len, struct state_cookie *out) GH_WUR;

/** Turns a cookie value into the vault's sealed form "v1.<kid>.<nonce>.<ct>"
 *  (cap > len + 3). false when it is not shaped like one (length, characters).
 *  Pure. */
bool state_cookie_unwrap(const char *value, size_t len, char *out, size_t cap);

/** Seals sc into the cookie value (out: STATE_COOKIE_VALUE_MAX + 1 bytes).
 *  GH_ERR_INVALID when sc is out of shape; GH_ERR_INTERNAL when the vault
 *  cannot seal. */
enum gh_err state_cookie_seal(const struct state_cookie *sc,
                              char out[STATE_COOKIE_VALUE_MAX + 1]) GH_WUR;

/** Opens the cookie value for provider's callback into out. GH_ERR_DENIED
 *  when absent, altered, sealed for another provider, of an unknown key or
 *  expired (now >= expires_at); out is wiped on any failure. */
enum gh_err state_cookie_open(const char *value, size_t len, const char *provider, int64_t now,
                              struct state_cookie *out) GH_WUR;

/** Whether state (len bytes, as the callback was sent it) is sc's, in
 *  constant time; NULL or a length mismatch is false. */
bool state_cookie_state_ok(const struct state_cookie *sc, const char *state, size_t len);

/** Wipes sc. */
void state_cookie_wipe(struct state_cookie *sc);

#endif
