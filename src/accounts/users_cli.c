#include "accounts/users_cli.h"

#include <stdio.h>
#include <string.h>

#include "accounts/email.h"
#include "audit/audit.h"
#include "cli/startup.h"
#include "core/util.h"
#include "mfa/mfa_cli.h"
#include "store/store.h"

/* users role <email> <user|admin>: the only way to make an admin until an
 * admin API exists. Audited as role.changed with the change in one
 * transaction; the store appends its change event in the same one, so
 * running servers apply the role within about a second
 * (sessions/changes.h). GATEHOUSE_MFA_REQUIRED=admins applies from the
 * account's next sign-in. */
int users_cli(int argc, char **argv)
{
    /* The backend is known once the configuration is read. */
    const struct store_ops *ops = NULL;
    struct mfa_cli_reset mr;
    int mrc = argc > 2 && !strcmp(argv[2], "mfa-reset") ? mfa_cli_reset_parse(argc, argv, &mr) : -2;
    if (mrc >= 0) return mrc;
    if (mrc == -1) { /* logic in mfa/mfa_cli.c */
        struct store_conn *c = NULL;
        if (!(mrc = cli_load_config()) && (ops = store_backend()) && !(mrc = cli_open_keys(0, &c)))
            mrc = mfa_cli_reset_run(ops, c, &mr);
        if (c) ops->close(c);
        cli_teardown();
        return mrc;
    }
    if (argc != 5 || strcmp(argv[2], "role") != 0) {
        fprintf(stderr, "gatehouse: usage: gatehouse users role <email> <user|admin>\n"
                        "       gatehouse users mfa-reset <email> --reason TEXT\n");
        return 2;
    }
    const char *role = argv[4];
    if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)
        return cli_die("the role is user or admin");
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(argv[3], strlen(argv[3]), email, key) != GH_OK)
        return cli_die("that is not an email address");
    int rc = cli_load_config();
    ops = store_backend();
    struct store_conn *c = NULL;
    if (!rc) rc = cli_open_keys(0, &c); /* and the audit log's keys */
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err e = GH_OK;
    if (!rc && (e = ops->users.by_email_key(c, key, &u)) != GH_OK)
        rc = cli_die(e == GH_ERR_NOT_FOUND ? "no account has that address"
                                           : "cannot read the account");
    if (!rc && strcmp(u.role, role) == 0) {
        printf("%s is already %s\n", email, role);
    } else if (!rc) {
        char details[96];
        snprintf(details, sizeof details, "{\"from\":\"%s\",\"to\":\"%s\"}", u.role, role);
        struct store_audit ev = {
            .actor = "system", .action = "role.changed", .target = u.id, .details = details};
        if (ops->users.set_role(c, u.id, role, audit_enabled() ? &ev : NULL) != GH_OK)
            rc = cli_die("could not change the role; nothing was changed");
        else
            printf("%s is now %s (running servers apply it within about a second)\n", email, role);
    }
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (c) ops->close(c);
    cli_teardown();
    return rc;
}
