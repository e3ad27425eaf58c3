/* The guard's settings: rate limits (GATEHOUSE_RATE_LIMITS and
 * GATEHOUSE_LIMIT_<RULE>), lockout, whose address a request is
 * (GATEHOUSE_TRUSTED_PROXIES, GATEHOUSE_CLIENT_IP_HEADER,
 * GATEHOUSE_IPV6_PREFIX), who may read /metrics (GATEHOUSE_METRICS_ALLOW),
 * the CORS allowlist and Redis (GATEHOUSE_REDIS_*), parsed and checked
 * after core's config_load. Values of plain types go into gh_cfg
 * (core/config.h); those of the guard's own types into the struct of the
 * file that uses them: proxy_cfg (proxy.h), cors_cfg (cors.h),
 * limit_redis_cfg (limit_redis.h). This file includes them; they never
 * include it. All are read-only once loaded. */
#ifndef GH_GUARD_GUARD_CONFIG_H
#define GH_GUARD_GUARD_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/** Clears and reads the guard's settings (after config_load: it needs
 *  gh_cfg.production). On GH_ERR_CONFIG, err names the variable. */
enum gh_err guard_config_load(char *err, size_t errlen) GH_WUR;

/** Wipes and frees the Redis password. */
void guard_config_free(void);

#endif
