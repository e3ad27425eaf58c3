/* Fuzzes the GATEHOUSE_CORS_ORIGINS parser. Properties: a refused list
 * leaves nothing listed and names why; every accepted origin is
 * NUL-terminated, starts with http:// or https://, holds no upper case,
 * path or wildcard, and is listed as itself (and never "null" or "*"). */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "guard/cors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char list[CORS_MAX_ORIGINS][CORS_ORIGIN_MAX + 1];
    char buf[4096], err[256];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int n = -1;
    for (int prod = 0; prod < 2; prod++) {
        if (cors_parse_origins(buf, list, CORS_MAX_ORIGINS, &n, prod, err, sizeof err) != GH_OK) {
            FUZZ_CHECK(n == 0 && strlen(err) > 0 && strlen(err) < sizeof err);
            continue;
        }
        FUZZ_CHECK(n >= 0 && n <= CORS_MAX_ORIGINS);
        const char(*cl)[CORS_ORIGIN_MAX + 1] = (const char(*)[CORS_ORIGIN_MAX + 1]) list;
        for (int i = 0; i < n; i++) {
            const char *o = list[i];
            FUZZ_CHECK(memchr(o, 0, CORS_ORIGIN_MAX + 1) != NULL);
            FUZZ_CHECK(strncmp(o, "https://", 8) == 0 || (!prod && strncmp(o, "http://", 7) == 0));
            const char *host = strstr(o, "://") + 3;
            FUZZ_CHECK(*host && !strchr(host, '/') && !strchr(host, '*') && !strchr(host, '@'));
            for (const char *p = o; *p; p++)
                FUZZ_CHECK(!isupper((unsigned char)*p) && *p > ' ');
            FUZZ_CHECK(cors_origin_listed(o, cl, n));
        }
        FUZZ_CHECK(!cors_origin_listed("null", cl, n) && !cors_origin_listed("*", cl, n));
    }
    return 0;
}
