/* Unit tests for src/credentials/legacy_hash.c, legacy_verify.c and the
 * imported-format parts of password.c (verification, padding).
 *
 * The hashes below were made by tools Gatehouse did not write, with the
 * password "Tr0ub4dor&3 horse" (Debian 12 packages):
 *   htpasswd -nbB -C 5 u PW                     (apache2-utils)
 *   passlib.hash.bcrypt.using(ident=..., rounds=4).hash(PW)   (python3-passlib)
 *   passlib.hash.argon2.using(type=..., ...).hash(PW)         (python3-argon2)
 *   passlib.hash.scrypt.using(rounds=.., block_size=.., parallelism=..).hash(PW)
 *   passlib.hash.django_pbkdf2_sha256.using(rounds=1000).hash(PW)
 *   hashlib.pbkdf2_hmac / hashlib.scrypt in Django's and the PHC form
 *   bcrypt.hashpw(hashlib.sha256(PW).hexdigest() / base64, ...) (python3-bcrypt)
 * tests/api/legacy_hashes.test.mjs makes fresh ones with the same tools.
 * Firebase: the sample parameters of firebase/scrypt's README. */
#include "testutil.h"

#include <sodium.h>

#include "core/util.h"
#include "credentials/legacy_hash.h"
#include "credentials/legacy_parse.h"
#include "credentials/password.h"
#include "store/store.h"
#include "vault/vault.h"

#define PW "Tr0ub4dor&3 horse"
#define UID "11111111-1111-4111-8111-111111111111"
#define UID2 "22222222-2222-4222-8222-222222222222"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];
static struct store_conn *conn;

struct vec {
    const char *hash, *format, *stored_prefix;
    enum legacy_kind kind;
};

static const struct vec vecs[] = {
    {"$2y$05$4v8L30UBzc4hNhBOuUuHcuTRgBOfgCKUkQrQID.7BQM1n4Iu4yiYW", NULL, "$2y$05$",
     LEGACY_BCRYPT}, /* htpasswd -B */
    {"$2a$04$zkMAuxAgSOlES3X0s1JD6eRt6jdzXvr8dKKBozXML9Us8qVp0ZmrS", NULL, "$2a$", LEGACY_BCRYPT},
    {"$2y$04$IaJNc.OGtwFLNqXoVv6DJuP4hjvqhKN4YFeJ25.rUp6JQtIgCXzCq", "bcrypt", "$2y$",
     LEGACY_BCRYPT},
    {"$2b$04$CTbaLgguh.DtnltpNvKBe.8/rvtPQynCejxbU51PZLriRjUZ58rJy", NULL, "$2b$", LEGACY_BCRYPT},
    {"$argon2id$v=19$m=64,t=1,p=2$6h2DMAZgbM3Zm/O+lzJmDA$+kzJFUM7Vte/e+AwKpr05g", NULL,
     "$argon2id$", LEGACY_ARGON2ID},
    {"$argon2id$v=19$m=1024,t=3,p=1$BgAAIKR07v2/d05pjfF+7w$AfP0+dOAnbgxVTDvUVdoMQ", "argon2id",
     "$argon2id$", LEGACY_ARGON2ID},
    {"$argon2i$v=19$m=256,t=1,p=1$v3euVSqllNI6RyglZIyxNg$wuZkTZXp+qkYdzxcxXgjTA", NULL, "$argon2i$",
     LEGACY_ARGON2I},
    {"$argon2i$v=19$m=256,t=3,p=4$ek9JqdVaCyGE8B5D6H0PQQ$mAg3FeMrM90W1hQ5OKOG1w", NULL, "$argon2i$",
     LEGACY_ARGON2I},
    {"$scrypt$ln=10,r=8,p=1$J6TU+l8rxdh7DyGEUCrlPA$YIKTqRNGbZN0FLluILqt1buCP6ntZHb7BrR8fByn+qI",
     NULL, "$scrypt$", LEGACY_SCRYPT},
    {"$scrypt$ln=8,r=4,p=2$IMS4lxLiXAthjPF+b00pRQ$f2bHMI1nfaPZoAqEpQL1hkBMRVwajUwaXCr2TxsE++0",
     "scrypt", "$scrypt$", LEGACY_SCRYPT},
    {"$scrypt$ln=10,r=8,p=1$5isVAR0PZBCfETtRqKMx+Q$FfDLgm+ADJFb5u4Y2yPe4Ww1kHkOKdIsFvj98zvkTDE",
     NULL, "$scrypt$", LEGACY_SCRYPT}, /* hashlib.scrypt */
    {"pbkdf2_sha256$1000$q7amgY922K8A$2DffIfUQuUnlOTwVX0s1M4tgC8jDjfooMHbcPr3PzGw=", NULL,
     "pbkdf2_sha256$", LEGACY_PBKDF2_SHA256},
    {"pbkdf2_sha256$1200$s4ltS4ltS4lt$By68+IOFriK6Apvd4KGWmF0GnF4+EF9RoOVvWUaekTY=",
     "pbkdf2_sha256", "pbkdf2_sha256$", LEGACY_PBKDF2_SHA256}, /* hashlib.pbkdf2_hmac */
    {"$2b$04$3d5YC3PgDuNJJAUqDyd1EuhboXK4Y2AyqRYfG68IVCQuRiYxRXLNa", "bcrypt_sha256_hex",
     "{bcrypt_sha256_hex}$2b$", LEGACY_BCRYPT_SHA256_HEX},
    {"$2b$04$f4wW0zwEqCSn0MxwIr2kQepIbKTwOPLxqJdTgis3ykbKXOWNRGoCm", "bcrypt_sha256_base64",
     "{bcrypt_sha256_base64}$2b$", LEGACY_BCRYPT_SHA256_BASE64},
};

