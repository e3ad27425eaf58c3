/* Unit tests for src/credentials/password.c (Argon2id at 8 MiB / t=1 to
 * stay fast under ASan). */
#include "testutil.h"

#include <sodium.h>

#include "core/util.h"
#include "credentials/password.h"

static int setup(void **state)
{
    (void)state;
    test_config();
    snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "%s", "Gatehouse");
    snprintf(gh_cfg.issuer, sizeof gh_cfg.issuer, "%s", "https://auth.example.com");
    gh_cfg.argon2_memory_kib = 8192;
    gh_cfg.argon2_iterations = 1;
    gh_cfg.password_min_score = 3;
    return password_init() == GH_OK ? 0 : -1;
}

/* ---- hashing ---- */

static void hash_verify_round_trip(void **state)
{
    (void)state;
    const char *pw = "correct horse battery staple";
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(h, pw, strlen(pw)), GH_OK);
    assert_true(strlen(h) < PASSWORD_HASH_MAX);
    const char *prefix = "$argon2id$v=19$m=8192,t=1,p=1$";
    assert_memory_equal(h, prefix, strlen(prefix));
    assert_int_equal(password_verify(h, pw, strlen(pw)), GH_OK);
    /* wrong password, one byte off, prefix, extension, empty */
    assert_int_equal(password_verify(h, "correct horse battery stable", 28), GH_ERR_DENIED);
    assert_int_equal(password_verify(h, "Correct horse battery staple", 28), GH_ERR_DENIED);
    assert_int_equal(password_verify(h, pw, strlen(pw) - 1), GH_ERR_DENIED);
    assert_int_equal(password_verify(h, "correct horse battery staple!", 29), GH_ERR_DENIED);
    assert_int_equal(password_verify(h, "", 0), GH_ERR_DENIED);
    /* passwords are bytes: a trailing space is significant */
    assert_int_equal(password_verify(h, "correct horse battery staple ", 29), GH_ERR_DENIED);
}

static void hash_is_salted(void **state)
{
    (void)state;
    char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(a, "same password here", 18), GH_OK);
    assert_int_equal(password_hash(b, "same password here", 18), GH_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(password_verify(a, "same password here", 18), GH_OK);
    assert_int_equal(password_verify(b, "same password here", 18), GH_OK);
}

static void binary_password(void **state)
{
    (void)state;
    /* Embedded NUL and high bytes are hashed as given, not cut at the NUL. */
    const char pw[] = "abc\0def\xff\x80ghijkl";
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(h, pw, sizeof pw - 1), GH_OK);
    assert_int_equal(password_verify(h, pw, sizeof pw - 1), GH_OK);
    assert_int_equal(password_verify(h, "abc", 3), GH_ERR_DENIED);
}

static void malformed_hash_denied(void **state)
{
    (void)state;
    const char *pw = "correct horse battery staple";
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(h, pw, strlen(pw)), GH_OK);

    assert_int_equal(password_verify(NULL, pw, strlen(pw)), GH_ERR_DENIED);
    assert_int_equal(password_verify("", pw, strlen(pw)), GH_ERR_DENIED);
    assert_int_equal(password_verify("$argon2id$", pw, strlen(pw)), GH_ERR_DENIED);
    assert_int_equal(password_verify("not a hash at all", pw, strlen(pw)), GH_ERR_DENIED);
    assert_int_equal(password_verify("$argon2id$v=19$m=8192,t=1,p=1$", pw, strlen(pw)),
                     GH_ERR_DENIED);

    char bad[PASSWORD_HASH_MAX];
    /* argon2i (not id) is refused even though libsodium could verify it */
    snprintf(bad, sizeof bad, "%s", h);
    memcpy(bad, "$argon2i$", 9);
    memmove(bad + 9, h + 10, strlen(h + 10) + 1);
    assert_int_equal(password_verify(bad, pw, strlen(pw)), GH_ERR_DENIED);
    /* truncated */
    snprintf(bad, sizeof bad, "%s", h);
    bad[strlen(bad) - 5] = '\0';
    assert_int_equal(password_verify(bad, pw, strlen(pw)), GH_ERR_DENIED);
    /* a flipped character in the digest */
    snprintf(bad, sizeof bad, "%s", h);
    size_t last = strlen(bad) - 2;
    bad[last] = bad[last] == 'A' ? 'B' : 'A';
    assert_int_equal(password_verify(bad, pw, strlen(pw)), GH_ERR_DENIED);
    /* a flipped character in the salt */
    snprintf(bad, sizeof bad, "%s", h);
    char *salt = bad + strlen("$argon2id$v=19$m=8192,t=1,p=1$");
    salt[0] = salt[0] == 'A' ? 'B' : 'A';
    assert_int_equal(password_verify(bad, pw, strlen(pw)), GH_ERR_DENIED);
    /* the original still verifies */
    assert_int_equal(password_verify(h, pw, strlen(pw)), GH_OK);

    /* a genuine argon2i hash of the right password: imported Argon2i verifies (issue 13) */
    char h2i[crypto_pwhash_argon2i_STRBYTES];
    assert_int_equal(crypto_pwhash_argon2i_str(h2i, pw, strlen(pw),
                                               crypto_pwhash_argon2i_OPSLIMIT_MIN, 8192 * 1024),
                     0);
    assert_int_equal(crypto_pwhash_str_verify(h2i, pw, strlen(pw)), 0); /* libsodium would */
    assert_int_equal(password_verify(h2i, pw, strlen(pw)), GH_OK);
    assert_true(password_needs_rehash(h2i));
}

