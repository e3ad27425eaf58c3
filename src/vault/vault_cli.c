#include "vault/vault_cli.h"

#include <stdio.h>

#include "audit/audit.h"
#include "cli/startup.h"
#include "core/config.h"
#include "core/util.h"
#include "vault/rotate.h"
#include "vault/vault.h"

int vault_cli_rotate_encryption(const struct store_ops *ops, struct store_conn *c)
{
    int rc = 0;
    struct vault_rotation r;
    enum gh_err e = vault_rotate(ops, c, &r);
    if (e) {
        rc = cli_die(e == GH_ERR_CONFLICT ? "values kept changing during the rotation; run it again"
                                          : "rotation failed; run it again to resume");
    } else {
        char details[160];
        snprintf(details, sizeof details,
                 "{\"kind\":\"encryption\",\"kid\":\"%s\",\"resealed\":%zu,\"retired\":%zu}",
                 r.new_kid, r.resealed, r.retired);
        audit_system(c, "keys.rotated", details);
        printf("encryption key %s now seals; %zu value(s) re-encrypted, %zu old key(s) "
               "deleted%s\n",
               r.new_kid, r.resealed, r.retired,
               r.resumed ? " (resumed an interrupted rotation)" : "");
    }
    return rc;
}

int vault_cli_rotate_master(const struct store_ops *ops, struct store_conn *c)
{
    int rc = 0;
    /* The new key comes like the old one: GATEHOUSE_NEW_MASTER_KEY(_FILE). */
    char *text = NULL, err[512];
    uint8_t nk[VAULT_KEYBYTES];
    size_t n = 0;
    if (config_env_secret("GATEHOUSE_NEW_MASTER_KEY", &text, err, sizeof err) != GH_OK) {
        rc = cli_die(err);
    } else if (!text) {
        rc = cli_die("set GATEHOUSE_NEW_MASTER_KEY (or GATEHOUSE_NEW_MASTER_KEY_FILE) to the new "
                     "master key");
    } else if (vault_parse_master_key(text, nk, err, sizeof err) != GH_OK) {
        rc = cli_die(err);
    } else if (vault_rewrap(ops, c, nk, &n) != GH_OK) {
        rc = cli_die("re-wrapping failed; nothing was changed");
    } else {
        char details[64];
        snprintf(details, sizeof details, "{\"kind\":\"master\",\"rewrapped\":%zu}", n);
        audit_system(c, "keys.rotated", details);
        printf("%zu data key(s) re-wrapped under the new master key. Now set "
               "GATEHOUSE_MASTER_KEY to the new key and restart every server; until then "
               "running servers keep their keys but cannot load new ones.\n",
               n);
    }
    gh_wipe(nk, sizeof nk);
    gh_free_secret_str(text);
    return rc;
}
