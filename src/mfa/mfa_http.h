/* HTTP handlers of the second-factor enrolment routes. */
#ifndef GH_MFA_HTTP_H
#define GH_MFA_HTTP_H

#include "http/server.h"
#include "mfa/stepup.h"

void mfa_http_totp_begin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_totp_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_backup_codes(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_totp_delete(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** POST /v1/mfa/step-up {code}: 204 once the session proved its factor again. */
void mfa_http_step_up(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** The JSON API's reply to a step-up outcome: 204, or the error (a page
 *  maps MFA_STEPUP_WRONG to its own form). */
void mfa_http_step_up_reply(struct gh_req *r, enum mfa_stepup_outcome o,
                            const struct limit_result *lim);

#endif
