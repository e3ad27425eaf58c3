/* Unit tests for src/audit/chain.c: the canonical serialisation of an audit
 * row and its chained hash (chain.h). The expected values are computed here
 * independently, with OpenSSL EVP over canonical bytes written out by hand,
 * so a change to the format is caught even if writer and verifier change
 * together. */
#include "testutil.h"

#include <time.h>

#include "audit/chain.h"
#include "core/util.h"

/* ---- an independent implementation of chain.h's definition ---- */

static void sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, a, alen), 1);
    if (blen) assert_int_equal(EVP_DigestUpdate(ctx, b, blen), 1);
    assert_int_equal(EVP_DigestFinal_ex(ctx, out, &n), 1);
    assert_int_equal(n, 32);
    EVP_MD_CTX_free(ctx);
}

static void to_hex(char out[65], const uint8_t in[32])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[64] = '\0';
}

static void from_hex(uint8_t out[32], const char *hex)
{
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* hex(SHA-256(raw(prev_hex) || canonical)) */
static void expected(char out[65], const char *prev_hex, const char *canon, size_t canon_len)
{
    uint8_t prev[32], h[32];
    from_hex(prev, prev_hex);
    sha256(h, prev, 32, canon, canon_len);
    to_hex(out, h);
}

static void genesis_hex(char out[65])
{
    uint8_t h[32];
    const char label[] = "gatehouse-audit-genesis-v1";
    sha256(h, label, sizeof label - 1, NULL, 0);
    to_hex(out, h);
}

/* The golden row: an empty field, a NULL field, multibyte UTF-8 (2-, 3- and
 * 4-byte sequences), and a field holding the format's own ':' and '\n'. */
#define UA "curl/8 \xc3\xa9\xe2\x9c\x93 \xf0\x9f\x94\x91" /* "curl/8 é✓ 🔑": 17 bytes */
#define REQ "r:1\n2"
#define DETAILS "{\"email_hmac\":\"ab\",\"n\":1}"

static struct audit_row golden_row(void)
{
    return (struct audit_row){.id = 42,
                              .occurred_at = "2026-11-24T05:08:38.123456Z",
                              .actor = "7d4e2a3c-5b1f-4c8e-9a2d-0f6b3e8c1a57",
                              .action = "signin.failure",
                              .target = "",
                              .ip = NULL,
                              .user_agent = UA,
                              .request_id = REQ,
                              .details = DETAILS};
}

/* canonical(golden_row()), by hand */
static const char golden_canon[] = "gatehouse-audit-v1\n"
                                   "2:42\n"
                                   "27:2026-11-24T05:08:38.123456Z\n"
                                   "36:7d4e2a3c-5b1f-4c8e-9a2d-0f6b3e8c1a57\n"
                                   "14:signin.failure\n"
                                   "0:\n"
                                   "0:\n"
                                   "17:" UA "\n"
                                   "5:" REQ "\n"
                                   "25:" DETAILS "\n";

/* ---- tests ---- */

static void genesis(void **state)
{
    (void)state;
    char want[65];
    genesis_hex(want);
    assert_string_equal(audit_genesis_hex(), want);
    assert_string_equal(audit_genesis_hex(), want); /* cached, same */
    assert_int_equal(strlen(audit_genesis_hex()), AUDIT_HASH_HEX);
}

static void golden_hash(void **state)
{
    (void)state;
    /* the hand-written lengths match the bytes */
    assert_int_equal(strlen(UA), 17);
    assert_int_equal(strlen(REQ), 5);
    assert_int_equal(strlen(DETAILS), 25);

    char g[65], want[65], got[AUDIT_HASH_HEX + 1];
    genesis_hex(g);
    struct audit_row row = golden_row();
    expected(want, g, golden_canon, sizeof golden_canon - 1);
    assert_int_equal(audit_chain_hash(g, &row, got), GH_OK);
    assert_string_equal(got, want);
    /* pinned, so a change to the format cannot slip through unnoticed */
    assert_string_equal(got, "b64233c5895deeb551a137e5f28cfa9c10e13257619de43198a36c97b21146ac");

    /* the next row chains from it */
    struct audit_row next = row;
    next.id = 43;
    next.ip = "2001:db8::1";
    static const char next_canon[] = "gatehouse-audit-v1\n"
                                     "2:43\n"
                                     "27:2026-11-24T05:08:38.123456Z\n"
                                     "36:7d4e2a3c-5b1f-4c8e-9a2d-0f6b3e8c1a57\n"
                                     "14:signin.failure\n"
                                     "0:\n"
                                     "11:2001:db8::1\n"
                                     "17:" UA "\n"
                                     "5:" REQ "\n"
                                     "25:" DETAILS "\n";
    char want2[65], got2[AUDIT_HASH_HEX + 1];
    expected(want2, got, next_canon, sizeof next_canon - 1);
    assert_int_equal(audit_chain_hash(got, &next, got2), GH_OK);
    assert_string_equal(got2, want2);

    /* the same through a caller-owned, reused digest context */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(audit_chain_hash_ctx(ctx, g, &row, got2), GH_OK);
        assert_string_equal(got2, want);
        assert_int_equal(audit_chain_hash_ctx(ctx, got, &next, got2), GH_OK);
        assert_string_equal(got2, want2);
    }
    EVP_MD_CTX_free(ctx);
}

