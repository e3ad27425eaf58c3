/* What every page handler needs to answer (shared by all the page files
 * so that none copies them): sending a rendered page, a 303 to a checked
 * URL, the checked return URL (rd) of a request, and the session's CSRF
 * token for a form. Handlers of R_PAGE routes only; any thread. */
#ifndef GH_PAGES_PAGES_REPLY_H
#define GH_PAGES_PAGES_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "gate/redirect.h"
#include "http/server.h"
#include "pages/page.h"
#include "sessions/cookie.h"

#define PAGES_HTML "text/html; charset=utf-8"

/** Width of a page's card: NARROW for a form, WIDE for lists and tables
 *  (account, sessions). */
enum pages_width { PAGES_NARROW, PAGES_WIDE };

/** Renders the layout around body (pages.h pages_render) and replies with
 *  it; 500 when the page cannot be built. */
void pages_send(struct gh_req *r, int status, const char *title, const char *body,
                const struct page_var *vars, size_t n);
/** The same, in the given width. */
void pages_send_width(struct gh_req *r, int status, enum pages_width w, const char *title,
                      const char *body, const struct page_var *vars, size_t n);

/** 303 See Other to url, which must be checked (pages_return_url) or ours
 *  (pages_url). */
void pages_see_other(struct gh_req *r, const char *url);

/** The return URL of r, checked: the form's "rd" on a POST, else the
 *  query's. out "" when absent or refused (then the page's own success
 *  page follows; the raw value is never used). A query the request struct
 *  had to cut is not read. A checked URL on another origin than ours is
 *  added to this reply's CSP form-action (r->form_origin): browsers apply
 *  form-action to the 303 after the page's POST as well. */
void pages_rd(struct gh_req *r, char out[REDIRECT_OUT_MAX]);

/** A query parameter of r (a GET page's ?token=, ?rd=...) into out (cap
 *  bytes, NUL-terminated). false when absent, too long or the query is
 *  malformed or was cut. */
bool pages_query_param(struct gh_req *r, const char *name, char *out, size_t cap);

/** The signed-in session's CSRF token for a form ("" for a bearer request,
 *  which needs none). false: the reply is set (500). */
bool pages_session_csrf(struct gh_req *r, char out[COOKIE_CSRF_LEN + 1]);

#endif
