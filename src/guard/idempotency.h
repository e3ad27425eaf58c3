/* Idempotency keys: a bearer-authenticated POST, PUT, PATCH or DELETE sent
 * with `Idempotency-Key` runs once per (user, route, key) for 24 h. A
 * repeat with the same body gets the first response again; another body
 * gets 422 idempotency_mismatch; a repeat while the first still runs gets
 * 409 idempotency_in_progress. Records are keyed by an HMAC of (user,
 * route, key), bodies compared by an HMAC (a body may hold a password), and
 * responses sealed by the vault (one may hold backup codes). A first
 * request that fails (5xx) leaves nothing behind. Worker side only. */
#ifndef GH_GUARD_IDEMPOTENCY_H
#define GH_GUARD_IDEMPOTENCY_H

#include <stdbool.h>

#include "http/server.h"

#define IDEM_KEY_MAX 255

/** True if value is an acceptable key: 1..255 printable ASCII, no spaces. */
bool idem_key_valid(const char *value);

/** Before the handler: true to run it; false when r's reply is already set
 *  (a replay, 409, 422, or a failure). No-op (true) without a key. */
bool idem_begin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** After the handler: records r's reply for replays, or frees the claim
 *  when the reply is a 5xx. */
void idem_end(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
