#include "accounts/link_peek.h"

#include <string.h>

#include "core/config.h"
#include "core/util.h"

/* The link row of tok, when tok has the shape of ours (43 base64url
 * characters: gh_random_token of 32 bytes). GH_ERR_NOT_FOUND otherwise. */
static enum gh_err link_row(const struct store_ops *ops, struct store_conn *c, const char *tok,
                            size_t tok_len, struct store_magic *m)
{
    if (tok_len != 43) return GH_ERR_NOT_FOUND;
    for (size_t i = 0; i < tok_len; i++) {
        char ch = tok[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok) return GH_ERR_NOT_FOUND;
    }
    uint8_t h[32];
    enum gh_err rc = gh_sha256(h, tok, tok_len);
    if (rc == GH_OK) rc = ops->links.get(c, h, m);
    gh_wipe(h, sizeof h);
    return rc;
}

/* Whether the link's account exists: the POST refuses a link whose account
 * is gone (a sign-in link makes one when magic-link sign-up is on). */
static enum gh_err account_there(const struct store_ops *ops, struct store_conn *c,
                                 const struct store_magic *m, bool *there)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = ops->users.by_email_key(c, m->email_key, &u);
    gh_wipe(&u, sizeof u); /* a password hash we do not need */
    *there = rc == GH_OK || (rc == GH_ERR_NOT_FOUND && strcmp(m->purpose, "signin") == 0 &&
                             gh_cfg.magic_link_signup);
    return rc == GH_ERR_NOT_FOUND ? GH_OK : rc;
}

enum gh_err link_peek(const struct store_ops *ops, struct store_conn *c, const char *tok,
                      size_t tok_len, const char *purpose, enum link_peek_outcome *out,
                      char email[STORE_EMAIL_MAX + 1])
{
    struct store_magic m;
    memset(&m, 0, sizeof m);
    *out = LINK_PEEK_INVALID;
    email[0] = '\0';
    enum gh_err rc = link_row(ops, c, tok, tok_len, &m);
    if (rc == GH_ERR_NOT_FOUND) return GH_OK;
    if (rc) return rc;
    if (strcmp(m.purpose, purpose) != 0 || m.used_at) return GH_OK;
    if (m.expires_at <= gh_now_s()) {
        *out = LINK_PEEK_EXPIRED;
        return GH_OK;
    }
    bool there = false;
    if ((rc = account_there(ops, c, &m, &there)) || !there) return rc;
    memcpy(email, m.email, sizeof m.email);
    *out = LINK_PEEK_OK;
    return GH_OK;
}