static void needs_rehash(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(h, "correct horse battery staple", 28), GH_OK);
    assert_false(password_needs_rehash(h));
    gh_cfg.argon2_iterations = 2;
    assert_true(password_needs_rehash(h));
    gh_cfg.argon2_iterations = 1;
    assert_false(password_needs_rehash(h));
    gh_cfg.argon2_memory_kib = 16384;
    assert_true(password_needs_rehash(h));
    gh_cfg.argon2_memory_kib = 8192;
    assert_false(password_needs_rehash(h));
    /* a malformed hash needs replacing too */
    assert_true(password_needs_rehash("garbage"));
}

static void verify_dummy_does_not_crash(void **state)
{
    (void)state;
    password_verify_dummy("whatever password", 17);
    password_verify_dummy("", 0);
}

/* ---- policy ---- */

static void expect_refused(const char *pw, size_t len, const char *email, const char *why)
{
    char reason[256];
    reason[0] = '\0';
    enum gh_err rc = password_check_policy(pw, len, email, reason, sizeof reason);
    if (rc != GH_ERR_INVALID) fail_msg("accepted \"%.*s\"", (int)(len > 60 ? 60 : len), pw);
    assert_true(strlen(reason) > 10);
    assert_memory_equal(reason, "Password ", 9);
    if (why && !strstr(reason, why)) fail_msg("reason for \"%s\": \"%s\"", pw, reason);
}

static void expect_accepted(const char *pw, size_t len, const char *email)
{
    char reason[256] = "";
    if (password_check_policy(pw, len, email, reason, sizeof reason) != GH_OK)
        fail_msg("refused \"%.*s\": %s", (int)(len > 60 ? 60 : len), pw, reason);
}

static void policy_length(void **state)
{
    (void)state;
    expect_refused("", 0, NULL, "at least 12 bytes");
    expect_refused("Xk9#mQ2$vL7", 11, NULL, "at least 12 bytes");
    expect_accepted("Xk9#mQ2$vL7p", 12, NULL);
    char big[PASSWORD_MAX_BYTES + 2];
    memset(big, 'x', sizeof big);
    expect_refused(big, PASSWORD_MAX_BYTES + 1, NULL, "at most 1024 bytes");
    /* the length rule holds even when the score check is off */
    gh_cfg.password_min_score = 0;
    expect_refused("short", 5, NULL, "at least 12 bytes");
    expect_refused(big, PASSWORD_MAX_BYTES + 1, NULL, "at most 1024 bytes");
    expect_accepted("aaaaaaaaaaaa", 12, NULL);
    /* bytes, not characters: 3 x U+1F512 is 12 bytes but only 3 characters */
    expect_accepted("\xF0\x9F\x94\x92\xF0\x9F\x94\x92\xF0\x9F\x94\x92", 12, NULL);
    expect_refused("\xF0\x9F\x94\x92\xF0\x9F\x94\x92\xF0\x9F\x94", 11, NULL, "at least");
    gh_cfg.password_min_score = 3;
}

