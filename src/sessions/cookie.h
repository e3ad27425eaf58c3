/* Browser cookie mode: the session cookie, the CSRF token bound to its
 * session, and the Origin / Sec-Fetch-Site check (docs/api.md, "Cookie
 * mode"; docs/decisions/0011-cookie-sessions.md).
 *
 * The session cookie holds an opaque session token: a refresh token of a
 * session started in mode "cookie" (256 CSPRNG bits, stored only as
 * SHA-256, rotated like refresh tokens). The CSRF token is
 * HMAC-SHA256(key, "gatehouse csrf v1\0" || session id) under a key derived
 * from the master key, so it needs no storage, survives rotation of the
 * session token, and one session's token is worthless for another.
 *
 * The parsing and checking functions (cookie_find, cookie_origin_of,
 * cookie_origin_acceptable) are pure, for the unit tests and the fuzzer. */
#ifndef GH_SESSIONS_COOKIE_H
#define GH_SESSIONS_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define COOKIE_CSRF_LEN 43     /* base64url of 32 bytes */
#define COOKIE_ORIGIN_MAX 300  /* scheme://host[:port] */
#define COOKIE_HEADER_MAX 1600 /* one Set-Cookie value (a sealed pending link: 1400) */

/** Derives the CSRF key (vault_derive: call after the vault is loaded) and
 *  works out the cookie configuration from GATEHOUSE_PUBLIC_URL and
 *  GATEHOUSE_INSECURE_DEV_COOKIES. GH_ERR_CONFIG (err says why) for
 *  insecure dev cookies with a public URL that is https or not loopback. */
enum gh_err cookie_init(char *err, size_t errlen) GH_WUR;
void cookie_shutdown(void);

/** Cookie mode can be used: the public URL is https (Secure, __Host-), or
 *  insecure development cookies were asked for on a loopback http URL. */
bool cookie_available(void);
/** Cookies carry Secure and the __Host- prefix. */
bool cookie_secure(void);
/** The names cookies are set under: "__Host-gh_session" /
 *  "__Host-gh_csrf"; with GATEHOUSE_COOKIE_DOMAIN "__Secure-gh_session" /
 *  "__Secure-gh_csrf" (sent with Domain=, so every host under the domain
 *  gets them); "gh_session" / "gh_csrf" with insecure development cookies. */
const char *cookie_session_name(void);
const char *cookie_csrf_name(void);
/** With GATEHOUSE_COOKIE_DOMAIN (and Secure cookies): the names of before
 *  it, "__Host-gh_session" / "__Host-gh_csrf", which a browser may still
 *  hold: the session cookie is read under it when the new name is absent,
 *  and both are expired whenever a cookie is set or cleared. NULL
 *  otherwise. */
const char *cookie_legacy_session_name(void);
const char *cookie_legacy_csrf_name(void);
/** The origin of GATEHOUSE_PUBLIC_URL ("" if it has none). */
const char *cookie_own_origin(void);

/** Looks for the cookie called name in one Cookie header value
 *  (RFC 6265 5.4: "a=1; b=2"; names compare exactly; a value in double
 *  quotes is unquoted). Returns how many times it occurs (0, 1, 2 = two or
 *  more); *val and *len describe the first occurrence. */
int cookie_find(const char *header, const char *name, const char **val, size_t *len);

/** The serialised origin of an absolute http(s) URL: lowercase scheme and
 *  host, the port only when not the scheme's default, no path. false if
 *  url is not such a URL (userinfo, other schemes, bad ports are refused). */
bool cookie_origin_of(const char *url, char *out, size_t cap);

/** Whether a state-changing request may be honoured for a cookie
 *  session, given its Origin and Sec-Fetch-Site headers (either may be
 *  NULL). own is our origin; allowlisted says whether origin is in
 *  GATEHOUSE_CORS_ORIGINS. At least one header must be there; an Origin
 *  must be ours or allowlisted; Sec-Fetch-Site must be same-origin, or
 *  same-site / cross-site with an allowlisted Origin. */
bool cookie_origin_acceptable(const char *own, const char *origin, const char *sec_fetch_site,
                              bool allowlisted);

/** The same for a live request: own origin and the CORS allowlist. */
bool cookie_request_origin_ok(const char *origin, const char *sec_fetch_site);

/** The CSRF token of a session. GH_ERR_INTERNAL if the key is missing. */
enum gh_err cookie_csrf_token(const char *session_id, char out[COOKIE_CSRF_LEN + 1]) GH_WUR;
/** Whether presented is the CSRF token of session_id (constant time). */
bool cookie_csrf_valid(const char *session_id, const char *presented, size_t len);

/** A Set-Cookie value: name=value; Path=/; Max-Age=max_age;
 *  [Domain=<GATEHOUSE_COOKIE_DOMAIN>;] [Secure;] [HttpOnly;] SameSite=Lax.
 *  The Domain goes with every name but a "__Host-" one (which a browser
 *  refuses with a Domain). max_age 0 with value "" deletes it. */
void cookie_format(char *out, size_t cap, const char *name, const char *value, int64_t max_age,
                   bool http_only);
/** cookie_format with SameSite=None instead of Lax when cross_site (the
 *  caller makes sure cookies are Secure: browsers drop it otherwise). */
void cookie_format_site(char *out, size_t cap, const char *name, const char *value, int64_t max_age,
                        bool http_only, bool cross_site);

#endif
