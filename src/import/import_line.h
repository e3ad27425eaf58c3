/* One account to import, checked: the generic JSON line of `gatehouse import
 * users` (docs/import.md, "The line format") turned into a record, or
 * refused with a reason for the report. The Auth.js and Supabase readers
 * build the same JSON object from their rows and call import_record_from_json,
 * so every source passes the same checks. Pure: no store, no vault, no
 * global state; the password hash is only checked for shape here (its
 * format is checked by legacy_hash_import when the run has an id for it).
 *
 * The reason strings never contain a value from the line (a hash, a TOTP
 * secret, an address), only field names and positions. */
#ifndef GH_IMPORT_IMPORT_LINE_H
#define GH_IMPORT_IMPORT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "credentials/legacy_hash.h"
#include "mfa/totp.h"
#include "store/store.h"

#define IMPORT_LINE_MAX (64 * 1024) /* one JSON line, bytes */
#define IMPORT_NAME_MAX 200         /* a display name, bytes of UTF-8 */
#define IMPORT_IDENTITIES_MAX 8     /* provider identities per account */
#define IMPORT_REASON_MAX 200       /* a report reason, bytes */
/* Oldest accepted created_at: 1970-01-01; newest: year 9999. */
#define IMPORT_TIME_MAX INT64_C(253402300799)

struct import_identity {
    char provider[STORE_PROVIDER_MAX + 1]; /* [a-z0-9_], 1..32 */
    char subject[STORE_SUBJECT_MAX + 1];   /* 1..255 bytes of UTF-8, no controls */
};

/* A checked account. Holds a password hash and a TOTP secret: clear it
 * with import_record_clear (wipes them and drops the format reference). */
struct import_record {
    char email[STORE_EMAIL_MAX + 1];         /* domain lower-cased (email_normalize) */
    char email_key[STORE_EMAIL_MAX + 1];     /* the uniqueness key */
    char name[IMPORT_NAME_MAX + 1];          /* "" none */
    bool email_verified;                     /* default false */
    int64_t created_at;                      /* Unix seconds; 0: not given (now) */
    char password_hash[LEGACY_HASH_MAX + 1]; /* "" none: the account has no password */
    json_t *hash_format;                     /* a copy (string or object) or NULL */
    struct import_identity identities[IMPORT_IDENTITIES_MAX];
    size_t n_identities;
    bool has_totp;
    /* The base32 secret, decoded; a shorter key is zero-padded: HMAC pads
     * keys shorter than its block with zeros, so the codes are the same. */
    uint8_t totp[TOTP_SECRET_BYTES];
    char role[STORE_ROLE_MAX + 1]; /* "user" (default) or "admin" */
};

/** Parses one line (no newline; at most IMPORT_LINE_MAX bytes) into out.
 *  GH_OK, or GH_ERR_INVALID with why (a sentence for the report) and out
 *  cleared. Refused: not UTF-8, not one JSON object, duplicate keys, and
 *  whatever import_record_from_json refuses. Clear out after GH_OK. */
enum gh_err import_line_parse(const char *line, size_t len, struct import_record *out, char *why,
                              size_t whylen) GH_WUR;

/** The same checks on an object already parsed (the other sources build
 *  one per row): unknown fields, wrong types, an invalid address, a bad
 *  date, a provider or subject out of shape, a bad base32 secret, an
 *  unknown role. GH_OK or GH_ERR_INVALID with why. Keeps a copy of
 *  the format (obj may be wiped after); clear out after GH_OK. */
enum gh_err import_record_from_json(const json_t *obj, struct import_record *out, char *why,
                                    size_t whylen) GH_WUR;

/** Wipes the hash and the secret, drops the format; safe twice. */
void import_record_clear(struct import_record *r);

/** RFC 3339 date-time ("2024-05-01T10:00:00Z", a fraction, an offset;
 *  a space instead of the T as PostgreSQL prints) into Unix seconds
 *  (fraction dropped). GH_ERR_INVALID if malformed or out of range. */
enum gh_err import_parse_time(const char *s, int64_t *out) GH_WUR;

/** RFC 4648 base32 (either case, '=' padding and spaces ignored) of a TOTP
 *  secret of 10..20 bytes into out, zero-padded to 20. GH_ERR_INVALID
 *  otherwise. out is wiped on failure. */
enum gh_err import_base32_secret(const char *s, uint8_t out[TOTP_SECRET_BYTES]) GH_WUR;

/** Whether name is a provider name: [a-z0-9_], 1..STORE_PROVIDER_MAX. */
bool import_provider_ok(const char *name);

#endif
