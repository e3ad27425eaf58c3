/* The accounts' settings, parsed and checked into gh_cfg (core/config.h)
 * after core's config_load: second factors (GATEHOUSE_MFA_REQUIRED,
 * GATEHOUSE_REAUTH_WINDOW) and the emailed links (GATEHOUSE_MAGIC_LINK_TTL,
 * GATEHOUSE_EMAIL_VERIFICATION, GATEHOUSE_MAGIC_LINK_SIGNUP) and whether
 * accounts may be created at all (GATEHOUSE_SIGNUP=open|closed). */
#ifndef GH_ACCOUNTS_ACCOUNTS_CONFIG_H
#define GH_ACCOUNTS_ACCOUNTS_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/** Reads the settings above; GH_ERR_CONFIG with err naming the variable. */
enum gh_err accounts_config_load(char *err, size_t errlen) GH_WUR;

#endif
