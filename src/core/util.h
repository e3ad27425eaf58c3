/* Small helpers every module uses: CSPRNG, base64url, hashing, constant-time
 * comparison, wiping, time. Nothing here allocates unless it says so. */
#ifndef GH_CORE_UTIL_H
#define GH_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#include "core/err.h"

#define GH_SHA256_BYTES 32
/** Base64url (no padding) length of n bytes, without the NUL. */
#define GH_B64URL_LEN(n) ((((n)*4) + 2) / 3)

/** Fills buf with len bytes from the OS CSPRNG (libsodium). Cannot fail. */
void gh_random(void *buf, size_t len);

/** Encodes len bytes as unpadded base64url into out (NUL-terminated).
 *  Returns GH_ERR_INVALID if outcap < GH_B64URL_LEN(len) + 1. */
enum gh_err gh_b64url_encode(char *out, size_t outcap, const void *in, size_t len) GH_WUR;

/** Decodes unpadded base64url. *outlen receives the byte count.
 *  GH_ERR_INVALID on bad characters, padding, trailing bits or overflow. */
enum gh_err gh_b64url_decode(void *out, size_t outcap, size_t *outlen, const char *in,
                             size_t inlen) GH_WUR;

/** Random token of nbytes (<= 64) CSPRNG bytes, base64url into out. */
enum gh_err gh_random_token(char *out, size_t outcap, size_t nbytes) GH_WUR;

/** Lower-case hex of len bytes into out (needs 2*len+1). */
void gh_hex(char *out, const void *in, size_t len);

/** Decodes exactly 2*outlen hex characters. GH_ERR_INVALID otherwise. */
enum gh_err gh_unhex(uint8_t *out, size_t outlen, const char *in, size_t inlen) GH_WUR;

/** SHA-256 of in. Returns GH_ERR_INTERNAL only if libcrypto fails. */
enum gh_err gh_sha256(uint8_t out[GH_SHA256_BYTES], const void *in, size_t len) GH_WUR;

/** Constant-time equality for secrets. NULL or a length mismatch is "not
 *  equal" (fail closed); the time depends only on the lengths. */
bool gh_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/** Wipes memory that held a secret; the compiler cannot elide it. */
void gh_wipe(void *p, size_t len);
/** Wipes and frees a NUL-terminated heap string. NULL is allowed. */
void gh_free_secret_str(char *s);

/** Wipes every string inside a JSON value (request and response bodies hold
 *  passwords and tokens); call before json_decref. NULL is allowed. */
struct json_t;
void gh_json_wipe(struct json_t *j);

/** Wall clock. */
int64_t gh_now_s(void);
int64_t gh_now_us(void);
/** Monotonic clock in microseconds, for durations. */
int64_t gh_mono_us(void);
/** Whether y-mo-d h:mi:s names a real UTC time (2023-02-30 or hour 24 do
 *  not: timegm would move them); if so *out gets its Unix seconds. */
bool gh_utc_time(int y, int mo, int d, int h, int mi, int s, int64_t *out);

/** RFC 3339 UTC timestamp with seconds and Z ("2026-11-24T04:13:42Z").
 *  out needs GH_RFC3339_LEN + 1 bytes. */
#define GH_RFC3339_LEN 20
void gh_rfc3339(char out[GH_RFC3339_LEN + 1], int64_t t);

/** Parses a whole decimal string into [min,max]. GH_ERR_INVALID otherwise. */
enum gh_err gh_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) GH_WUR;

/** Appends s percent-encoded (RFC 3986: the unreserved characters and
 *  those in keep stay, every other byte is %XX) at out + *o, NUL-terminated,
 *  advancing *o. false when it does not fit: out then ends where the last
 *  whole character fitted (the callers drop it, or take the cut). */
bool gh_pct_append(char *out, size_t cap, size_t *o, const char *s, const char *keep);

/** True if s (len bytes) is valid UTF-8 without NUL or overlong forms. */
bool gh_utf8_valid(const char *s, size_t len);

#endif
