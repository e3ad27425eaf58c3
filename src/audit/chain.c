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

/* Decimal digits of v into out (no NUL); returns the count. */
static size_t put_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Appends "<len>:<bytes>\n" to the buffer, hashing full chunks as it goes:
 * one digest update per row instead of three per field. */
struct canon {
    EVP_MD_CTX *ctx;
    char buf[2048];
    size_t len;
    int ok;
};

static void canon_flush(struct canon *c)
{
    if (c->len && EVP_DigestUpdate(c->ctx, c->buf, c->len) != 1) c->ok = 0;
    c->len = 0;
}

static void canon_bytes(struct canon *c, const char *p, size_t n)
{
    while (n > 0) {
        size_t room = sizeof c->buf - c->len;
        if (room == 0) {
            canon_flush(c);
            room = sizeof c->buf;
        }
        size_t k = n < room ? n : room;
        memcpy(c->buf + c->len, p, k);
        c->len += k;
        p += k;
        n -= k;
    }
}

static void canon_field(struct canon *c, const char *s)
{
    char num[24];
    size_t n = s ? strlen(s) : 0;
    size_t nl = put_u64(num, n);
    num[nl++] = ':';
    canon_bytes(c, num, nl);
    canon_bytes(c, s ? s : "", n);
    canon_bytes(c, "\n", 1);
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
    if (!prev_hex || strlen(prev_hex) != AUDIT_HASH_HEX ||
        gh_unhex(prev, sizeof prev, prev_hex, AUDIT_HASH_HEX) != GH_OK)
        return GH_ERR_INVALID;
    pthread_once(&md_once, fetch_md);
    if (!sha256_md) return GH_ERR_INTERNAL;
    char id[24];
    size_t idn = 0;
    if (row->id < 0) id[idn++] = '-';
    idn += put_u64(id + idn, row->id < 0 ? (uint64_t)(-(row->id + 1)) + 1 : (uint64_t)row->id);
    id[idn] = '\0';
    static const char magic[] = "gatehouse-audit-v1\n";
    unsigned int outlen = 0;
    if (EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1) return GH_ERR_INTERNAL;
    struct canon c = {.ctx = ctx, .ok = 1};
    canon_bytes(&c, (const char *)prev, 32);
    canon_bytes(&c, magic, sizeof magic - 1);
    canon_field(&c, id);
    canon_field(&c, row->occurred_at);
    canon_field(&c, row->actor);
    canon_field(&c, row->action);
    canon_field(&c, row->target);
    canon_field(&c, row->ip);
    canon_field(&c, row->user_agent);
    canon_field(&c, row->request_id);
    canon_field(&c, row->details);
    canon_flush(&c);
    if (!c.ok || EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32) return GH_ERR_INTERNAL;
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
