/* HTTP handlers of the second-factor enrolment routes. */
#ifndef GH_MFA_HTTP_H
#define GH_MFA_HTTP_H

#include "http/server.h"

void mfa_http_totp_begin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_totp_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_backup_codes(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_totp_delete(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** Records a wrong second-factor code (or proof) for user_id as an audit
 *  row of action ("signin.failure" or "mfa.proof_failed"), marked when it
 *  spent the account's budget (lim from limit_take). GH_ERR_* on store
 *  failure. */
enum gh_err mfa_record_failure(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                               const char *user_id, const char *action,
                               const struct limit_result *lim) GH_WUR;

#endif
