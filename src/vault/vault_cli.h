/* The vault's part of `gatehouse keys rotate`: --encryption (a new data
 * key, every sealed value re-sealed under it; logic in rotate.c) and
 * --master (the data keys re-wrapped under GATEHOUSE_NEW_MASTER_KEY).
 * sessions/keys_cli.c parses the command and opens the store (with the
 * keys loaded); these print the outcome and return the exit code. */
#ifndef GH_VAULT_VAULT_CLI_H
#define GH_VAULT_VAULT_CLI_H

#include "store/store.h"

/** keys rotate --encryption: 0 done (audited as keys.rotated), 2 failed
 *  (run it again to resume). */
int vault_cli_rotate_encryption(const struct store_ops *ops, struct store_conn *c);

/** keys rotate --master: reads GATEHOUSE_NEW_MASTER_KEY(_FILE), re-wraps
 *  every data key under it (one transaction); 0 done, 2 nothing changed.
 *  The key text and bytes are wiped before returning. */
int vault_cli_rotate_master(const struct store_ops *ops, struct store_conn *c);

#endif
