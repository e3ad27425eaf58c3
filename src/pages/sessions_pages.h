/* The sessions and devices page (GET /account/sessions) and its forms:
 * sign one session out (POST /account/sessions/revoke {id}) and sign out
 * everywhere else (POST /account/sessions/revoke-others). The list and
 * the single revocation call their JSON twins on the same request
 * (sessions_http_list, sessions_http_revoke: account_pages.h); the other
 * calls sessions_revoke_others, the logic of POST
 * /v1/sessions/revoke-others. Handlers run on workers. */
#ifndef GH_PAGES_SESSIONS_PAGES_H
#define GH_PAGES_SESSIONS_PAGES_H

#include <stddef.h>

#include "http/server.h"

#define SESSIONS_PAGES_ROWS 30   /* rows shown (a page stays under PAGE_MAX_BYTES) */
#define SESSIONS_PAGES_DEVICE 64 /* bytes of a device name, NUL included */

/* Body templates (the layout adds title, brand, base, wide). */
extern const char SESSIONS_PAGE[]; /* notice, rows, more, csrf */
extern const char SESSIONS_ROW[];  /* device, app, current, ip, created, created_h, used,
                                    * used_h, action, csrf, id */

/** A readable name for the device of a User-Agent ("Firefox on Linux",
 *  "curl"), or, when none is recognised, the start of ua itself cut at a
 *  character boundary (the template escapes it); "Unknown device" for
 *  an empty one. out: cap bytes (>= 16), NUL-terminated, valid UTF-8 when
 *  ua is. Pure. */
void sessions_pages_device(const char *ua, char *out, size_t cap);

/** GET /account/sessions: the account's live sessions, this device's row
 *  tagged "This device", a "Sign out" form on every other row. */
void sessions_pages_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/sessions/revoke {id}: 303 /account/sessions?revoked=1;
 *  this device's own session: signed out, 303 /signout/done; an unknown
 *  or another account's id: 404 (audited as the API does), nothing
 *  changes. */
void sessions_pages_revoke(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /account/sessions/revoke-others: 303
 *  /account/sessions?revoked=others. */
void sessions_pages_revoke_others(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c);

#endif
