/* Idempotency keys: a bearer-authenticated POST, PUT, PATCH or DELETE sent
 * with `Idempotency-Key` runs once per (user, route, key) for 24 h. A
 * repeat with the same body gets the first response again; another body
 * gets 422 idempotency_mismatch; a repeat while the first still runs gets
 * 409 idempotency_in_progress. Records are keyed by an HMAC of (user,
 * route, key), bodies compared by an HMAC (a body may hold a password), and
 * responses sealed by the vault (one may hold backup codes). A first
 * request that fails (5xx) leaves nothing behind. Worker side only: the
 * wrapper runs around the handler in http/intake.c's work(); its records
 * go through store_ops. */
#ifndef GH_HTTP_IDEMPOTENCY_H
#define GH_HTTP_IDEMPOTENCY_H

#include <stdbool.h>

#include "http/server.h"

#define IDEM_KEY_MAX 255

/** True if value is an acceptable key: 1..255 printable ASCII, no spaces. */
bool idem_key_valid(const char *value);

/** Runs r's handler once per (user, route, key): claims the key, runs
 *  the handler and records its reply for replays (or frees the claim when
 *  the reply is a 5xx); a repeat gets the recorded reply, 409 or 422
 *  instead of running. Without a key (or identity) it just runs the
 *  handler. */
void idem_run(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
