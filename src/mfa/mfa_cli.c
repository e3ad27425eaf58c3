#include "mfa/mfa_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "accounts/email.h"
#include "audit/audit.h"
#include "core/util.h"

static const char help[] =
    "usage: gatehouse users mfa-reset <email> --reason TEXT\n"
    "\n"
    "Removes the account's authenticator app (TOTP) and its backup codes and\n"
    "ends every session of the account, so that its owner signs in with the\n"
    "password (or an emailed link) alone and may set up a new factor. For an\n"
    "owner locked out by a factor that someone else enrolled before the\n"
    "address was proved (docs/decisions/0006). Check who is asking first:\n"
    "this removes a protection. Audited as mfa.reset with the reason, in the\n"
    "same transaction as the change.\n"
    "\n"
    "  --reason TEXT  required: why (a ticket number, who asked), 1-500 bytes\n"
    "\n"
    "Exit status: 0 reset; 1 the account has no second factor (nothing\n"
    "changed); 2 usage error, no such account, or a failure (nothing changed).\n";

static int usage_error(const char *msg)
{
    fprintf(stderr, "gatehouse: %s\nusage: gatehouse users mfa-reset <email> --reason TEXT\n", msg);
    return 2;
}

int mfa_cli_reset_parse(int argc, char **argv, struct mfa_cli_reset *a)
{
    const char *email = NULL;
    memset(a, 0, sizeof *a);
    for (int i = 3; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 0;
        }
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--reason")) {
            if (i + 1 >= argc) return usage_error("--reason needs a value");
            a->reason = argv[++i];
        } else if (!strncmp(argv[i], "--reason=", 9)) {
            a->reason = argv[i] + 9;
        } else if (argv[i][0] == '-') {
            return usage_error("unknown option");
        } else if (email) {
            return usage_error("one email address only");
        } else {
            email = argv[i];
        }
    }
    if (!email) return usage_error("which account? give its email address");
    if (!a->reason) return usage_error("--reason is required: say why the factor is removed");
    size_t n = strlen(a->reason), blank = strspn(a->reason, " \t\r\n");
    if (blank == n) return usage_error("--reason must not be empty");
    if (n > MFA_CLI_REASON_MAX) return usage_error("--reason is longer than 500 bytes");
    if (email_normalize(email, strlen(email), a->email, a->key) != GH_OK)
        return usage_error("that is not an email address");
    return -1;
}

int mfa_cli_reset_run(const struct store_ops *ops, struct store_conn *c,
                      const struct mfa_cli_reset *a)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = ops->users.by_email_key(c, a->key, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc) {
        fprintf(stderr, "gatehouse: %s; nothing was changed\n",
                rc == GH_ERR_NOT_FOUND ? "no account has that address" : "cannot read the account");
        return 2;
    }
    /* jansson escapes the operator's text and refuses what is not UTF-8. */
    json_t *d =
        json_pack("{s:s,s:s,s:s}", "factor", "totp", "reason", a->reason, "sessions", "revoked");
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (!details) {
        fprintf(stderr, "gatehouse: --reason must be UTF-8 text; nothing was changed\n");
        return 2;
    }
    struct store_audit ev = {
        .actor = "system", .action = "mfa.reset", .target = u.id, .details = details};
    /* Every session ends: the ones of whoever enrolled the factor with it. */
    rc = ops->totp.delete(c, u.id, NULL, gh_now_s(), audit_enabled() ? &ev : NULL);
    free(details);
    if (rc == GH_ERR_NOT_FOUND) {
        fprintf(stderr, "gatehouse: %s has no second factor; nothing was changed\n", a->email);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "gatehouse: could not reset the second factor; nothing was changed\n");
        return 2;
    }
    printf("%s: the authenticator app and backup codes are removed and every session has "
           "ended; the owner signs in without a second factor and may set up a new one\n",
           a->email);
    return 0;
}
