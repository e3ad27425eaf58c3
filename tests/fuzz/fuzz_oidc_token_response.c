/* Fuzzes fed_token_response_parse (the token endpoint's answer to the code
 * exchange). The first byte picks the HTTP status, the rest is the body.
 * Properties: an id_token comes out only from a 200, non-empty and within
 * FED_ID_TOKEN_MAX; a refusal's reason is "token endpoint: " and a plain
 * word (never text from the body beyond [a-z0-9_]); other statuses and
 * non-objects are "busy". */
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "federation/authorize.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gh_log_set_level(GH_LOG_CRIT);
    static const long statuses[] = {200, 400, 401, 500, 302, 200, 200, 400};
    long status = size ? statuses[data[0] % 8] : 200;
    const char *body = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    char *t = NULL, why[160] = "";
    enum gh_err rc = fed_token_response_parse(status, body, len, &t, why, sizeof why);
    if (rc == GH_OK) {
        FUZZ_CHECK(status == 200 && t && t[0] && strlen(t) <= FED_ID_TOKEN_MAX);
    } else {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(strncmp(why, "token endpoint: ", 16) == 0);
        if (rc == GH_ERR_DENIED) {
            FUZZ_CHECK(status == 200 || status == 400 || status == 401);
            for (const char *c = why + 16; *c; c++)
                FUZZ_CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                           *c == ' ');
        } else {
            FUZZ_CHECK(rc == GH_ERR_BUSY || rc == GH_ERR_NOMEM);
        }
    }
    gh_free_secret_str(t);
    return 0;
}
