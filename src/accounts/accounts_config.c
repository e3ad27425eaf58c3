#include "accounts/accounts_config.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"

/* Second factors: who must have one, and how long after sign-in a session
 * may add one unasked. */
static enum gh_err load_mfa(char *err, size_t errlen)
{
    int64_t v;
    const char *mfa = config_env("GATEHOUSE_MFA_REQUIRED");
    if (!mfa || strcmp(mfa, "off") == 0)
        gh_cfg.mfa_required = 0;
    else if (strcmp(mfa, "admins") == 0)
        gh_cfg.mfa_required = 1;
    else if (strcmp(mfa, "all") == 0)
        gh_cfg.mfa_required = 2;
    else {
        snprintf(err, errlen, "GATEHOUSE_MFA_REQUIRED must be off, admins or all");
        return GH_ERR_CONFIG;
    }
    enum gh_err rc = config_env_int("GATEHOUSE_REAUTH_WINDOW", 600, 0, 86400, &v, err, errlen);
    if (rc) return rc;
    gh_cfg.reauth_window = v;
    return GH_OK;
}

enum gh_err accounts_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    if ((rc = load_mfa(err, errlen))) return rc;
    if ((rc = config_env_int("GATEHOUSE_MAGIC_LINK_TTL", 600, 60, 86400, &v, err, errlen)))
        return rc;
    gh_cfg.magic_link_ttl = v;
    const char *ev = config_env("GATEHOUSE_EMAIL_VERIFICATION");
    if (!ev || strcmp(ev, "off") == 0)
        gh_cfg.email_verification = 0;
    else if (strcmp(ev, "on") == 0)
        gh_cfg.email_verification = 1;
    else if (strcmp(ev, "required") == 0)
        gh_cfg.email_verification = 2;
    else {
        snprintf(err, errlen, "GATEHOUSE_EMAIL_VERIFICATION must be off, on or required");
        return GH_ERR_CONFIG;
    }
    const char *ms = config_env("GATEHOUSE_MAGIC_LINK_SIGNUP");
    if (ms && strcmp(ms, "on") != 0 && strcmp(ms, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_MAGIC_LINK_SIGNUP must be on or off");
        return GH_ERR_CONFIG;
    }
    const char *su = config_env("GATEHOUSE_SIGNUP");
    if (su && strcmp(su, "open") != 0 && strcmp(su, "closed") != 0) {
        snprintf(err, errlen, "GATEHOUSE_SIGNUP must be open or closed");
        return GH_ERR_CONFIG;
    }
    gh_cfg.signup_closed = su && strcmp(su, "closed") == 0;
    /* Closed sign-up closes magic-link sign-up too: a link to an address
     * without an account is then never sent, so the request still answers
     * the same whether or not the address has one. */
    gh_cfg.magic_link_signup = ms && strcmp(ms, "on") == 0 && !gh_cfg.signup_closed;
    return GH_OK;
}