/* ids in decimal, negative and extreme ones included; all-NULL fields. */
static void ids_and_nulls(void **state)
{
    (void)state;
    char g[65], want[65], got[AUDIT_HASH_HEX + 1];
    genesis_hex(g);
    const struct {
        int64_t id;
        const char *canon;
    } cases[] = {
        {0, "gatehouse-audit-v1\n1:0\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n"},
        {1, "gatehouse-audit-v1\n1:1\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n"},
        {-5, "gatehouse-audit-v1\n2:-5\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n"},
        {INT64_MAX, "gatehouse-audit-v1\n19:9223372036854775807\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n"},
        {INT64_MIN,
         "gatehouse-audit-v1\n20:-9223372036854775808\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n0:\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct audit_row row = {.id = cases[i].id};
        expected(want, g, cases[i].canon, strlen(cases[i].canon));
        assert_int_equal(audit_chain_hash(g, &row, got), GH_OK);
        assert_string_equal(got, want);
        /* NULL and "" are the same */
        struct audit_row empty = {.id = cases[i].id,
                                  .occurred_at = "",
                                  .actor = "",
                                  .action = "",
                                  .target = "",
                                  .ip = "",
                                  .user_agent = "",
                                  .request_id = "",
                                  .details = ""};
        assert_int_equal(audit_chain_hash(g, &empty, got), GH_OK);
        assert_string_equal(got, want);
    }
}

/* A field longer than any internal buffer is hashed whole. */
static void long_field(void **state)
{
    (void)state;
    size_t n = 10000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    size_t cap = n + 200;
    char *canon = malloc(cap);
    assert_non_null(canon);
    int len = snprintf(canon, cap, "gatehouse-audit-v1\n1:7\n0:\n0:\n0:\n0:\n0:\n%zu:%s\n0:\n0:\n",
                       n, big);
    assert_true(len > 0 && (size_t)len < cap);
    char g[65], want[65], got[AUDIT_HASH_HEX + 1];
    genesis_hex(g);
    struct audit_row row = {.id = 7, .user_agent = big};
    expected(want, g, canon, (size_t)len);
    assert_int_equal(audit_chain_hash(g, &row, got), GH_OK);
    assert_string_equal(got, want);
    free(canon);
    free(big);
}

/* Any single change to a field, the id or prev changes the hash. */
static void every_field_counts(void **state)
{
    (void)state;
    char g[65], base[AUDIT_HASH_HEX + 1], got[AUDIT_HASH_HEX + 1];
    genesis_hex(g);
    const struct audit_row row = golden_row();
    assert_int_equal(audit_chain_hash(g, &row, base), GH_OK);

    for (int f = 0; f < 10; f++) {
        /* two variants per field: a one-character edit, and emptying it (or,
         * for the empty/NULL ones, filling it) */
        for (int v = 0; v < 2; v++) {
            struct audit_row r = row;
            switch (f) {
            case 0:
                r.id = v ? 41 : -42;
                break;
            case 1:
                r.occurred_at = v ? "2026-11-24T05:08:38.123457Z" : "";
                break;
            case 2:
                r.actor = v ? "7d4e2a3c-5b1f-4c8e-9a2d-0f6b3e8c1a58" : NULL;
                break;
            case 3:
                r.action = v ? "signin.success" : "";
                break;
            case 4:
                r.target = v ? "x" : " ";
                break;
            case 5:
                r.ip = v ? "0" : "192.0.2.1";
                break;
            case 6:
                r.user_agent = v ? "curl/8 \xc3\xa9\xe2\x9c\x93 \xf0\x9f\x94\x92" : "";
                break;
            case 7:
                r.request_id = v ? "r:1\n3" : "r:12";
                break;
            case 8:
                r.details = v ? "{\"email_hmac\":\"ab\",\"n\":2}" : "{}";
                break;
            default:
                break;
            }
            if (f == 9) {
                /* prev: one bit of the previous hash */
                char p[65];
                memcpy(p, g, sizeof p);
                p[v ? 0 : 63] = p[v ? 0 : 63] == '0' ? '1' : '0';
                assert_int_equal(audit_chain_hash(p, &r, got), GH_OK);
            } else {
                assert_int_equal(audit_chain_hash(g, &r, got), GH_OK);
            }
            if (strcmp(got, base) == 0) print_error("field %d variant %d: same hash\n", f, v);
            assert_string_not_equal(got, base);
        }
    }

    /* a byte moved across a field boundary is another row */
    struct audit_row a = {.id = 1, .actor = "ab", .action = "c"};
    struct audit_row b = {.id = 1, .actor = "a", .action = "bc"};
    char ha[AUDIT_HASH_HEX + 1], hb[AUDIT_HASH_HEX + 1];
    assert_int_equal(audit_chain_hash(g, &a, ha), GH_OK);
    assert_int_equal(audit_chain_hash(g, &b, hb), GH_OK);
    assert_string_not_equal(ha, hb);
    /* nor can a field forge the next field's framing */
    struct audit_row c = {.id = 1, .actor = "a\n1:c", .action = ""};
    struct audit_row d = {.id = 1, .actor = "a", .action = "c"};
    assert_int_equal(audit_chain_hash(g, &c, ha), GH_OK);
    assert_int_equal(audit_chain_hash(g, &d, hb), GH_OK);
    assert_string_not_equal(ha, hb);
}

static void malformed_prev(void **state)
{
    (void)state;
    char g[65], bad[80], got[AUDIT_HASH_HEX + 1];
    genesis_hex(g);
    struct audit_row row = golden_row();
    assert_int_equal(audit_chain_hash(NULL, &row, got), GH_ERR_INVALID);
    assert_int_equal(audit_chain_hash("", &row, got), GH_ERR_INVALID);
    snprintf(bad, sizeof bad, "%.63s", g);
    assert_int_equal(audit_chain_hash(bad, &row, got), GH_ERR_INVALID);
    snprintf(bad, sizeof bad, "%s0", g);
    assert_int_equal(audit_chain_hash(bad, &row, got), GH_ERR_INVALID);
    snprintf(bad, sizeof bad, "%.63sg", g);
    assert_int_equal(audit_chain_hash(bad, &row, got), GH_ERR_INVALID);
    snprintf(bad, sizeof bad, " %.63s", g);
    assert_int_equal(audit_chain_hash(bad, &row, got), GH_ERR_INVALID);
    snprintf(bad, sizeof bad, "%.62s\n", g);
    assert_int_equal(audit_chain_hash(bad, &row, got), GH_ERR_INVALID);
    snprintf(bad, sizeof bad, "%.31sx%.32s", g, g + 32);
    assert_int_equal(audit_chain_hash(bad, &row, got), GH_ERR_INVALID);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(audit_chain_hash_ctx(ctx, "zz", &row, got), GH_ERR_INVALID);
    /* the context is still usable afterwards */
    assert_int_equal(audit_chain_hash_ctx(ctx, g, &row, got), GH_OK);
    EVP_MD_CTX_free(ctx);
}

static void now_format(void **state)
{
    (void)state;
    char a[28], b[28];
    memset(a, 'x', sizeof a);
    /* The clock audit_now reads: time(NULL) is the coarse clock and may
     * still show the previous second at a second's boundary. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t before = ts.tv_sec;
    audit_now(a);
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t after = ts.tv_sec;
    assert_int_equal(strlen(a), 27);
    /* YYYY-MM-DDTHH:MM:SS.uuuuuuZ */
    const char *shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    for (int i = 0; i < 27; i++) {
        if (shape[i] == 'd')
            assert_true(a[i] >= '0' && a[i] <= '9');
        else
            assert_int_equal(a[i], shape[i]);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(a, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '.');
    time_t t = timegm(&tm);
    assert_true(t >= before && t <= after);
    /* lexical order is time order */
    audit_now(b);
    assert_true(strcmp(a, b) <= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genesis),
        cmocka_unit_test(golden_hash),
        cmocka_unit_test(ids_and_nulls),
        cmocka_unit_test(long_field),
        cmocka_unit_test(every_field_counts),
        cmocka_unit_test(malformed_prev),
        cmocka_unit_test(now_format),
    };
    test_config();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
