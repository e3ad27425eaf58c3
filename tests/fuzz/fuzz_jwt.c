/* Fuzzes jwt_verify (the bearer token of every authenticated request) with
 * a fixed test key and clock, and refresh_hash (the refresh_token field).
 * A token the fuzzer cannot sign only exercises parsing, so the corpus
 * holds genuine tokens of the fixed key for mutations to start from.
 * Properties: accepted claims are within their limits and time window, and
 * the accepted token's header holds only alg, kid and typ (no jku, x5u,
 * jwk, x5c, crit: the corpus has such tokens signed by the fixed key);
 * an accepted refresh token is 43 characters and hashed as its text. */
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "fuzz.h"
#include "sessions/jwt.h"
#include "sessions/refresh.h"

static void init_once(void)
{
    static int done;
    if (done) return;
    done = 1;
    gh_log_set_level(GH_LOG_CRIT);
    snprintf(gh_cfg.issuer, sizeof gh_cfg.issuer, "%s", FUZZ_ISSUER);
    snprintf(gh_cfg.audience, sizeof gh_cfg.audience, "%s", FUZZ_AUDIENCE);
    /* The defaults: without them every token's life (exp - iat) is over the
     * limit and nothing is ever accepted (the acceptance checks below were
     * dead until this was set). */
    gh_cfg.access_ttl = 3600;
    gh_cfg.clock_skew = 60;
    if (jwt_init(FUZZ_SIGNING_KEY_PEM) != GH_OK) {
        fprintf(stderr, "fuzz_jwt: jwt_init failed\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    const char *tok = (const char *)data;

    struct jwt_claims c;
    memset(&c, 0, sizeof c);
    if (jwt_verify(tok, size, FUZZ_NOW, &c) == GH_OK) {
        FUZZ_CHECK(size <= JWT_MAX_LEN);
        size_t l = strnlen(c.sub, sizeof c.sub);
        FUZZ_CHECK(l >= 1 && l <= STORE_ID_LEN);
        l = strnlen(c.sid, sizeof c.sid);
        FUZZ_CHECK(l >= 1 && l <= STORE_ID_LEN);
        l = strnlen(c.jti, sizeof c.jti);
        FUZZ_CHECK(l >= 1 && l <= JWT_JTI_MAX);
        FUZZ_CHECK(c.exp > FUZZ_NOW);
        FUZZ_CHECK(c.iat <= FUZZ_NOW + 60 && c.iat <= c.exp);
        FUZZ_CHECK(c.rev >= -1); /* absent, or a non-negative integer */
        /* the header names no key location or extension */
        const char *dot = memchr(tok, '.', size);
        uint8_t hb[1024];
        size_t hl = 0;
        FUZZ_CHECK(dot && gh_b64url_decode(hb, sizeof hb, &hl, tok, (size_t)(dot - tok)) == GH_OK);
        json_t *hdr = json_loadb((const char *)hb, hl, 0, NULL);
        FUZZ_CHECK(json_is_object(hdr));
        const char *k;
        json_t *v;
        json_object_foreach(hdr, k, v)
        {
            FUZZ_CHECK(!strcmp(k, "alg") || !strcmp(k, "kid") || !strcmp(k, "typ"));
        }
        json_decref(hdr);
        /* the same token is refused once expired */
        struct jwt_claims c2;
        FUZZ_CHECK(jwt_verify(tok, size, c.exp, &c2) == GH_ERR_DENIED);
    }

    uint8_t h[32], want[32];
    if (refresh_hash(tok, size, h) == GH_OK) {
        FUZZ_CHECK(size == REFRESH_TOKEN_LEN);
        FUZZ_CHECK(gh_sha256(want, tok, size) == GH_OK && memcmp(h, want, 32) == 0);
    }
    return 0;
}
