#include "gate/rules_cli.h"

#include <stdio.h>
#include <string.h>

#include "accounts/email.h"
#include "cli/startup.h"
#include "core/util.h"
#include "gate/gate.h"
#include "gate/gate_config.h"
#include "store/store.h"

struct rules_test {
    const char *url, *user, *method;
};

static int parse(int argc, char **argv, struct rules_test *t)
{
    memset(t, 0, sizeof *t);
    t->method = "GET";
    if (argc < 4 || strcmp(argv[2], "test") != 0) return -1;
    t->url = argv[3];
    for (int i = 4; i < argc; i += 2) {
        if (i + 1 >= argc) return -1;
        if (!strcmp(argv[i], "--user"))
            t->user = argv[i + 1];
        else if (!strcmp(argv[i], "--method"))
            t->method = argv[i + 1];
        else
            return -1;
    }
    return 0;
}

/* One answer as a line: "302 to <url>", "200 pass (identity headers)", ... */
static void print_answer(const char *who, const struct gate_answer *a)
{
    printf("%s: %d", who, a->status);
    switch (a->verdict) {
    case GATE_PASS:
        printf(" pass%s\n", a->identity ? ", with the identity headers" : "");
        return;
    case GATE_SIGNIN:
    case GATE_STEP_UP:
        printf(" %s", a->verdict == GATE_SIGNIN ? "signin_required" : "step_up_required");
        if (a->location[0]) printf(", Location: %s", a->location);
        if (a->rd_refused) printf(" (no rd: the URL's host is not an allowed return URL)");
        printf("\n");
        return;
    case GATE_ENROL:
        printf(" mfa_enrolment_required\n");
        return;
    case GATE_FORBIDDEN:
        printf(" forbidden\n");
        return;
    }
}

/* The account's identity as the gate would see it (mfa_at set by the caller). */
static int lookup(const char *email_arg, struct authcache_identity *id)
{
    const struct store_ops *ops = store_backend();
    char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
    if (email_normalize(email_arg, strlen(email_arg), email, key) != GH_OK)
        return cli_die("that is not an email address");
    struct store_conn *c = NULL;
    int rc = cli_open_keys(0, &c);
    if (rc) return rc;
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err e = ops->users.by_email_key(c, key, &u);
    if (e != GH_OK)
        rc = cli_die(e == GH_ERR_NOT_FOUND ? "no account has that address"
                                           : "cannot read the account");
    memset(id, 0, sizeof *id);
    snprintf(id->user_id, sizeof id->user_id, "%s", u.id);
    snprintf(id->email, sizeof id->email, "%s", u.email);
    snprintf(id->role, sizeof id->role, "%s", u.role);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    ops->close(c);
    return rc;
}

static void report(const struct gate_set *s, const struct gate_request *g,
                   const struct authcache_identity *id)
{
    struct gate_answer a, b;
    int64_t now = gh_now_s();
    gate_decide(s, g, NULL, now, &a);
    char policy[RULES_ROLE_MAX + 64];
    if (a.policy == RULES_ROLE)
        snprintf(policy, sizeof policy, "role:%s", a.role);
    else if (a.policy == RULES_MFA && a.max_age_minutes)
        snprintf(policy, sizeof policy, "mfa (a factor within %u minutes)", a.max_age_minutes);
    else
        snprintf(policy, sizeof policy, "%s", rules_policy_name(a.policy));
    if (a.rule_line)
        printf("rule: line %u of %s: %s\n", a.rule_line, gate_cfg.rules_path, policy);
    else
        printf("rule: none matches; the default: %s\n", policy);
    struct gate_request api = *g;
    api.api_client = true;
    if (!id) {
        print_answer("an anonymous browser", &a);
        gate_decide(s, &api, NULL, now, &b);
        print_answer("an anonymous API client", &b);
        return;
    }
    struct authcache_identity recent = *id, none = *id;
    recent.mfa_at = now;
    none.mfa_at = 0;
    char who[STORE_EMAIL_MAX + 80];
    gate_decide(s, g, &recent, now, &a);
    gate_decide(s, g, &none, now, &b);
    snprintf(who, sizeof who, "%s (role %s)", id->email, id->role);
    if (a.status == b.status && a.verdict == b.verdict) {
        print_answer(who, &a);
        return;
    }
    snprintf(who, sizeof who, "%s (role %s) with a second factor just used", id->email, id->role);
    print_answer(who, &a);
    snprintf(who, sizeof who, "%s (role %s) without a recent one (a step-up is needed)", id->email,
             id->role);
    print_answer(who, &b);
}

int rules_cli(int argc, char **argv)
{
    struct rules_test t;
    if (parse(argc, argv, &t)) {
        fprintf(stderr, "gatehouse: usage: gatehouse rules test <url> [--user <email>] "
                        "[--method M]\n");
        return 2;
    }
    int rc = cli_load_config();
    if (rc) return rc;
    static struct gate_request g;
    memset(&g, 0, sizeof g);
    struct fwd_input in = {.orig_method = t.method, .orig_url = t.url};
    if (forwarded_parse(&in, &g.req) != FWD_OK) {
        cli_teardown();
        return cli_die("the gate refuses this request as unparsable (400): an absolute http(s) "
                       "URL, an upper-case method, and a path without dot segments, //, "
                       "backslashes, ';' or encoded '/', '\\', '%' or control bytes");
    }
    g.req.nginx = false; /* answered as to Caddy or Traefik (nginx: a 401 carrying Location) */
    struct authcache_identity id;
    if (t.user && (rc = lookup(t.user, &id))) {
        cli_teardown();
        return rc;
    }
    char err[512] = "";
    struct gate_set *s = NULL;
    if (gate_load(&s, err, sizeof err) != GH_OK) {
        cli_teardown();
        return cli_die(err);
    }
    printf("%s %s\n", g.req.method, g.req.url);
    report(s, &g, t.user ? &id : NULL);
    gate_set_free(s);
    cli_teardown();
    return 0;
}
