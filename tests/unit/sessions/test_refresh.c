/* Unit tests for src/sessions/refresh.c. */
#include "testutil.h"

#include "core/util.h"
#include "sessions/refresh.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void new_token_shape(void **state)
{
    (void)state;
    char a[REFRESH_TOKEN_LEN + 1], b[REFRESH_TOKEN_LEN + 1];
    uint8_t ha[32], hb[32], h[32], raw[REFRESH_RAW_BYTES + 4];
    assert_int_equal(refresh_new(a, ha), GH_OK);
    assert_int_equal(refresh_new(b, hb), GH_OK);
    assert_int_equal(strlen(a), REFRESH_TOKEN_LEN);
    assert_int_equal(strlen(a), 43);
    assert_int_equal(strspn(a, b64url_alphabet), 43);
    size_t n = 0;
    assert_int_equal(gh_b64url_decode(raw, sizeof raw, &n, a, strlen(a)), GH_OK);
    assert_int_equal(n, 32);
    /* two tokens (and their hashes) differ */
    assert_string_not_equal(a, b);
    assert_memory_not_equal(ha, hb, 32);
    /* the hash is SHA-256 of the token text, and refresh_hash agrees */
    assert_int_equal(gh_sha256(h, a, strlen(a)), GH_OK);
    assert_memory_equal(h, ha, 32);
    memset(h, 0, sizeof h);
    assert_int_equal(refresh_hash(a, strlen(a), h), GH_OK);
    assert_memory_equal(h, ha, 32);
}

static void expect_hash_denied(const char *tok, size_t len)
{
    uint8_t h[32];
    if (refresh_hash(tok, len, h) != GH_ERR_DENIED) fail_msg("accepted \"%.*s\"", (int)len, tok);
}

static void hash_rejects(void **state)
{
    (void)state;
    char tok[REFRESH_TOKEN_LEN + 1];
    uint8_t h[32];
    assert_int_equal(refresh_new(tok, h), GH_OK);
    char buf[REFRESH_TOKEN_LEN + 8];

    /* wrong lengths */
    expect_hash_denied("", 0);
    expect_hash_denied(tok, REFRESH_TOKEN_LEN - 1);
    snprintf(buf, sizeof buf, "%sA", tok);
    expect_hash_denied(buf, REFRESH_TOKEN_LEN + 1);
    snprintf(buf, sizeof buf, "%sAAAA", tok); /* 47 chars = 35 bytes */
    expect_hash_denied(buf, REFRESH_TOKEN_LEN + 4);
    /* 44 chars of standard padded base64 of 32 bytes */
    snprintf(buf, sizeof buf, "%.42sA=", tok);
    expect_hash_denied(buf, 44);

    /* right length, wrong characters */
    const char *bad = "+/= .!\n\0\xc3";
    for (const char *p = bad; p < bad + 9; p++) {
        for (size_t pos = 0; pos < REFRESH_TOKEN_LEN; pos += 21) {
            memcpy(buf, tok, REFRESH_TOKEN_LEN + 1);
            buf[pos] = *p;
            expect_hash_denied(buf, REFRESH_TOKEN_LEN);
        }
    }
    /* right length, non-zero trailing bits (43 chars carry 258 bits) */
    memcpy(buf, tok, REFRESH_TOKEN_LEN + 1);
    const char *idx = strchr(b64url_alphabet, buf[42]);
    assert_non_null(idx);
    buf[42] = b64url_alphabet[((size_t)(idx - b64url_alphabet) & ~3u) | 1u];
    expect_hash_denied(buf, REFRESH_TOKEN_LEN);
    buf[42] = b64url_alphabet[((size_t)(idx - b64url_alphabet) & ~3u)];
    assert_int_equal(refresh_hash(buf, REFRESH_TOKEN_LEN, h), GH_OK);

    /* any 32 bytes with clean trailing bits pass */
    uint8_t raw[32];
    memset(raw, 0, sizeof raw);
    assert_int_equal(gh_b64url_encode(buf, sizeof buf, raw, sizeof raw), GH_OK);
    assert_int_equal(refresh_hash(buf, REFRESH_TOKEN_LEN, h), GH_OK);
}

