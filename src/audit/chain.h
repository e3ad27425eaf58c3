/* The audit log's hash chain: the canonical serialisation of a row and
 * its hash. Pure functions, shared by the writer (store backends) and the
 * verifier, and specified in docs/audit.md so a third party can
 * re-implement the check.
 *
 *   canonical(row) = "gatehouse-audit-v1\n" followed by, for each field in
 *     the order id, occurred_at, actor, action, target, ip, user_agent,
 *     request_id, details: the field's length in bytes in decimal, ':',
 *     the bytes (UTF-8, unescaped), '\n'. id is written in decimal.
 *   hash(row) = SHA-256(prev_hash || canonical(row)), prev_hash being the
 *     32 raw bytes of the previous row's hash; the first row's prev_hash is
 *     AUDIT_GENESIS = SHA-256("gatehouse-audit-genesis-v1").
 *   Hashes are stored as 64 lower-case hex characters. */
#ifndef GH_AUDIT_CHAIN_H
#define GH_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/err.h"

#define AUDIT_HASH_HEX 64

struct audit_row {
    int64_t id;
    const char *occurred_at; /* "2026-11-24T05:08:38.123456Z" */
    const char *actor;       /* user id, "system" or "anonymous" */
    const char *action;      /* e.g. "signin.failure" */
    const char *target;
    const char *ip;
    const char *user_agent;
    const char *request_id;
    const char *details; /* compact JSON object */
};

/** The genesis value as hex (static string). */
const char *audit_genesis_hex(void);

/** hash_hex = hex(SHA-256(raw(prev_hex) || canonical(row))). NULL fields
 *  count as empty. GH_ERR_INVALID if prev_hex is not 64 hex characters. */
enum gh_err audit_chain_hash(const char *prev_hex, const struct audit_row *row,
                             char hash_hex[AUDIT_HASH_HEX + 1]) GH_WUR;

/** The same with a caller-owned digest context (for bulk verification). */
enum gh_err audit_chain_hash_ctx(EVP_MD_CTX *ctx, const char *prev_hex, const struct audit_row *row,
                                 char hash_hex[AUDIT_HASH_HEX + 1]) GH_WUR;

/** Current UTC time as RFC 3339 with microseconds and Z; out needs 28 bytes. */
void audit_now(char out[28]);

#endif
