/* Fuzzes what a user types as a second factor: mfa_backup_canon (backup
 * codes) and totp_check's code check. Properties: a canonical backup code
 * is the input without dashes and spaces, lower-cased, 16 letters or
 * digits, and canonicalising it again is a fixed point; anything else is
 * refused. A TOTP code is accepted only as the 6 digits of a step within
 * the window of now and after the last used step. */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "mfa/mfa.h"
#include "mfa/totp.h"

/* RFC 6238's test secret; now is fixed so a corpus entry means the same
 * thing forever (1700000100 / 30 = step 56666670). */
static const uint8_t secret[TOTP_SECRET_BYTES] = "12345678901234567890";
#define NOW 1700000100

static void check_backup(const char *code)
{
    char canon[MFA_BACKUP_CANON_LEN + 1], again[MFA_BACKUP_CANON_LEN + 1], want[256];
    size_t n = 0;
    bool shape = true;
    for (const char *p = code; *p; p++) {
        if (*p == '-' || *p == ' ') continue;
        if (!isalnum((unsigned char)*p)) shape = false;
        if (n < sizeof want - 1) want[n++] = (char)tolower((unsigned char)*p);
    }
    want[n] = '\0';
    bool ok = mfa_backup_canon(code, canon);
    FUZZ_CHECK(ok == (shape && n == MFA_BACKUP_CANON_LEN));
    if (!ok) return;
    FUZZ_CHECK(strlen(canon) == MFA_BACKUP_CANON_LEN && strcmp(canon, want) == 0);
    for (size_t i = 0; i < MFA_BACKUP_CANON_LEN; i++)
        FUZZ_CHECK((canon[i] >= 'a' && canon[i] <= 'z') || (canon[i] >= '0' && canon[i] <= '9'));
    FUZZ_CHECK(mfa_backup_canon(canon, again) && strcmp(again, canon) == 0);
}

static void check_totp(const char *code, int64_t last)
{
    int64_t step = -777;
    enum gh_err rc = totp_check(secret, code, NOW, last, &step);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_DENIED);
    if (rc != GH_OK) {
        FUZZ_CHECK(step == -777);
        return;
    }
    FUZZ_CHECK(strlen(code) == TOTP_DIGITS && strspn(code, "0123456789") == TOTP_DIGITS);
    FUZZ_CHECK(step > last && step >= NOW / TOTP_STEP - TOTP_WINDOW &&
               step <= NOW / TOTP_STEP + TOTP_WINDOW);
    char want[TOTP_DIGITS + 1];
    FUZZ_CHECK(totp_code_at(secret, step, want) == GH_OK && strcmp(want, code) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        FUZZ_CHECK(totp_init() == GH_OK);
        ready = true;
    }
    char code[128];
    size_t n = size < sizeof code - 1 ? size : sizeof code - 1;
    memcpy(code, data, n);
    code[n] = '\0';
    check_backup(code);
    /* the first byte picks the last used step, so replays get fuzzed too */
    int64_t last = size ? NOW / TOTP_STEP - 2 + (int64_t)(data[0] % 4) : -1;
    check_totp(code, last);
    return 0;
}
