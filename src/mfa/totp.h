/* TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) through liboath,
 * plus what enrolment shows the user: the base32 secret, the otpauth URI
 * and the QR code as SVG. Pure functions, thread-safe after totp_init().
 * Secrets are raw bytes the caller seals with the vault and wipes. */
#ifndef GH_MFA_TOTP_H
#define GH_MFA_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define TOTP_SECRET_BYTES 20 /* 160 bits, RFC 4226's recommendation */
#define TOTP_BASE32_LEN 32   /* 20 bytes -> 32 base32 characters, no padding */
#define TOTP_STEP 30
#define TOTP_DIGITS 6
#define TOTP_WINDOW 1 /* steps accepted either side of now (clock drift) */

/** Initialises liboath once per process. */
enum gh_err totp_init(void) GH_WUR;
void totp_shutdown(void);

/** A fresh random secret. */
void totp_new_secret(uint8_t secret[TOTP_SECRET_BYTES]);

/** Base32 (RFC 4648, upper case, no padding) of the secret into out. */
enum gh_err totp_base32(const uint8_t secret[TOTP_SECRET_BYTES],
                        char out[TOTP_BASE32_LEN + 1]) GH_WUR;

/** "otpauth://totp/<issuer>:<account>?secret=..&issuer=..&algorithm=SHA1&
 *  digits=6&period=30", issuer and account percent-encoded. *out is heap
 *  (it holds the secret: wipe it with gh_free_secret_str). */
enum gh_err totp_uri(const uint8_t secret[TOTP_SECRET_BYTES], const char *issuer,
                     const char *account, char **out) GH_WUR;

/** The QR code of text as a standalone SVG document (black modules on
 *  white, a 4-module quiet zone). *out is heap; wipe it like the URI. */
enum gh_err totp_qr_svg(const char *text, char **out) GH_WUR;

/** Checks a code at time now. Accepted only if it matches a step within
 *  TOTP_WINDOW of now and that step is later than last_step (a code works
 *  once: replays, and older codes after a newer one, fail). On GH_OK *step
 *  receives the matched step for the caller to store as the new last_step.
 *  GH_ERR_DENIED otherwise (also for anything that is not 6 digits). The
 *  comparison is constant-time. */
enum gh_err totp_check(const uint8_t secret[TOTP_SECRET_BYTES], const char *code, int64_t now,
                       int64_t last_step, int64_t *step) GH_WUR;

/** The code for a given step (tests and tools). out gets 6 digits + NUL. */
enum gh_err totp_code_at(const uint8_t secret[TOTP_SECRET_BYTES], int64_t step,
                         char out[TOTP_DIGITS + 1]) GH_WUR;

#endif
