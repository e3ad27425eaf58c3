/* Mail's settings, parsed and checked into gh_cfg (core/config.h) after
 * core's config_load: GATEHOUSE_SMTP_URL, _SMTP_USER, _SMTP_PASSWORD(_FILE),
 * _SMTP_FROM, _SMTP_CA_FILE, _SMTP_STARTTLS (off refused in production) and
 * GATEHOUSE_TEMPLATE_DIR. */
#ifndef GH_MAIL_MAIL_CONFIG_H
#define GH_MAIL_MAIL_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/** Reads the settings above; GH_ERR_CONFIG with err naming the variable.
 *  The heap strings are freed (the password wiped) by config_free(). */
enum gh_err mail_config_load(char *err, size_t errlen) GH_WUR;

#endif
