/* HTTP handlers of the second-factor enrolment routes. */
#ifndef GH_MFA_HTTP_H
#define GH_MFA_HTTP_H

#include "http/server.h"

void mfa_http_totp_begin(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_totp_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_backup_codes(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void mfa_http_totp_delete(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