static int group_setup(void **state)
{
    (void)state;
    test_config();
    gh_cfg.argon2_memory_kib = 8192;
    gh_cfg.argon2_iterations = 1;
    if (sodium_init() < 0) return -1;
    if (test_mkdtemp(dir, sizeof dir, "gh_legacy_")) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    uint8_t master[VAULT_KEYBYTES];
    gh_random(master, sizeof master);
    if (ops->open(path, &conn) != GH_OK || ops->migrate(conn) != GH_OK) return -1;
    if (vault_init(master) != GH_OK || vault_load(ops, conn, true) != GH_OK) return -1;
    return password_init() == GH_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    ops->close(conn);
    vault_shutdown();
    return test_db_group_teardown(dir, path);
}

static json_t *fmt(const char *name)
{
    return name ? json_string(name) : NULL;
}

/* Each tool's hash imports (inferred or declared), verifies with the right
 * password, and is denied with wrong ones. */
static void formats_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        char out[LEGACY_HASH_MAX + 1], why[200] = "";
        json_t *f = fmt(v->format);
        enum gh_err rc = legacy_hash_import(v->hash, f, UID, out, why, sizeof why);
        json_decref(f);
        if (rc) fail_msg("vector %zu (%s): %s", i, v->hash, why);
        assert_int_equal(strncmp(out, v->stored_prefix, strlen(v->stored_prefix)), 0);
        assert_int_equal(legacy_hash_kind(out), v->kind);
        assert_int_equal(legacy_verify(out, UID, PW, strlen(PW)), GH_OK);
        assert_int_equal(password_verify_user(UID, out, PW, strlen(PW)), GH_OK);
        assert_int_equal(legacy_verify(out, UID, "Tr0ub4dor&3 horsf", strlen(PW)), GH_ERR_DENIED);
        assert_int_equal(legacy_verify(out, UID, PW, strlen(PW) - 1), GH_ERR_DENIED);
        assert_int_equal(legacy_verify(out, UID, "", 0), GH_ERR_DENIED);
        assert_int_equal(password_verify_user(UID, out, "wrong password", 14), GH_ERR_DENIED);
        assert_true(password_needs_rehash(out));
        assert_string_equal(password_hash_format(out), legacy_kind_name(v->kind));
        char fam[96];
        assert_int_equal(legacy_hash_family(out, fam, sizeof fam), GH_OK);
        assert_int_equal(strncmp(fam, legacy_kind_name(v->kind), strlen(legacy_kind_name(v->kind))),
                         0);
    }
}

