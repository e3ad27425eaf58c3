/* The sessions' settings, parsed and checked into gh_cfg (core/config.h)
 * after core's config_load: token and session lifetimes
 * (GATEHOUSE_ACCESS_TTL, _REFRESH_TTL, _REFRESH_REUSE_GRACE,
 * _SESSION_MAX_AGE), clock skew, the signing keys (GATEHOUSE_SIGNING_KEY(_FILE),
 * _SIGNING_KEY_ACTIVATION_DELAY) and cookie mode over plain HTTP
 * (GATEHOUSE_INSECURE_DEV_COOKIES), and the cookie domain shared by hosts
 * behind the gate (GATEHOUSE_COOKIE_DOMAIN: read here; the cookie module
 * uses it). */
#ifndef GH_SESSIONS_SESSIONS_CONFIG_H
#define GH_SESSIONS_SESSIONS_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/** Reads the settings above; GH_ERR_CONFIG with err naming the variable.
 *  The signing key text (heap) is wiped and freed by config_free(). */
enum gh_err sessions_config_load(char *err, size_t errlen) GH_WUR;

#endif
