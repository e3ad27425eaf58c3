#include "mail/mail_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

enum gh_err mail_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    if ((rc = config_env_str(gh_cfg.smtp_from, sizeof gh_cfg.smtp_from, "GATEHOUSE_SMTP_FROM",
                             "no-reply@localhost", err, errlen)))
        return rc;
    if (strpbrk(gh_cfg.smtp_from, "\r\n")) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_FROM must be one line");
        return GH_ERR_CONFIG;
    }
    if ((rc = config_env_str(gh_cfg.smtp_ca_file, sizeof gh_cfg.smtp_ca_file,
                             "GATEHOUSE_SMTP_CA_FILE", "", err, errlen)))
        return rc;
    const char *su = config_env("GATEHOUSE_SMTP_URL"), *us = config_env("GATEHOUSE_SMTP_USER");
    if (su && strncmp(su, "smtp://", 7) != 0 && strncmp(su, "smtps://", 8) != 0) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_URL must start with smtp:// or smtps://");
        return GH_ERR_CONFIG;
    }
    gh_cfg.smtp_url = su ? strdup(su) : NULL;
    gh_cfg.smtp_user = us ? strdup(us) : NULL;
    if ((rc = config_env_secret("GATEHOUSE_SMTP_PASSWORD", &gh_cfg.smtp_password, err, errlen)))
        return rc;
    const char *st = config_env("GATEHOUSE_SMTP_STARTTLS");
    if (st && strcmp(st, "required") != 0 && strcmp(st, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_STARTTLS must be required or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.smtp_starttls = !(st && strcmp(st, "off") == 0);
    if (!gh_cfg.smtp_starttls && gh_cfg.production) {
        snprintf(err, errlen, "GATEHOUSE_SMTP_STARTTLS=off is refused in production");
        return GH_ERR_CONFIG;
    }
    return config_env_str(gh_cfg.template_dir, sizeof gh_cfg.template_dir, "GATEHOUSE_TEMPLATE_DIR",
                          "", err, errlen);
}