static void policy_weak(void **state)
{
    (void)state;
    expect_refused("password1234", 12, NULL, NULL);
    expect_refused("qwertyuiopasdf", 14, NULL, NULL);
    /* zxcvbn-c sees bytes; repeated multibyte characters must still fail. */
    expect_refused("\xF0\x9F\x94\x92\xF0\x9F\x94\x92\xF0\x9F\x94\x92", 12, NULL, "few different");
    expect_refused("abababababababab", 16, NULL, NULL);
    expect_refused("aaaaaaaaaaaaaaaa", 16, NULL, NULL);
    expect_refused("abcdefghijklmnop", 16, NULL, "sequence");
    expect_refused("123456789012", 12, NULL, NULL);
}

static void policy_brand_and_issuer(void **state)
{
    (void)state;
    expect_refused("gatehouse2024!", 14, NULL, "name of this service");
    expect_refused("GateHouse2024!", 14, NULL, NULL);
    expect_refused("auth.example.com1", 17, NULL, "name of this service");
    /* The brand is what makes it weak: with another brand it passes... */
    expect_accepted("qwzlmvtrb2024!", 14, NULL);
    /* ...and with that brand it does not. */
    snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "%s", "Qwzlmvtrb");
    expect_refused("qwzlmvtrb2024!", 14, NULL, "name of this service");
    snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "%s", "Gatehouse");
}

static void policy_email_local_part(void **state)
{
    (void)state;
    const char *email = "xkcdzorbtrax@example.com";
    expect_accepted("xkcdzorbtrax19", 14, NULL);
    expect_accepted("xkcdzorbtrax19", 14, "someone@example.com");
    expect_refused("xkcdzorbtrax19", 14, email, "your email address");
    expect_refused("XKCDZORBTRAX19", 14, email, "your email address");
    expect_refused("19xkcdzorbtrax", 14, email, "your email address");
    expect_refused("xkcdzorbtrax19", 14, "XkcdZorbTrax@Example.com", NULL);
}

static void policy_strong(void **state)
{
    (void)state;
    expect_accepted("correct horse battery staple", 28, NULL);
    expect_accepted("correct horse battery staple", 28, "alice@example.com");
    expect_accepted("Xk9#mQ2$vL7p", 12, NULL);

    /* 1024 random printable bytes: the maximum length is accepted */
    static const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             "!#$%&()*+,-./:;<=>?@[]^_{|}~";
    uint8_t raw[PASSWORD_MAX_BYTES];
    char pw[PASSWORD_MAX_BYTES + 1];
    gh_random(raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        pw[i] = cs[raw[i] % (sizeof cs - 1)];
    pw[PASSWORD_MAX_BYTES] = '\0';
    expect_accepted(pw, PASSWORD_MAX_BYTES, "alice@example.com");
    /* and hashes and verifies at that length */
    char h[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash(h, pw, PASSWORD_MAX_BYTES), GH_OK);
    assert_int_equal(password_verify(h, pw, PASSWORD_MAX_BYTES), GH_OK);
    pw[PASSWORD_MAX_BYTES - 1] ^= 1;
    assert_int_equal(password_verify(h, pw, PASSWORD_MAX_BYTES), GH_ERR_DENIED);
}

static void policy_score_threshold(void **state)
{
    (void)state;
    /* A middling password (~15 bits): fine at score 1, weak at 2 and 3. */
    gh_cfg.password_min_score = 1;
    expect_accepted("monkeybanana1", 13, NULL);
    gh_cfg.password_min_score = 2;
    expect_refused("monkeybanana1", 13, NULL, NULL);
    gh_cfg.password_min_score = 3;
    expect_refused("monkeybanana1", 13, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_verify_round_trip),
        cmocka_unit_test(hash_is_salted),
        cmocka_unit_test(binary_password),
        cmocka_unit_test(malformed_hash_denied),
        cmocka_unit_test(needs_rehash),
        cmocka_unit_test(verify_dummy_does_not_crash),
        cmocka_unit_test(policy_length),
        cmocka_unit_test(policy_weak),
        cmocka_unit_test(policy_brand_and_issuer),
        cmocka_unit_test(policy_email_local_part),
        cmocka_unit_test(policy_strong),
        cmocka_unit_test(policy_score_threshold),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