/* The pre-hash variants are not interchangeable, and plain bcrypt of the
 * password does not match them. */
static void bcrypt_sha256_variants_distinct(void **state)
{
    (void)state;
    char hex[LEGACY_HASH_MAX + 1], as_b64[LEGACY_HASH_MAX + 1], plain[LEGACY_HASH_MAX + 1];
    json_t *fh = json_string("bcrypt_sha256_hex"), *fb = json_string("bcrypt_sha256_base64");
    assert_int_equal(legacy_hash_import(vecs[13].hash, fh, UID, hex, NULL, 0), GH_OK);
    assert_int_equal(legacy_hash_import(vecs[13].hash, fb, UID, as_b64, NULL, 0), GH_OK);
    assert_int_equal(legacy_hash_import(vecs[13].hash, NULL, UID, plain, NULL, 0), GH_OK);
    json_decref(fh);
    json_decref(fb);
    assert_int_equal(legacy_verify(hex, UID, PW, strlen(PW)), GH_OK);
    assert_int_equal(legacy_verify(as_b64, UID, PW, strlen(PW)), GH_ERR_DENIED);
    assert_int_equal(legacy_verify(plain, UID, PW, strlen(PW)), GH_ERR_DENIED);
    /* the pre-hash itself as a password does not get through the prefixed form */
    uint8_t d[32];
    char dh[65];
    assert_int_equal(gh_sha256(d, PW, strlen(PW)), GH_OK);
    gh_hex(dh, d, sizeof d);
    assert_int_equal(legacy_verify(plain, UID, dh, 64), GH_OK);
    assert_int_equal(legacy_verify(hex, UID, dh, 64), GH_ERR_DENIED);
}

static void expect_refused(const char *hash, json_t *format, const char *why_part)
{
    char out[LEGACY_HASH_MAX + 1], why[200] = "";
    memset(out, 'x', sizeof out);
    assert_int_equal(legacy_hash_import(hash, format, UID, out, why, sizeof why), GH_ERR_INVALID);
    if (!strstr(why, why_part)) fail_msg("%s: reason \"%s\" lacks \"%s\"", hash, why, why_part);
    assert_int_equal(out[0], '\0'); /* nothing a caller could store */
    json_decref(format);
}

