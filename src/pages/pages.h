/* Gatehouse's own pages (issue 11: step-up and sign-out; issue 12 grows
 * this into the full set): the built-in templates, the shared layout
 * (lang, title, brand, the stylesheet link) and the stylesheet itself,
 * return URLs (rd=) checked by gate/redirect.h, and the URLs of our own
 * pages under GATEHOUSE_PUBLIC_URL. No HTTP here: pages_http.c serves them.
 *
 * The page CSP (http/reply.c, GH_PROFILE_PAGE) allows no inline style or
 * script: the stylesheet is a file of ours (GET /assets/gatehouse.css) and
 * the pages have no script at all.
 *
 * Settings are read once, on first use (pthread_once): GATEHOUSE_PUBLIC_URL
 * (gh_cfg), GATEHOUSE_COOKIE_DOMAIN (gh_cfg) and GATEHOUSE_SIGNIN_URL (the
 * link a "not signed in" page offers; only an http(s) URL is used; unset:
 * our own <public URL>/signin). All strings returned are static; any
 * thread. */
#ifndef GH_PAGES_PAGES_H
#define GH_PAGES_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "gate/redirect.h"
#include "pages/page.h"

/* The body templates (variables in each comment; the layout adds title,
 * brand, base: the public URL's path, "" at the root, wide). */
extern const char PAGES_STEP_UP[];    /* error, csrf, rd */
extern const char PAGES_STEPPED_UP[]; /* (none) */
extern const char PAGES_SIGN_OUT[];   /* csrf, rd */
extern const char PAGES_SIGNED_OUT[]; /* signin */
extern const char PAGES_ERROR[];      /* heading, message, wait, signin, request_id */
extern const char PAGES_DENIED[];     /* back, signout */

/* A body may use at most this many variables of its own. */
#define PAGES_VARS_MAX 28

/** The stylesheet to serve (pages_config.h pages_assets_css); *len its
 *  length. */
const char *pages_stylesheet(size_t *len);

/** Renders a whole page: the layout around body (a template above), every
 *  value escaped (page.h). vars are the body's variables. */
enum gh_err pages_render(struct page_buf *out, const char *title, const char *body,
                         const struct page_var *vars, size_t n) GH_WUR;
/** The same in a wide card (lists, tables) when wide; at most PAGES_VARS_MAX vars. */
enum gh_err pages_render_width(struct page_buf *out, bool wide, const char *title, const char *body,
                               const struct page_var *vars, size_t n) GH_WUR;

/** Checks a return URL (len bytes, not NUL-terminated) by the gate's rule
 *  (gate_rd_check): allowed are the hosts the access rules name,
 *  GATEHOUSE_PUBLIC_URL's origin and relative paths on it, the cookie
 *  domain and its subdomains, and (outside production) http on loopback. true: out holds the
 * normalised URL; false: out is "". */
bool pages_return_url(const char *rd, size_t len, char out[REDIRECT_OUT_MAX]);

/** The absolute URL of our page at path ("/step-up/done") under
 *  GATEHOUSE_PUBLIC_URL. Fits REDIRECT_OUT_MAX. */
void pages_url(char out[REDIRECT_OUT_MAX], const char *path);

/** Our page at path with "?rd=" the (checked) return URL rd
 *  percent-encoded; without rd (NULL or "", or when it does not fit in
 *  cap) just the page's URL. */
void pages_url_rd(char *out, size_t cap, const char *path, const char *rd);

/** GATEHOUSE_SIGNIN_URL (unset: our /signin) with rd= the (checked)
 *  return URL when there is one, into out; "" when there is no sign-in
 *  URL (the public URL is not http(s)) or it does not fit. */
void pages_signin_link(char *out, size_t cap, const char *rd);

/** "Try again in 2 minutes." for a wait of s seconds (Retry-After), in
 *  words, rounded up: seconds under a minute, then minutes, hours, days
 *  ("in a moment" for s <= 0). Into out (cap bytes; 64 is enough). */
void pages_wait_words(int64_t s, char *out, size_t cap);

#endif
