/* The form token of the pages used before sign-in (sign-in, sign-up,
 * magic-link request, link landings, forgot/reset password): a signed,
 * short-lived double-submit cookie (docs/decisions/0030-forms-form-token.md,
 * extending decision 0011 to pages that have no session to bind a CSRF
 * token to; what it stops is login CSRF).
 *
 * The cookie `__Host-gh_form` (`gh_form` with insecure development
 * cookies; never with a Domain) is HttpOnly, SameSite=Lax, Path=/ and lives
 * PAGES_FORM_TTL_S. Its value is base64url(expiry || nonce || MAC) with
 * expiry 8 bytes big-endian Unix seconds, nonce 16 CSPRNG bytes and MAC
 * HMAC-SHA256(cookie key, "gatehouse form cookie v1\0" || expiry || nonce).
 * The form's hidden `csrf` field is base64url(HMAC-SHA256(field key,
 * "gatehouse form field v1\0" || nonce)). Both keys come from the master
 * key (vault_derive) under their own labels, so the field is worthless
 * without its cookie, a cookie is worthless without a field made from it,
 * and neither can be forged without the master key. Nothing is stored.
 *
 * A POST on a route with R_FORM (http/server.h) is refused by the HTTP
 * layer with 403 csrf_failed unless the cookie is valid and unexpired, the
 * field matches it (constant time) and Origin / Sec-Fetch-Site are ours
 * (as for a cookie session); the handler never sees the field.
 *
 * The pure functions (pages_form_cookie_*, pages_form_field_of,
 * pages_form_check) take their keys as arguments for the unit tests and
 * the fuzzer; the rest use the keys pages_form_token_init derived. */
#ifndef GH_PAGES_FORM_TOKEN_H
#define GH_PAGES_FORM_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PAGES_FORM_TOKEN_LEN 43  /* the field: base64url of a 32-byte MAC */
#define PAGES_FORM_COOKIE_LEN 75 /* the cookie: base64url of 8 + 16 + 32 bytes */
#define PAGES_FORM_NONCE_BYTES 16
#define PAGES_FORM_KEYBYTES 32
#define PAGES_FORM_TTL_S 7200 /* the cookie's life */
/* A GET page reuses the browser's cookie only while it has at least this
 * long to live, so a form shown now can still be sent after some thought. */
#define PAGES_FORM_REUSE_MIN_S 1800

struct gh_req;

/** The two keys, cookie MAC and field MAC. */
struct pages_form_keys {
    uint8_t cookie[PAGES_FORM_KEYBYTES];
    uint8_t field[PAGES_FORM_KEYBYTES];
};

/** Why a form token was refused (or PAGES_FORM_OK). */
enum pages_form_result {
    PAGES_FORM_OK = 0,
    PAGES_FORM_NO_COOKIE,  /* absent or not shaped like one */
    PAGES_FORM_BAD_COOKIE, /* its MAC is wrong (forged, tampered, other key) */
    PAGES_FORM_EXPIRED,    /* signed by us, past its expiry */
    PAGES_FORM_BAD_FIELD,  /* the field is absent or not the one of this cookie */
};

/** Derives the keys from the master key (vault_derive: call after the
 *  vault is loaded) into guarded read-only memory. GH_ERR_NOMEM or
 *  GH_ERR_INTERNAL with err saying why. */
enum gh_err pages_form_token_init(char *err, size_t errlen) GH_WUR;
/** Wipes and frees the keys. */
void pages_form_token_shutdown(void);

/** The cookie's name: "__Host-gh_form", or "gh_form" when cookies are not
 *  Secure (insecure development cookies). Static. */
const char *pages_form_cookie_name(void);

/** Pure: a cookie value expiring at expiry for nonce, into out. false
 *  only if libcrypto fails (out ""). */
bool pages_form_cookie_make(const struct pages_form_keys *k, int64_t expiry,
                            const uint8_t nonce[PAGES_FORM_NONCE_BYTES],
                            char out[PAGES_FORM_COOKIE_LEN + 1]);
/** Pure: checks a cookie value (len bytes, NUL not needed) at time now;
 *  PAGES_FORM_OK with its nonce and expiry written (either pointer may be
 *  NULL), or why not (outputs zeroed). */
enum pages_form_result pages_form_cookie_open(const struct pages_form_keys *k, const char *val,
                                              size_t len, int64_t now,
                                              uint8_t nonce[PAGES_FORM_NONCE_BYTES],
                                              int64_t *expiry);
/** Pure: the field value of nonce. false only if libcrypto fails. */
bool pages_form_field_of(const struct pages_form_keys *k,
                         const uint8_t nonce[PAGES_FORM_NONCE_BYTES],
                         char out[PAGES_FORM_TOKEN_LEN + 1]);
/** Pure: the whole check of a cookie and a field (either may be NULL),
 *  compared in constant time. */
enum pages_form_result pages_form_check(const struct pages_form_keys *k, const char *cookie,
                                        size_t cookie_len, const char *field, size_t field_len,
                                        int64_t now);

/** For a GET page with a form: reuses r's form cookie (r->form_cookie, as
 *  sent) when it is valid for PAGES_FORM_REUSE_MIN_S more, else sets a new
 *  one on r's reply (Set-Cookie); writes the value of the hidden `csrf`
 *  field into out. false: the reply is already set (500). */
bool pages_form_token(struct gh_req *r, char out[PAGES_FORM_TOKEN_LEN + 1]);

/** The check of a POST on an R_FORM route, for the HTTP layer: r's form
 *  cookie against its `csrf` field (r->csrf) with the keys of
 *  pages_form_token_init. */
enum pages_form_result pages_form_request_check(const struct gh_req *r);

#endif
