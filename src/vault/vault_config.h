/* The vault's setting: the master key text from GATEHOUSE_MASTER_KEY(_FILE),
 * read into gh_cfg.master_key after core's config_load (wiped from the
 * environment). Whether it is required (production) is checked by
 * config_check_production; its format by vault_parse_master_key when the
 * keys are opened (cli/startup.c). */
#ifndef GH_VAULT_VAULT_CONFIG_H
#define GH_VAULT_VAULT_CONFIG_H

#include <stddef.h>

#include "core/err.h"

/** Reads the master key text; GH_ERR_CONFIG with err naming the variable.
 *  The text (heap) is wiped and freed by config_free(), or by serve once
 *  the vault holds the key. */
enum gh_err vault_config_load(char *err, size_t errlen) GH_WUR;

#endif
