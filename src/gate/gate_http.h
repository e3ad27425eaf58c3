/* The forward-auth check's handler (GET /v1/verify, any method; route
 * flag R_GATE): the decision (gate.h) written as the reply the proxy
 * reads. The intake (trusted peer, original request, credential) is the
 * HTTP layer's (http/gate_intake.c). */
#ifndef GH_GATE_GATE_HTTP_H
#define GH_GATE_GATE_HTTP_H

#include "http/server.h"

/** 200 with the identity headers, 401 signin_required / step_up_required
 *  (with Location for nginx), 302/303 to the sign-in URL or the step-up
 *  page, 403 forbidden / mfa_enrolment_required. Loop (c NULL) or worker. */
void gate_http_verify(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** The SIGHUP job: gate_reload on a worker. */
void gate_http_reload(const struct store_ops *ops, struct store_conn *c);

#endif