static void seal_open_round_trip(void **state)
{
    (void)state;
    char tok[REFRESH_TOKEN_LEN + 1];
    uint8_t h[32];
    assert_int_equal(refresh_new(tok, h), GH_OK);
    const char *msg = "{\"a\":\"eyJ.access.token\",\"r\":\"next-refresh-token\"}";
    size_t ml = strlen(msg);
    uint8_t box[256];
    size_t bl = 0;
    assert_int_equal(refresh_seal(tok, (const uint8_t *)msg, ml, box, sizeof box, &bl), GH_OK);
    assert_int_equal(bl, ml + 28);
    /* the plaintext is not in the box */
    assert_null(memmem(box, bl, "access", 6));
    char *out = NULL;
    assert_int_equal(refresh_open(tok, box, bl, &out), GH_OK);
    assert_non_null(out);
    assert_string_equal(out, msg);
    gh_free_secret_str(out);

    /* two seals of the same message differ (random nonce), both open */
    uint8_t box2[256];
    size_t bl2 = 0;
    assert_int_equal(refresh_seal(tok, (const uint8_t *)msg, ml, box2, sizeof box2, &bl2), GH_OK);
    assert_int_equal(bl2, bl);
    assert_memory_not_equal(box, box2, bl);
    out = NULL;
    assert_int_equal(refresh_open(tok, box2, bl2, &out), GH_OK);
    assert_string_equal(out, msg);
    gh_free_secret_str(out);

    /* empty message */
    assert_int_equal(refresh_seal(tok, (const uint8_t *)"", 0, box, 28, &bl), GH_OK);
    assert_int_equal(bl, 28);
    out = NULL;
    assert_int_equal(refresh_open(tok, box, bl, &out), GH_OK);
    assert_string_equal(out, "");
    gh_free_secret_str(out);
}

static void seal_capacity(void **state)
{
    (void)state;
    char tok[REFRESH_TOKEN_LEN + 1];
    uint8_t h[32], box[64];
    size_t bl = 12345;
    assert_int_equal(refresh_new(tok, h), GH_OK);
    assert_int_equal(refresh_seal(tok, (const uint8_t *)"0123456789", 10, box, 37, &bl),
                     GH_ERR_INVALID);
    assert_int_equal(bl, 12345);
    assert_int_equal(refresh_seal(tok, (const uint8_t *)"0123456789", 10, box, 38, &bl), GH_OK);
    assert_int_equal(bl, 38);
}

static void open_rejects(void **state)
{
    (void)state;
    char tok[REFRESH_TOKEN_LEN + 1], other[REFRESH_TOKEN_LEN + 1];
    uint8_t h[32];
    assert_int_equal(refresh_new(tok, h), GH_OK);
    assert_int_equal(refresh_new(other, h), GH_OK);
    const char *msg = "{\"a\":\"x\",\"r\":\"y\"}";
    size_t ml = strlen(msg);
    uint8_t box[128], bad[128];
    size_t bl = 0;
    assert_int_equal(refresh_seal(tok, (const uint8_t *)msg, ml, box, sizeof box, &bl), GH_OK);
    char *out = NULL;

    /* another token */
    assert_int_equal(refresh_open(other, box, bl, &out), GH_ERR_DENIED);
    assert_null(out);
    /* the same token with one character changed */
    char near[REFRESH_TOKEN_LEN + 1];
    memcpy(near, tok, sizeof near);
    near[10] = near[10] == 'A' ? 'B' : 'A';
    assert_int_equal(refresh_open(near, box, bl, &out), GH_ERR_DENIED);

    /* a flipped bit anywhere: nonce, ciphertext, tag */
    for (size_t i = 0; i < bl; i++) {
        memcpy(bad, box, bl);
        bad[i] ^= 0x01;
        if (refresh_open(tok, bad, bl, &out) != GH_ERR_DENIED)
            fail_msg("opened with byte %zu flipped", i);
        assert_null(out);
    }
    /* truncated, or extended */
    for (size_t l = 0; l < bl; l++)
        assert_int_equal(refresh_open(tok, box, l, &out), GH_ERR_DENIED);
    memcpy(bad, box, bl);
    bad[bl] = 0;
    assert_int_equal(refresh_open(tok, bad, bl + 1, &out), GH_ERR_DENIED);
    assert_null(out);
    /* the original still opens */
    assert_int_equal(refresh_open(tok, box, bl, &out), GH_OK);
    assert_string_equal(out, msg);
    gh_free_secret_str(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_token_shape),      cmocka_unit_test(hash_rejects),
        cmocka_unit_test(seal_open_round_trip), cmocka_unit_test(seal_capacity),
        cmocka_unit_test(open_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
