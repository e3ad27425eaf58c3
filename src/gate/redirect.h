/* Return-URL validation for the gate's `rd=` (and later the hosted pages):
 * decides whether a URL a client hands us may go into a Location header,
 * and if so writes its normalised absolute form. Never an open redirect:
 * when unsure, refuse. See docs/decisions/0023-redirect-validation.md.
 *
 * Ownership: pure functions over caller memory. The policy and every string
 * it points to are borrowed (read-only, any thread, for the call); the
 * output is written into the caller's buffer. Nothing is allocated.
 *
 * The rules, in order:
 * - The input is 1..REDIRECT_MAX_LEN bytes of printable ASCII: no C0, DEL,
 *   space or other whitespace, no raw byte >= 0x80 (send IRIs
 *   percent-encoded), no backslash and none of " < > ^ ` { | } anywhere.
 *   Every '%' starts a %XX escape, and no escape encodes a control byte.
 * - Absolute: "https://" (any case), or "http://" only when the policy
 *   allows development http and the host is a loopback host (localhost,
 *   127.0.0.1, [::1]). The authority holds no userinfo ('@'), no '%', no
 *   empty host, no trailing dot, no empty label; a name is LDH labels of
 *   1..63 bytes (<= 253 in all), compared lower-cased. Anything else --
 *   other schemes, scheme-relative "//host", "https:/host", "https:host",
 *   "https:///host" -- is refused.
 * - The host must be allowed: an exact entry of p->hosts ("app.example.com"
 *   or "app.example.com:8443"), a wildcard entry ("*.example.com": one or
 *   more labels below the base, never the base itself), or the cookie
 *   domain or one of its subdomains. IP literals (a last label of digits or
 *   0x..., or [v6]) match exact entries only.
 * - Ports: the scheme's own port (443, 80), written or not, matches an
 *   entry without a port; any other port must be named by an exact entry
 *   as host:port. Wildcards and the cookie domain never grant another port.
 * - Relative: starts with exactly one '/' and resolves against the origin
 *   of p->public_base (its path is dropped, as RFC 3986 does for an
 *   absolute path). The public base is held to the scheme rule above
 *   (else relative paths are refused), and its own origin is allowed for
 *   absolute URLs too (so every output, checked again, is accepted).
 * - The path (up to '?' or '#') holds no "//", no "." or ".." segment
 *   (plain or as %2e), and no %2f or %5c; at most one '#'.
 * The output is the lower-cased scheme and host, the port when it is not
 * the scheme's own, and the rest as given ("/" when empty); longer than
 * REDIRECT_MAX_LEN once resolved, it is refused. Checked again, an output
 * is accepted unchanged. */
#ifndef GH_GATE_REDIRECT_H
#define GH_GATE_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/** Longest return URL accepted, in bytes. */
#define REDIRECT_MAX_LEN 2048
/** Longest public base origin used for relative paths. */
#define REDIRECT_BASE_MAX 255
/** An output buffer of this size always suffices: the output, resolved,
 *  is held to REDIRECT_MAX_LEN as well. */
#define REDIRECT_OUT_MAX (REDIRECT_MAX_LEN + 1)

/** What a return URL may point at. All fields borrowed; NULL or empty
 *  strings mean "none". */
struct redirect_policy {
    /** Exact names ("app.example.com", "app.example.com:8443", "[::1]:8080")
     *  and wildcards ("*.example.com": the base must hold a dot, no port),
     *  matched case-insensitively. A malformed entry matches nothing. */
    const char *const *hosts;
    size_t nhosts;
    /** GATEHOUSE_COOKIE_DOMAIN ("example.com", a leading dot is ignored;
     *  must hold a dot): it and its subdomains are allowed. */
    const char *cookie_domain;
    /** Development only: http:// to a loopback host the policy allows. */
    bool dev_loopback_http;
    /** GATEHOUSE_PUBLIC_URL ("https://auth.example.com"); relative paths
     *  resolve against its origin, which is allowed itself. NULL, unparsable,
     *  or http outside development loopback: relative refused. */
    const char *public_base;
};

/** Checks url (len bytes, need not be NUL-terminated; NULL is refused)
 *  against p. GH_OK: out holds the normalised absolute URL, NUL-terminated.
 *  GH_ERR_INVALID: refused by a rule above, or outcap too small (use
 *  REDIRECT_OUT_MAX); out is then "" when outcap > 0. Never fails
 *  otherwise. */
enum gh_err redirect_check(const struct redirect_policy *p, const char *url, size_t len, char *out,
                           size_t outcap) GH_WUR;

#endif
