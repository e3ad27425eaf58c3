#include "vault/vault_config.h"

#include "core/config.h"

enum gh_err vault_config_load(char *err, size_t errlen)
{
    return config_env_secret("GATEHOUSE_MASTER_KEY", &gh_cfg.master_key, err, errlen);
}
