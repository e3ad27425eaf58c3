/* Fuzzes the query-string parser of GET /v1/audit (audit_parse_query).
 * Properties: an accepted query gives limit in 1..100 and before >= 0; it
 * is "" or '&'-separated pieces, each exactly "limit=" or "before=" and 1 to
 * 19 plain digits (nothing is decoded, so no %00, '+' or space), no name
 * twice, no empty piece; it keeps the defaults for a parameter it does not
 * name, and gives the same values when re-parsed from their canonical form;
 * a refused one leaves the outputs untouched. */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "accounts/audit_http.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[512]; /* struct gh_req's query buffer */
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int64_t limit = -7, before = -7;
    if (!audit_parse_query(buf, &limit, &before)) {
        FUZZ_CHECK(limit == -7 && before == -7);
        return 0;
    }
    FUZZ_CHECK(limit >= 1 && limit <= 100);
    FUZZ_CHECK(before >= 0);
    bool named_limit = false, named_before = false;
    for (const char *p = buf; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        bool l = n >= 6 && strncmp(p, "limit=", 6) == 0;
        bool b = n >= 7 && strncmp(p, "before=", 7) == 0;
        FUZZ_CHECK(l || b);
        FUZZ_CHECK(!(l && named_limit) && !(b && named_before));
        size_t k = l ? 6 : 7;
        FUZZ_CHECK(n > k && n - k <= 19);
        for (size_t i = k; i < n; i++)
            FUZZ_CHECK(p[i] >= '0' && p[i] <= '9');
        named_limit |= l;
        named_before |= b;
        if (!amp) break;
        p = amp + 1;
    }
    if (!named_limit) FUZZ_CHECK(limit == 50);
    if (!named_before) FUZZ_CHECK(before == 0);
    char canon[96];
    if (before)
        snprintf(canon, sizeof canon, "limit=%" PRId64 "&before=%" PRId64, limit, before);
    else
        snprintf(canon, sizeof canon, "limit=%" PRId64, limit);
    int64_t l2 = 0, b2 = -1;
    FUZZ_CHECK(audit_parse_query(canon, &l2, &b2));
    FUZZ_CHECK(l2 == limit && b2 == before);
    return 0;
}
