#include "accounts/email_change_http.h"

#include <string.h>

#include "core/util.h"

void email_change_http_refused(struct gh_req *r, const struct email_change_result *res)
{
    switch (res->outcome) {
    case EMAIL_CHANGE_REPLIED:
        break;
    case EMAIL_CHANGE_INVALID_EMAIL:
        gh_fail(r, GH_E_INVALID_EMAIL);
        break;
    case EMAIL_CHANGE_NOT_VERIFIED:
        gh_fail_msg(r, GH_E_EMAIL_NOT_VERIFIED,
                    "Confirm the account's current email address first (POST "
                    "/v1/email/verify/resend sends the link).");
        break;
    case EMAIL_CHANGE_SAME:
        gh_fail_msg(r, GH_E_INVALID_FIELD, "That already is the account's email address.");
        break;
    case EMAIL_CHANGE_NO_PASSWORD:
        gh_fail_msg(r, GH_E_MISSING_FIELD, "Send 'password': the account's current password.");
        break;
    case EMAIL_CHANGE_BAD_PASSWORD:
        gh_fail_msg(r, GH_E_PROOF_FAILED, "The current password is incorrect.");
        break;
    case EMAIL_CHANGE_REAUTH:
        gh_fail_msg(r, GH_E_REAUTH_REQUIRED,
                    "This account has no password: sign in again (with an email link), then "
                    "change the address within a few minutes.");
        break;
    case EMAIL_CHANGE_GONE:
        gh_fail(r, GH_E_INVALID_TOKEN);
        break;
    case EMAIL_CHANGE_LINK_INVALID:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is invalid or was already used.");
        break;
    case EMAIL_CHANGE_LINK_EXPIRED:
        gh_fail(r, GH_E_TOKEN_EXPIRED);
        break;
    case EMAIL_CHANGE_LINK_GONE:
        gh_fail_msg(r, GH_E_INVALID_TOKEN, "This link is no longer valid.");
        break;
    case EMAIL_CHANGE_TAKEN:
        gh_fail_msg(r, GH_E_EMAIL_TAKEN,
                    "Another account already uses this email address; nothing was changed.");
        break;
    default: /* NONE, or not a refusal */
        gh_reply_fail(r, GH_ERR_INTERNAL);
        break;
    }
}

/* POST /v1/email/change {new_email, password}: 202, the same whether or
 * not the new address has an account. */
void email_change_http_request(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *email, *pw;
    size_t email_len, pw_len = 0;
    const struct gh_field f[] = {{"new_email", true, &email, &email_len},
                                 {"password", false, &pw, &pw_len}};
    if (gh_body_fields(r, f, 2)) return;
    struct email_change_result res;
    enum gh_err rc = email_change_request(r, ops, c, email, email_len, pw, pw_len, &res);
    if (rc)
        gh_reply_fail(r, rc);
    else if (res.outcome == EMAIL_CHANGE_SENT)
        gh_reply(r, 202,
                 json_pack("{s:s}", "message",
                           "A confirmation link is on its way to the new address; the address "
                           "changes once it is followed."));
    else
        email_change_http_refused(r, &res);
}

/* POST /v1/email/change/confirm {token}: 200 {"email": the new address}. */
void email_change_http_confirm(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *tok;
    size_t tok_len;
    const struct gh_field f[] = {{"token", true, &tok, &tok_len}};
    if (gh_body_fields(r, f, 1)) return;
    struct store_audit base;
    struct email_change_result res;
    enum gh_err rc = email_change_confirm(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                                          tok, tok_len, &res);
    if (rc)
        gh_reply_fail(r, rc);
    else if (res.outcome == EMAIL_CHANGE_DONE)
        gh_reply(r, 200, json_pack("{s:s}", "email", res.email));
    else
        email_change_http_refused(r, &res);
}
