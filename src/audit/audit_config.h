/* The audit's settings, parsed and checked into gh_cfg (core/config.h)
 * after core's config_load: GATEHOUSE_AUDIT (off refused in production),
 * GATEHOUSE_AUDIT_VERIFY_INTERVAL and GATEHOUSE_AUDIT_FAILURE_ROWS. */
#ifndef GH_AUDIT_AUDIT_CONFIG_H
#define GH_AUDIT_AUDIT_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/** Reads the settings above; GH_ERR_CONFIG with err naming the variable. */
enum gh_err audit_config_load(char *err, size_t errlen) GH_WUR;

#endif
