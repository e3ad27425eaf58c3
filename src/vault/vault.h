/* The vault: field encryption for every secret Gatehouse must read back
 * (signing private keys, TOTP seeds and queued mail now; provider tokens and
 * webhook secrets later). It owns all key material: the master key and the data keys live in
 * libsodium guarded memory, kept inaccessible (PROT_NONE) while unused, and
 * are wiped at shutdown. Callers get seal() and open(), never a key.
 *
 * Sealed format: "v1.<kid>.<nonce>.<ciphertext+tag>" (base64url parts),
 * AES-256-GCM with a fresh 96-bit nonce, and AAD = table, column, row id and
 * key id, so a value copied to another row or column does not open.
 * Data keys are stored in the vault_keys table wrapped (sealed) under the
 * master key; the newest seals, the older ones still open. Thread-safe. */
#ifndef GH_VAULT_VAULT_H
#define GH_VAULT_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define VAULT_KEYBYTES 32
#define VAULT_KID_LEN 8
#define VAULT_MAX_KEYS 32

/** Validates a master key given as text (64 hex characters, or 32 bytes in
 *  base64 / base64url) and refuses short or placeholder-looking values.
 *  On success out holds the 32 bytes (caller wipes). err names the problem. */
enum gh_err vault_parse_master_key(const char *text, uint8_t out[VAULT_KEYBYTES], char *err,
                                   size_t errlen) GH_WUR;

/** Dev mode: creates <data_dir>/master.key (base64url, mode 0600) if missing
 *  and returns its text in *out (free with gh_free_secret_str). */
enum gh_err vault_dev_master_key(const char *data_dir, char **out) GH_WUR;

/** Installs the master key (copied into guarded memory; the caller wipes
 *  its copy). Call once before anything else here. */
enum gh_err vault_init(const uint8_t master[VAULT_KEYBYTES]) GH_WUR;
void vault_shutdown(void);

/** Unwraps every data key in the store into memory. GH_ERR_DENIED if one
 *  does not open under the master key (wrong GATEHOUSE_MASTER_KEY). When
 *  create is true and the store has none, a first data key is made. */
enum gh_err vault_load(const struct store_ops *ops, struct store_conn *c, bool create) GH_WUR;

/** Adds a new data key (the new sealing key) and returns its kid. */
enum gh_err vault_add_key(const struct store_ops *ops, struct store_conn *c,
                          char kid[VAULT_KID_LEN + 1]) GH_WUR;

/** Master-key rotation: re-wraps every data key under new_master in one
 *  transaction and installs new_master in memory. Sealed values are not
 *  touched (they are sealed by the data keys). *n gets the count. */
enum gh_err vault_rewrap(const struct store_ops *ops, struct store_conn *c,
                         const uint8_t new_master[VAULT_KEYBYTES], size_t *n) GH_WUR;

/** kid of the key that seals now ("" if none loaded). */
void vault_current_kid(char kid[VAULT_KID_LEN + 1]);

/** Seals len bytes bound to (table, column, row_id). *out is a heap string. */
enum gh_err vault_seal(const char *table, const char *column, const char *row_id, const uint8_t *pt,
                       size_t len, char **out) GH_WUR;

/** Opens a sealed value bound to (table, column, row_id). *pt is heap
 *  memory of *len bytes plus a NUL; wipe and free it (vault_free).
 *  GH_ERR_DENIED when the value was altered, moved to another row or
 *  column, or its key is unknown; GH_ERR_INVALID when it is not a sealed
 *  value at all. */
enum gh_err vault_open(const char *table, const char *column, const char *row_id,
                       const char *sealed, uint8_t **pt, size_t *len) GH_WUR;

/** Wipes and frees what vault_open returned. */
void vault_free(uint8_t *pt, size_t len);

/** kid of a sealed value, without opening it. */
enum gh_err vault_sealed_kid(const char *sealed, char kid[VAULT_KID_LEN + 1]) GH_WUR;

/** A subkey for another purpose (e.g. the audit log's email HMAC), derived
 *  from the master key with HKDF-SHA256 and the label. Caller wipes out. */
enum gh_err vault_derive(const char *label, uint8_t out[32]) GH_WUR;

#endif
