/* The JSON routes of changing the email address (accounts/email_change.h
 * holds the logic): POST /v1/email/change (bearer or cookie) and POST
 * /v1/email/change/confirm (the link's token is the authority). Handlers
 * only parse, call one logic function and reply. Worker threads. */
#ifndef GH_ACCOUNTS_EMAIL_CHANGE_HTTP_H
#define GH_ACCOUNTS_EMAIL_CHANGE_HTTP_H

#include "accounts/email_change.h"
#include "http/server.h"

/** The reply of a refused outcome (any but SENT, PENDING and DONE), shared
 *  with the pages (which turn it into an error page): the error table's
 *  row and our message. REPLIED keeps r's reply. */
void email_change_http_refused(struct gh_req *r, const struct email_change_result *res);

void email_change_http_request(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
void email_change_http_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

#endif