/* Unknown and malformed formats are refused with a reason, never stored. */
static void import_refusals(void **state)
{
    (void)state;
    expect_refused("5f4dcc3b5aa765d61d8327deb882cf99", NULL, "unknown"); /* MD5 */
    expect_refused("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", NULL, "unknown");
    expect_refused("$2x$05$4v8L30UBzc4hNhBOuUuHcuTRgBOfgCKUkQrQID.7BQM1n4Iu4yiYW", NULL, "unknown");
    expect_refused("$2b$05$short", NULL, "bcrypt");
    expect_refused("$2b$03$4v8L30UBzc4hNhBOuUuHcuTRgBOfgCKUkQrQID.7BQM1n4Iu4yiYW", NULL, "cost");
    expect_refused("$2b$31$4v8L30UBzc4hNhBOuUuHcuTRgBOfgCKUkQrQID.7BQM1n4Iu4yiYW", NULL, "cost");
    expect_refused("$2b$05$4v8L30UBzc4hNhBOuUuHcuTRgBOfgCKUkQrQID.7BQM1n4Iu4yi!W", NULL,
                   "alphabet");
    expect_refused("$argon2id$v=16$m=64,t=1,p=2$6h2DMAZgbM3Zm/O+lzJmDA$+kzJFUM7Vte/e+AwKpr05g",
                   NULL, "v=19");
    expect_refused("$argon2id$m=64,t=1,p=2$6h2DMAZgbM3Zm/O+lzJmDA$+kzJFUM7Vte/e+AwKpr05g", NULL,
                   "v=19");
    expect_refused("$argon2id$v=19$m=4194304,t=1,p=1$6h2DMAZgbM3Zm/O+lzJmDA$+kzJFUM7Vte/e+AwKpr05g",
                   NULL, "m <=");
    expect_refused("$argon2id$v=19$m=64,t=1,p=9$6h2DMAZgbM3Zm/O+lzJmDA$+kzJFUM7Vte/e+AwKpr05g",
                   NULL, "8 KiB per lane");
    expect_refused("$argon2id$v=19$m=64,t=1,p=2$6h2DMAZgbM3Zm/O+lzJmDA$+kzJ*UM7Vte/e+AwKpr05g",
                   NULL, "base64");
    expect_refused("$argon2d$v=19$m=64,t=1,p=2$6h2DMAZgbM3Zm/O+lzJmDA$+kzJFUM7Vte/e+AwKpr05g", NULL,
                   "unknown");
    expect_refused("$scrypt$ln=25,r=8,p=1$J6TU+l8rxdh7DyGEUCrlPA$YIKTqRNGbZN0FLluILqt1buCP6ntZHb7B",
                   NULL, "256 MiB");
    expect_refused("$scrypt$ln=10,r=8$J6TU+l8rxdh7DyGEUCrlPA$YIKTqRNGbZN0FLluILqt1buCP6ntZHb7B",
                   NULL, "scrypt");
    expect_refused("pbkdf2_sha256$0$salt$2DffIfUQuUnlOTwVX0s1M4tgC8jDjfooMHbcPr3PzGw=", NULL,
                   "iterations");
    expect_refused("pbkdf2_sha256$99999999$salt$2DffIfUQuUnlOTwVX0s1M4tgC8jDjfooMHbcPr3PzGw=", NULL,
                   "iterations");
    expect_refused("pbkdf2_sha256$1000$salt$short", NULL, "base64");
    expect_refused("pbkdf2_sha1$1000$salt$2DffIfUQuUnlOTwVX0s1M4tgC8jDjfooMHbcPr3PzGw=", NULL,
                   "unknown");
    /* our own prefixes are not importable: the format must be declared */
    expect_refused(
        "{bcrypt_sha256_hex}$2b$04$3d5YC3PgDuNJJAUqDyd1EuhboXK4Y2AyqRYfG68IVCQuRiYxRXLNa", NULL,
        "declare");
    /* a declared format must match the string */
    expect_refused(vecs[0].hash, json_string("scrypt"), "declared");
    expect_refused(vecs[8].hash, json_string("bcrypt_sha256_hex"), "bcrypt");
    expect_refused(vecs[0].hash, json_string("md5"), "unknown password_hash_format");
    expect_refused(vecs[0].hash, json_integer(3), "name");
    expect_refused(vecs[0].hash, json_pack("{s:i}", "name", 1), "name");
    expect_refused("", NULL, "empty");
    char big[LEGACY_HASH_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_refused(big, NULL, "too long");
    /* firebase without parameters */
    expect_refused("lSrfV15cpx95", json_string("firebase_scrypt"), "parameters");
}

#define FB_KEY                                                                                     \
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
#define FB_HASH                                                                                    \
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="

static json_t *fb_format(const char *key_name)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "name", "firebase_scrypt", key_name, FB_KEY,
                     "base64_salt_separator", "Bw==", "rounds", 8, "mem_cost", 14, "salt",
                     "42xEC+ixf3L2lw==");
}

/* Firebase's documented sample: user1password verifies; the signer key is
 * stored sealed to the row, so the hash moved to another row does not. */
