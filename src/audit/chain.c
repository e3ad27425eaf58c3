#include "audit/chain.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/util.h"

static const char genesis_label[] = "gatehouse-audit-genesis-v1";
static char genesis_hex[AUDIT_HASH_HEX + 1];

const char *audit_genesis_hex(void)
{
    if (!genesis_hex[0]) {
        uint8_t h[32];
        if (gh_sha256(h, genesis_label, sizeof genesis_label - 1) == GH_OK)
            gh_hex(genesis_hex, h, 32);
    }
    return genesis_hex;
}

static int feed(EVP_MD_CTX *ctx, const char *s)
{
    char len[24];
    size_t n = s ? strlen(s) : 0;
    int ll = snprintf(len, sizeof len, "%zu:", n);
    return EVP_DigestUpdate(ctx, len, (size_t)ll) == 1 &&
           (n == 0 || EVP_DigestUpdate(ctx, s, n) == 1) && EVP_DigestUpdate(ctx, "\n", 1) == 1;
}

static EVP_MD *sha256_md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

/* Fetched once: an implicit fetch per row costs more than the hash. */
static void fetch_md(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

enum gh_err audit_chain_hash(const char *prev_hex, const struct audit_row *row,
                             char hash_hex[AUDIT_HASH_HEX + 1])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return GH_ERR_NOMEM;
    enum gh_err rc = audit_chain_hash_ctx(ctx, prev_hex, row, hash_hex);
    EVP_MD_CTX_free(ctx);
    return rc;
}

enum gh_err audit_chain_hash_ctx(EVP_MD_CTX *ctx, const char *prev_hex, const struct audit_row *row,
                                 char hash_hex[AUDIT_HASH_HEX + 1])
{
    uint8_t prev[32], out[32];
    size_t n = 0;
    if (!prev_hex || strlen(prev_hex) != AUDIT_HASH_HEX ||
        sodium_hex2bin(prev, sizeof prev, prev_hex, AUDIT_HASH_HEX, NULL, &n, NULL) != 0 || n != 32)
        return GH_ERR_INVALID;
    pthread_once(&md_once, fetch_md);
    if (!sha256_md) return GH_ERR_INTERNAL;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)row->id);
    static const char magic[] = "gatehouse-audit-v1\n";
    unsigned int outlen = 0;
    if (EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1 || EVP_DigestUpdate(ctx, prev, 32) != 1 ||
        EVP_DigestUpdate(ctx, magic, sizeof magic - 1) != 1 || !feed(ctx, id) ||
        !feed(ctx, row->occurred_at) || !feed(ctx, row->actor) || !feed(ctx, row->action) ||
        !feed(ctx, row->target) || !feed(ctx, row->ip) || !feed(ctx, row->user_agent) ||
        !feed(ctx, row->request_id) || !feed(ctx, row->details) ||
        EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32)
        return GH_ERR_INTERNAL;
    gh_hex(hash_hex, out, 32);
    return GH_OK;
}

void audit_now(char out[28])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + 19, 9, ".%06ldZ", (long)tv.tv_usec);
}
