/* Fuzzes the X-Request-Id acceptance check (gh_request_id_sane) against an
 * independent statement of the rule: an incoming id is echoed into the
 * response header and the JSON log line only if it is 1 to 64 characters of
 * [A-Za-z0-9._-], so an accepted id can never break out of either. The
 * input is cut at its first NUL, as a C string header value would be. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "http/server.h"

static bool oracle(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > GH_REQUEST_ID_MAX) return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4096];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    bool ok = gh_request_id_sane(buf);
    FUZZ_CHECK(ok == oracle(buf));
    if (ok) FUZZ_CHECK(strpbrk(buf, "\"\\\r\n\t <>'") == NULL);
    return 0;
}
