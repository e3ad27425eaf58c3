#include "sessions/keys_cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/startup.h"
#include "core/config.h"
#include "core/util.h"
#include "sessions/jwt.h"
#include "store/store.h"
#include "vault/vault.h"
#include "vault/vault_cli.h"

/* keys retire <kid>: a leaked signing key goes at once, not after its
 * tokens expire. Some other key must already sign, so that tokens keep
 * being issued; the deletion and its audit row are one transaction. */
static int retire_signing_key(const struct store_ops *ops, struct store_conn *c, const char *kid)
{
    struct store_signing_key *sk = calloc(16, sizeof *sk);
    size_t ns = 0;
    int rc = 0;
    if (!sk || ops->signing_keys.list(c, sk, 16, &ns) != GH_OK) {
        rc = cli_die("cannot list keys");
        goto out;
    }
    bool found = false, other_signs = false;
    int64_t now = gh_now_s();
    for (size_t i = 0; i < ns; i++) {
        if (!strcmp(sk[i].kid, kid))
            found = true;
        else if (sk[i].activates_at <= now)
            other_signs = true;
    }
    if (!found) {
        rc = cli_die("no signing key has that kid (see gatehouse keys list)");
        goto out;
    }
    if (!other_signs) {
        rc = cli_die("no other key signs yet: first run GATEHOUSE_SIGNING_KEY_ACTIVATION_DELAY=0 "
                     "gatehouse keys rotate --signing, then retire this key");
        goto out;
    }
    char details[160];
    snprintf(details, sizeof details, "{\"kind\":\"signing\",\"kid\":\"%s\"}", kid);
    struct store_audit ev = {.actor = "system", .action = "keys.retired", .details = details};
    enum gh_err e = ops->tx.begin_write(c);
    if (!e) e = ops->signing_keys.delete(c, kid);
    if (!e && audit_enabled()) e = ops->audit.append(c, &ev);
    if (!e)
        e = ops->tx.commit(c);
    else
        ops->tx.rollback(c);
    if (e) {
        rc = cli_die("could not retire the key; nothing was changed");
        goto out;
    }
    printf("signing key %s retired: running servers stop publishing it and refuse its tokens "
           "within seconds\n",
           kid);
out:
    if (sk) gh_wipe(sk, 16 * sizeof *sk);
    free(sk);
    return rc;
}

/* keys rotate --signing: published now, signs after the activation delay. */
static int rotate_signing_key(const struct store_ops *ops, struct store_conn *c)
{
    int rc = 0;
    char kid[JWT_KID_MAX + 1];
    int64_t at = gh_now_s() + gh_cfg.signing_activation_delay;
    if (jwt_key_create(ops, c, NULL, at, kid) != GH_OK) {
        rc = cli_die("could not add a signing key");
    } else {
        char ts[GH_RFC3339_LEN + 1], details[160];
        gh_rfc3339(ts, at);
        snprintf(details, sizeof details,
                 "{\"kind\":\"signing\",\"kid\":\"%s\",\"activates_at\":\"%s\"}", kid, ts);
        audit_system(c, "keys.rotated", details);
        printf("signing key %s published now; it signs from %s\n", kid, ts);
    }
    return rc;
}

/* keys list: every data key (the one that seals marked) and signing key
 * (the one that signs marked). */
static int list_keys(const struct store_ops *ops, struct store_conn *c)
{
    int rc = 0;
    struct store_vault_key *vk = calloc(VAULT_MAX_KEYS, sizeof *vk);
    struct store_signing_key *sk = calloc(16, sizeof *sk);
    size_t nv = 0, ns = 0;
    char cur[VAULT_KID_LEN + 1], ts[GH_RFC3339_LEN + 1];
    vault_current_kid(cur);
    if (!vk || !sk || ops->vault_keys.list(c, vk, VAULT_MAX_KEYS, &nv) ||
        ops->signing_keys.list(c, sk, 16, &ns)) {
        rc = cli_die("cannot list keys");
    } else {
        for (size_t i = 0; i < nv; i++) {
            gh_rfc3339(ts, vk[i].created_at / 1000000);
            printf("encryption %s created %s%s\n", vk[i].kid, ts,
                   strcmp(vk[i].kid, cur) ? "" : " (seals)");
        }
        const char *signer = jwt_kid();
        for (size_t i = 0; i < ns; i++) {
            gh_rfc3339(ts, sk[i].activates_at);
            printf("signing %s active from %s%s\n", sk[i].kid, ts,
                   strcmp(sk[i].kid, signer) ? "" : " (signs)");
        }
    }
    if (sk) gh_wipe(sk, 16 * sizeof *sk);
    free(vk);
    free(sk);
    return rc;
}

int keys_cli(int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : "";
    const char *opt = argc > 3 ? argv[3] : "";
    int rotate_enc = !strcmp(sub, "rotate") && !strcmp(opt, "--encryption") && argc == 4;
    int rotate_sig = !strcmp(sub, "rotate") && !strcmp(opt, "--signing") && argc == 4;
    int rotate_master = !strcmp(sub, "rotate") && !strcmp(opt, "--master") && argc == 4;
    int list = !strcmp(sub, "list") && argc == 3;
    /* A kid is base64url and may start with '-': it is not an option here
     * (--help was answered before any command runs). */
    int retire = !strcmp(sub, "retire") && argc == 4 && opt[0] != '\0';
    if (!rotate_enc && !rotate_sig && !rotate_master && !list && !retire) {
        fprintf(stderr, "gatehouse: usage: gatehouse keys list | keys rotate --encryption | "
                        "keys rotate --signing | keys rotate --master | keys retire <kid>\n");
        return 2;
    }
    int rc = cli_load_config();
    const struct store_ops *ops = store_backend(); /* known once configured */
    struct store_conn *c = NULL;
    if (!rc) rc = cli_open_keys(0, &c);
    if (rc) {
        cli_teardown();
        return rc;
    }
    if (rotate_enc)
        rc = vault_cli_rotate_encryption(ops, c);
    else if (rotate_master)
        rc = vault_cli_rotate_master(ops, c);
    else if (retire)
        rc = retire_signing_key(ops, c, opt);
    else if (rotate_sig)
        rc = rotate_signing_key(ops, c);
    else
        rc = list_keys(ops, c);
    ops->close(c);
    cli_teardown();
    return rc;
}
