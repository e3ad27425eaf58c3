/* HTTP for the relying party: one GET or form POST to a provider through
 * libcurl, bounded in every way an unwell provider could hold us: connect
 * timeout FED_FETCH_CONNECT_S, total timeout FED_FETCH_TOTAL_S, a response
 * cap (max_bytes), https only (http only to a loopback host outside
 * production), redirects not followed (a 3xx is an answer like any other,
 * which callers refuse). Trusts the system's CAs plus GATEHOUSE_OIDC_CA_FILE.
 * Blocking: worker threads only (oidc.h). Owns nothing between calls; the
 * response body is the caller's (fed_http_resp_free wipes it: token
 * responses hold tokens). Never logs a request body or a response. */
#ifndef GH_FEDERATION_FETCH_H
#define GH_FEDERATION_FETCH_H

#include <stddef.h>

#include "core/err.h"

#define FED_FETCH_CONNECT_S 4L
#define FED_FETCH_TOTAL_S 8L
#define FED_FETCH_MAX (128 * 1024) /* default response cap, bytes */

struct fed_http_req {
    const char *url;
    const char *form;      /* NULL: GET; else the POST body, x-www-form-urlencoded */
    const char *auth_user; /* client_secret_basic (already form-encoded); NULL: none */
    const char *auth_pass;
    size_t max_bytes; /* 0: FED_FETCH_MAX */
};

struct fed_http_resp {
    long status; /* HTTP status */
    char *body;  /* heap, NUL-terminated; fed_http_resp_free */
    size_t len;
};

/** Does the request. GH_OK with the status and body whatever the status;
 *  GH_ERR_BUSY (why: the reason, e.g. "timeout", "too large", "refused URL")
 *  when there is no complete answer; GH_ERR_NOMEM. */
enum gh_err fed_fetch(const struct fed_http_req *rq, struct fed_http_resp *out, char *why,
                      size_t whylen) GH_WUR;

/** Wipes and frees the body; NULL and an empty response are allowed. */
void fed_http_resp_free(struct fed_http_resp *r);

/** Tests only: when set, fed_fetch calls it instead of libcurl (the URL
 *  checks still run first). It must fill out->body with malloc'd memory. */
typedef enum gh_err (*fed_fetch_fn)(const struct fed_http_req *rq, struct fed_http_resp *out,
                                    char *why, size_t whylen);
extern fed_fetch_fn fed_fetch_hook;

#endif
