#include "mfa/pending.h"

#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

enum gh_err mfa_totp_pending(const struct store_ops *ops, struct store_conn *c, const char *user_id,
                             const char *email, char b32[TOTP_BASE32_LEN + 1], char **svg)
{
    *svg = NULL;
    b32[0] = '\0';
    struct store_totp t;
    enum gh_err rc = ops->totp.get(c, user_id, &t);
    if (rc == GH_OK && t.confirmed_at) rc = GH_ERR_NOT_FOUND;
    if (rc) return rc;
    uint8_t *secret = NULL;
    size_t slen = 0;
    rc = vault_open("mfa_totp", "secret_sealed", user_id, t.secret_sealed, &secret, &slen);
    if (rc) {
        gh_log(GH_LOG_ERROR, "vault: mfa_totp.secret_sealed row %s does not open (%s)", user_id,
               gh_err_name(rc));
        return GH_ERR_INTERNAL;
    }
    char *uri = NULL;
    rc = slen == TOTP_SECRET_BYTES ? totp_base32(secret, b32) : GH_ERR_INTERNAL;
    if (rc == GH_OK) rc = totp_uri(secret, gh_cfg.brand, email, &uri);
    if (rc == GH_OK) rc = totp_qr_svg(uri, svg);
    vault_free(secret, slen);
    gh_free_secret_str(uri);
    if (rc) {
        gh_wipe(b32, TOTP_BASE32_LEN + 1);
        gh_free_secret_str(*svg);
        *svg = NULL;
    }
    return rc;
}
