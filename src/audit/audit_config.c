#include "audit/audit_config.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"

enum gh_err audit_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    const char *audit = config_env("GATEHOUSE_AUDIT");
    if (audit && strcmp(audit, "on") != 0 && strcmp(audit, "off") != 0) {
        snprintf(err, errlen, "GATEHOUSE_AUDIT must be on or off");
        return GH_ERR_CONFIG;
    }
    gh_cfg.audit = !(audit && strcmp(audit, "off") == 0);
    if (!gh_cfg.audit && gh_cfg.production) {
        snprintf(err, errlen, "GATEHOUSE_AUDIT=off is refused in production");
        return GH_ERR_CONFIG;
    }
    if ((rc = config_env_int("GATEHOUSE_AUDIT_VERIFY_INTERVAL", 3600, 0, 30 * 86400, &v, err,
                             errlen)))
        return rc;
    gh_cfg.audit_verify_interval = v;
    /* Failure rows a client can cause at will (failures.h): this many per
     * kind and client per window, then one summary row. */
    const char *f = config_env("GATEHOUSE_AUDIT_FAILURE_ROWS");
    gh_cfg.audit_failure_rows = 10;
    gh_cfg.audit_failure_window = 60;
    if (f && !config_parse_rate(f, &gh_cfg.audit_failure_rows, &gh_cfg.audit_failure_window)) {
        snprintf(err, errlen, "GATEHOUSE_AUDIT_FAILURE_ROWS must be COUNT/SECONDS, e.g. 10/60");
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}
