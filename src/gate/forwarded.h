/* The original request behind a forward-auth check (GET /v1/verify): what
 * the reverse proxy says the browser asked for, read from the headers it
 * sets, and brought to the one form the access rules and the return URL
 * use. A pure module: header values in, a struct out; it knows nothing of
 * HTTP libraries, trust or rules (the caller reads these headers only from
 * a trusted proxy). See docs/decisions/0027-verify-forward-auth.md.
 *
 * Two header families, never mixed:
 * - Caddy (forward_auth) and Traefik (ForwardAuth): X-Forwarded-Method,
 *   X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri (the path and
 *   query as sent), all four required.
 * - nginx (auth_request): X-Original-Method and X-Original-URL, both
 *   required; the URL must be absolute, `$scheme://$host$request_uri`.
 *   A path alone is refused: the subrequest's own Host is Gatehouse's, so
 *   host rules would have nothing true to match.
 * A request carrying X-Original-URL or X-Original-Method together with
 * X-Forwarded-Uri or X-Forwarded-Method is refused (FWD_INVALID): every
 * proxy passes client headers it does not set itself to the auth request,
 * so the family the proxy did not set may be the client's forgery.
 * (X-Forwarded-Proto and -Host beside X-Original-URL are ignored.)
 *
 * Refused as unparsable (fail closed), because a proxy or the upstream
 * could read them two ways: a method that is not an upper-case token; a
 * scheme other than http or https; a host that is not LDH labels, an IPv4
 * address or a bracketed IPv6 literal (with an optional port 1..65535), or
 * that has userinfo or a trailing dot; a URI that does not start with '/';
 * any byte outside printable ASCII (space, controls, DEL, bytes >= 0x80:
 * send them percent-encoded), '#', and in the path: a backslash, "//", a
 * "." or ".." segment (also as %2e), ';' (servlet containers drop path
 * parameters), an escape of '/', '\', '%' (double encoding), ';' or of
 * any control byte (%00..%1f, %7f), a malformed escape. Escapes of
 * unreserved characters (ALPHA DIGIT - . _ ~) and of the other characters
 * a path may hold as they are (! $ & ' ( ) * + , = : @) are decoded, so a
 * rule meets the path however the client escaped them; other escapes are
 * kept with upper-case hex (a rule's path must be written in this same
 * form: rules.c refuses one that is not). The query is kept as sent for the return URL and never
 * matched. Nothing is allocated. */
#ifndef GH_GATE_FORWARDED_H
#define GH_GATE_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#define FWD_METHOD_MAX 16
#define FWD_HOST_MAX 253      /* a name, or a bracketed literal */
#define FWD_AUTHORITY_MAX 262 /* host and ":65535" */
#define FWD_URI_MAX 4096      /* the path and query as sent */
#define FWD_URL_MAX (8 + FWD_AUTHORITY_MAX + FWD_URI_MAX)

/** The header values the proxy sent (NULL: absent). Borrowed. */
struct fwd_input {
    const char *fwd_method, *fwd_proto, *fwd_host, *fwd_uri; /* X-Forwarded-* */
    const char *orig_method, *orig_url;                      /* X-Original-* */
};

/** The original request, normalised. Every string NUL-terminated. */
struct fwd_request {
    char method[FWD_METHOD_MAX + 1];       /* "GET", as sent (upper case) */
    bool https;                            /* the scheme */
    char host[FWD_HOST_MAX + 1];           /* lower case, no port: what rules match */
    char authority[FWD_AUTHORITY_MAX + 1]; /* host and the port when one was written */
    char path[FWD_URI_MAX + 1];            /* normalised, no query */
    size_t path_len;
    char url[FWD_URL_MAX + 1]; /* scheme://authority + the URI as sent: the return URL */
    bool nginx;                /* the X-Original-* family was used */
};

enum fwd_result {
    FWD_OK,
    FWD_MISSING, /* neither family, or one of its required headers is absent */
    FWD_INVALID, /* present but refused by a rule above */
};

/** Reads the original request from in into out. out is fully written on
 *  FWD_OK; otherwise its contents mean nothing. Any thread. */
enum fwd_result forwarded_parse(const struct fwd_input *in, struct fwd_request *out);

/** The path of a URI (up to '?') normalised by the rules above into out
 *  (cap bytes, NUL-terminated); *out_len its length. false: refused. */
bool forwarded_path(const char *uri, size_t len, char *out, size_t cap, size_t *out_len);

#endif
