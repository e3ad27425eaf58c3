/* Fuzzes password_check_policy (sign-up and password change): zxcvbn on
 * arbitrary bytes, with the brand, issuer host and email as known words.
 * Argon2 is not fuzzed (no parser, and far too slow). Properties: the
 * length rules hold exactly, and a refusal always carries a reason. */
#include <string.h>

#include "core/config.h"
#include "credentials/password.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        init = 1;
        snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "Gatehouse");
        snprintf(gh_cfg.issuer, sizeof gh_cfg.issuer, "%s", FUZZ_ISSUER);
        gh_cfg.password_min_score = 3;
    }
    /* The first byte picks the email (none, plain, long local part). */
    static const char *emails[] = {NULL, "alice@example.com",
                                   "a.very.long.local.part.that.goes.on.and.on.for.a.while"
                                   "@example.com"};
    const char *email = size ? emails[data[0] % 3] : NULL;
    char reason[200];
    reason[0] = '\0';
    enum gh_err rc = password_check_policy((const char *)data, size, email, reason, sizeof reason);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_INVALID);
    if (size < PASSWORD_MIN_BYTES || size > PASSWORD_MAX_BYTES) FUZZ_CHECK(rc == GH_ERR_INVALID);
    if (rc == GH_ERR_INVALID) FUZZ_CHECK(strncmp(reason, "Password ", 9) == 0);
    return 0;
}