static void firebase_sample(void **state)
{
    (void)state;
    char out[LEGACY_HASH_MAX + 1], why[200] = "";
    json_t *f = fb_format("base64_signer_key");
    assert_int_equal(legacy_hash_import(FB_HASH, f, UID, out, why, sizeof why), GH_OK);
    json_decref(f);
    assert_int_equal(strncmp(out, "{firebase_scrypt}r=8,m=14$Bw==$42xEC+ixf3L2lw==$", 46), 0);
    assert_null(strstr(out, "jxspr8Ki0RYycVU8")); /* the key is not in the clear */
    assert_int_equal(legacy_hash_kind(out), LEGACY_FIREBASE_SCRYPT);
    assert_int_equal(legacy_verify(out, UID, "user1password", 13), GH_OK);
    assert_int_equal(password_verify_user(UID, out, "user1password", 13), GH_OK);
    assert_int_equal(legacy_verify(out, UID, "user1passwore", 13), GH_ERR_DENIED);
    assert_int_equal(legacy_verify(out, UID2, "user1password", 13), GH_ERR_DENIED);
    assert_int_equal(legacy_verify(out, NULL, "user1password", 13), GH_ERR_DENIED);
    assert_int_equal(password_verify(out, "user1password", 13), GH_ERR_DENIED);
    char fam[96];
    assert_int_equal(legacy_hash_family(out, fam, sizeof fam), GH_OK);
    assert_string_equal(fam, "firebase_scrypt:ln=14,r=8,p=1");
    /* the other spelling of the key's name; a wrong key fails */
    f = fb_format("signer_key");
    assert_int_equal(legacy_hash_import(FB_HASH, f, UID, out, why, sizeof why), GH_OK);
    json_decref(f);
    assert_int_equal(legacy_verify(out, UID, "user1password", 13), GH_OK);
    f = fb_format("signer_key");
    json_object_set_new(f, "signer_key", json_string("AAAA" FB_KEY));
    assert_int_equal(legacy_hash_import(FB_HASH, f, UID, out, why, sizeof why), GH_OK);
    assert_int_equal(legacy_verify(out, UID, "user1password", 13), GH_ERR_DENIED);
    json_object_set_new(f, "mem_cost", json_integer(30));
    assert_int_equal(legacy_hash_import(FB_HASH, f, UID, out, why, sizeof why), GH_ERR_INVALID);
    json_decref(f);
}

/* "!" and garbage never verify; a denial after padding is measured takes
 * at least the padding target, whatever the stored format. */
static void no_password_and_padding(void **state)
{
    (void)state;
    assert_int_equal(legacy_verify("!", UID, "", 0), GH_ERR_DENIED);
    assert_int_equal(password_verify_user(UID, "!", "!", 1), GH_ERR_DENIED);
    assert_int_equal(password_verify_user(UID, "{nope}x", PW, strlen(PW)), GH_ERR_DENIED);
    assert_false(password_needs_rehash("!"));

    /* a slow PBKDF2 user next to a fast bcrypt one: the padding follows the slowest */
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", UID);
    snprintf(u.email, sizeof u.email, "a@example.com");
    snprintf(u.email_key, sizeof u.email_key, "a@example.com");
    snprintf(u.password_hash, sizeof u.password_hash, "%s", vecs[3].hash); /* bcrypt 4 */
    assert_int_equal(ops->users.create(conn, &u, NULL), GH_OK);
    snprintf(u.id, sizeof u.id, "%s", UID2);
    snprintf(u.email, sizeof u.email, "b@example.com");
    snprintf(u.email_key, sizeof u.email_key, "b@example.com");
    snprintf(u.password_hash, sizeof u.password_hash,
             "pbkdf2_sha256$400000$s4ltS4ltS4lt$By68+IOFriK6Apvd4KGWmF0GnF4+EF9RoOVvWUaekTY=");
    assert_int_equal(ops->users.create(conn, &u, NULL), GH_OK);
    password_pad_refresh(ops, conn);
    char fam[96];
    int64_t target = password_pad_target_us(fam, sizeof fam);
    assert_string_equal(fam, "pbkdf2_sha256:400000");
    assert_true(target > 0);
    int64_t t0 = gh_mono_us();
    password_verify_dummy(PW, strlen(PW));
    assert_true(gh_mono_us() - t0 >= target);
    t0 = gh_mono_us();
    assert_int_equal(password_verify_user(UID, vecs[3].hash, "wrong", 5), GH_ERR_DENIED);
    assert_true(gh_mono_us() - t0 >= target); /* the fast bcrypt denial was padded */
    t0 = gh_mono_us();
    assert_int_equal(password_verify_user(UID, vecs[3].hash, PW, strlen(PW)), GH_OK);
    assert_true(gh_mono_us() - t0 < target); /* a right password is not */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_verify),
        cmocka_unit_test(bcrypt_sha256_variants_distinct),
        cmocka_unit_test(import_refusals),
        cmocka_unit_test(firebase_sample),
        cmocka_unit_test(no_password_and_padding),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
