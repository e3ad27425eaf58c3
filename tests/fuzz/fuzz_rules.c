/* Fuzzes the access-rules loader (src/gate/rules.c) from a buffer.
 * Properties: a refused file leaves nothing and names why, with the name
 * given; an accepted one has at most RULES_MAX rules, each with a policy
 * the enum knows, lower-case hosts and paths that start with '/', and
 * matching a few requests against it returns a rule (never NULL). */
#include <string.h>

#include "fuzz.h"
#include "gate/rules.h"

static const char *const ROLES[] = {"user", "admin"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    struct rules *r = NULL;
    char err[256] = "";
    enum gh_err rc =
        rules_load_buffer((const char *)data, size, "f.yaml", ROLES, 2, &r, err, sizeof err);
    if (rc != GH_OK) {
        FUZZ_CHECK(r == NULL && strncmp(err, "f.yaml", 6) == 0);
        return 0;
    }
    FUZZ_CHECK(r != NULL && rules_count(r) <= RULES_MAX);
    for (size_t i = 0; i <= rules_count(r); i++) {
        const struct rule *x = rules_at(r, i);
        FUZZ_CHECK(x->policy <= RULES_ROLE);
        FUZZ_CHECK(x->policy != RULES_ROLE || x->role[0]);
        FUZZ_CHECK(!x->path_prefix || x->path_prefix[0] == '/');
        for (size_t k = 0; x->host && k < x->host_len; k++)
            FUZZ_CHECK(!(x->host[k] >= 'A' && x->host[k] <= 'Z'));
    }
    static const char *const HOSTS[] = {NULL, "a.example.com", "A.EXAMPLE.COM:8443", "[::1]:80"};
    static const char *const PATHS[] = {"/", "/admin", "/api/v1/x", ""};
    for (int i = 0; i < 4; i++) {
        const struct rule *x =
            rules_match(r, i & 1 ? "POST" : "GET", HOSTS[i], PATHS[i], strlen(PATHS[i]));
        FUZZ_CHECK(x != NULL);
    }
    rules_free(r);
    return 0;
}
