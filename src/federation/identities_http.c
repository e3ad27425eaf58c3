#include "federation/identities_http.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "accounts/signin_reply.h"
#include "core/util.h"
#include "federation/federated.h"

static json_t *identity_json(const struct store_identity *id)
{
    char made[GH_RFC3339_LEN + 1], used[GH_RFC3339_LEN + 1];
    gh_rfc3339(made, id->created_at);
    gh_rfc3339(used, id->last_used_at);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "provider", id->provider, "subject", id->subject,
                     "email", id->email, "created_at", made, "last_used_at", used);
}

void identities_http_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    struct store_identity ids[IDENTITIES_LIST_MAX];
    size_t n = 0;
    enum gh_err rc = ops->identities.list(c, r->ident.user_id, ids, IDENTITIES_LIST_MAX, &n);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, identity_json(&ids[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    json_t *body = arr ? json_pack("{s:o}", "identities", arr) : NULL;
    if (!body) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return;
    }
    gh_reply(r, 200, body);
}

void identities_http_unlink(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                            const char *provider, const char *subject)
{
    struct accounts_req in;
    struct store_audit base;
    enum federated_unlink_outcome o;
    struct store_identity gone;
    enum gh_err rc = federated_unlink(ops, c, accounts_request_of(r, &in, &base, false),
                                      r->ident.user_id, provider, subject, &o, &gone);
    if (rc) {
        gh_reply_fail(r, rc);
    } else if (o == FEDERATED_UNLINKED) {
        gh_reply(r, 204, NULL);
    } else if (o == FEDERATED_NOT_LINKED) {
        gh_fail_msg(r, GH_E_NOT_FOUND, "No such identity is linked to this account.");
    } else if (o == FEDERATED_AMBIGUOUS) {
        gh_fail_msg(r, GH_E_MISSING_FIELD,
                    "The account has several identities at this provider: name one with "
                    "'subject'.");
    } else {
        gh_fail(r, GH_E_LAST_SIGN_IN_METHOD);
    }
}

void identities_http_delete(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *subject = NULL;
    size_t len = 0;
    const struct gh_field f[] = {{"subject", false, &subject, &len}};
    if (gh_body_fields(r, f, 1)) return;
    if (subject && (len == 0 || len > STORE_SUBJECT_MAX || strlen(subject) != len)) {
        gh_fail_msg(r, GH_E_INVALID_FIELD, "Field 'subject' must be 1 to 255 characters.");
        return;
    }
    identities_http_unlink(r, ops, c, r->param, subject);
}
