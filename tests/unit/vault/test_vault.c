/* Unit tests for src/vault/vault.c: master key parsing, data keys in a real
 * (temporary) SQLite store, seal/open and the sealed format's bindings.
 *
 * The vault is a process-wide singleton: each test starts from vault_init
 * with a fresh random master key and a fresh migrated database holding one
 * data key (vault_load with create), and ends with vault_shutdown. */
#include "testutil.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "core/util.h"
#include "store/store.h"
#include "vault/vault.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

#define T "signing_keys"
#define C "private_sealed"
#define ROW "row-1"

struct fx {
    struct store_conn *c;
    uint8_t master[VAULT_KEYBYTES];
};

static int group_setup(void **state)
{
    (void)state;
    test_config();
    /* main() does this; sodium_malloc (vault_init) aborts without it */
    if (sodium_init() < 0) return -1;
    if (test_mkdtemp(dir, sizeof dir, "gh_vault_")) return -1;
    snprintf(path, sizeof path, "%s/test.db", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

/* A fresh database and a vault holding one data key. */
static int fresh(struct fx *f)
{
    if (f->c) ops->close(f->c);
    f->c = NULL;
    vault_shutdown();
    test_rm_db(path);
    gh_random(f->master, sizeof f->master);
    if (ops->open(path, &f->c) != GH_OK || ops->migrate(f->c) != GH_OK) return -1;
    if (vault_init(f->master) != GH_OK) return -1;
    return vault_load(ops, f->c, true) == GH_OK ? 0 : -1;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    *state = f;
    return fresh(f);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vault_shutdown();
    if (f->c) ops->close(f->c);
    free(f);
    test_rm_db(path);
    return 0;
}

/* ---- helpers ---- */

static char *seal_str(const char *table, const char *column, const char *row, const char *pt)
{
    char *s = NULL;
    assert_int_equal(vault_seal(table, column, row, (const uint8_t *)pt, strlen(pt), &s), GH_OK);
    assert_non_null(s);
    return s;
}

static enum gh_err open_rc(const char *table, const char *column, const char *row,
                           const char *sealed)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    enum gh_err rc = vault_open(table, column, row, sealed, &pt, &len);
    if (rc == GH_OK) {
        assert_non_null(pt);
        vault_free(pt, len);
    } else {
        assert_null(pt);
    }
    return rc;
}

/* Opens and checks the plaintext. */
static void assert_opens(const char *table, const char *column, const char *row, const char *sealed,
                         const char *want)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    assert_int_equal(vault_open(table, column, row, sealed, &pt, &len), GH_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(pt, want, len);
    assert_int_equal(pt[len], '\0');
    vault_free(pt, len);
}

static size_t count_keys(struct fx *f, struct store_vault_key *keys)
{
    size_t n = 0;
    assert_int_equal(ops->vault_keys.list(f->c, keys, VAULT_MAX_KEYS, &n), GH_OK);
    return n;
}

/* The four dot-separated parts of a sealed value (copies, NUL-terminated). */
struct parts {
    char ver[8], kid[16], nonce[32], ct[4096];
};

static void split4(const char *s, struct parts *p)
{
    const char *d1 = strchr(s, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    const char *d3 = strchr(d2 + 1, '.');
    assert_non_null(d3);
    assert_null(strchr(d3 + 1, '.'));
    assert_true((size_t)(d1 - s) < sizeof p->ver && (size_t)(d2 - d1 - 1) < sizeof p->kid &&
                (size_t)(d3 - d2 - 1) < sizeof p->nonce && strlen(d3 + 1) < sizeof p->ct);
    memcpy(p->ver, s, (size_t)(d1 - s));
    p->ver[d1 - s] = '\0';
    memcpy(p->kid, d1 + 1, (size_t)(d2 - d1 - 1));
    p->kid[d2 - d1 - 1] = '\0';
    memcpy(p->nonce, d2 + 1, (size_t)(d3 - d2 - 1));
    p->nonce[d3 - d2 - 1] = '\0';
    memcpy(p->ct, d3 + 1, strlen(d3 + 1) + 1);
}

static bool is_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- master key text ---- */

static enum gh_err parse(const char *text, uint8_t out[32], char *err, size_t errlen)
{
    return vault_parse_master_key(text, out, err, errlen);
}

/* 32 random bytes with at least 24 distinct values (so the variety check
 * never refuses them by chance). */
static void random_key(uint8_t k[32])
{
    for (;;) {
        gh_random(k, 32);
        bool seen[256] = {false};
        int d = 0;
        for (int i = 0; i < 32; i++)
            if (!seen[k[i]]) seen[k[i]] = true, d++;
        if (d >= 24) return;
    }
}

/* Standard base64 with padding (44 characters + NUL). */
static void b64std(char out[45], const uint8_t k[32])
{
    assert_int_equal(EVP_EncodeBlock((unsigned char *)out, k, 32), 44);
}

static void to_url(char *s)
{
    for (; *s; s++) {
        if (*s == '+') *s = '-';
        if (*s == '/') *s = '_';
    }
}

static void strip_pad(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '=')
        s[--n] = '\0';
}

/* text with bytes outside printable ASCII escaped, for messages */
static const char *shown(const char *text)
{
    static char buf[400];
    size_t o = 0;
    if (!text) return "(null)";
    for (const unsigned char *p = (const unsigned char *)text; *p && o + 5 < sizeof buf; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", *p);
    }
    buf[o] = '\0';
    return buf;
}

static void accepts(const char *text, const uint8_t want[32])
{
    uint8_t out[32];
    char err[300] = "";
    enum gh_err rc = parse(text, out, err, sizeof err);
    if (rc != GH_OK) print_error("refused \"%s\": %s\n", shown(text), err);
    assert_int_equal(rc, GH_OK);
    assert_memory_equal(out, want, 32);
}

static void refuses(const char *text, const char *why)
{
    uint8_t out[32];
    char err[300] = "";
    enum gh_err rc = parse(text, out, err, sizeof err);
    if (rc != GH_ERR_CONFIG) print_error("accepted \"%s\"\n", shown(text));
    assert_int_equal(rc, GH_ERR_CONFIG);
    assert_true(strlen(err) > 0);
    if (why) assert_non_null(strstr(err, why));
}

static void master_key_hex(void **state)
{
    (void)state;
    uint8_t k[32];
    char hex[80];
    random_key(k);
    gh_hex(hex, k, 32);
    accepts(hex, k);
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    accepts(hex, k); /* upper case */
    memcpy(hex + 64, "\n", 2);
    accepts(hex, k); /* a file's trailing newline */
    memcpy(hex + 64, "\r\n", 3);
    accepts(hex, k);
}

static void master_key_base64_forms(void **state)
{
    (void)state;
    uint8_t k[32];
    char s[64];
    /* keys whose encoding has '+' or '/' (resp. '-' or '_'), so that the
     * standard and URL-safe alphabets are really both exercised */
    do {
        random_key(k);
        b64std(s, k);
    } while (!strpbrk(s, "+/"));

    accepts(s, k); /* `openssl rand -base64 32`: 44 characters, padded */
    size_t n = strlen(s);
    memcpy(s + n, "\n", 2);
    accepts(s, k);

    b64std(s, k);
    to_url(s);
    strip_pad(s);
    assert_int_equal(strlen(s), 43);
    accepts(s, k); /* base64url, unpadded (what dev mode writes) */
    n = strlen(s);
    memcpy(s + n, "\n", 2);
    accepts(s, k);
}

/* The two remaining spellings of 32 bytes: standard alphabet without the
 * padding (`openssl rand -base64 32 | tr -d =`), and base64url with it
 * (Python's base64.urlsafe_b64encode). */
static void master_key_base64_unpadded(void **state)
{
    (void)state;
    uint8_t k[32];
    char s[64];
    do {
        random_key(k);
        b64std(s, k);
    } while (!strpbrk(s, "+/"));
    strip_pad(s);
    assert_int_equal(strlen(s), 43);
    accepts(s, k);
}

static void master_key_base64url_padded(void **state)
{
    (void)state;
    uint8_t k[32];
    char s[64];
    do {
        random_key(k);
        b64std(s, k);
    } while (!strpbrk(s, "+/"));
    to_url(s);
    assert_int_equal(strlen(s), 44);
    accepts(s, k);
}

static void master_key_refuses_malformed(void **state)
{
    (void)state;
    uint8_t k[32];
    char hex[80], b[64];
    random_key(k);
    gh_hex(hex, k, 32);

    refuses(NULL, "too short");
    refuses("", "too short");
    refuses("\n", "too short");
    refuses("s3cr3t", "too short");
    refuses("0123456789abcdef0123456789abcdef", "too short"); /* 16 bytes */

    char t[100];
    snprintf(t, sizeof t, "%.63s", hex); /* 63 hex */
    refuses(t, NULL);
    snprintf(t, sizeof t, "%sa", hex); /* 65 hex */
    refuses(t, NULL);
    snprintf(t, sizeof t, "%.62sxy", hex); /* 64 characters, not all hex */
    refuses(t, NULL);
    snprintf(t, sizeof t, "%.31s %.32s", hex, hex + 32); /* a space inside */
    refuses(t, NULL);
    snprintf(t, sizeof t, " %s", hex); /* 65 with a leading space */
    refuses(t, NULL);

    b64std(b, k);
    to_url(b);
    strip_pad(b);
    snprintf(t, sizeof t, "%.42s", b); /* 42 characters */
    refuses(t, NULL);
    snprintf(t, sizeof t, "%sAA", b); /* 45 */
    refuses(t, NULL);
    snprintf(t, sizeof t, "%.42s.", b); /* 43, a character outside both alphabets */
    refuses(t, NULL);
    /* 48 bytes of base64 is not 32 bytes */
    uint8_t k48[48];
    char b48[80];
    gh_random(k48, sizeof k48);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)b48, k48, 48), 64);
    refuses(b48, NULL);
}

/* Bytes outside the alphabets are refused, not decoded as some letter
 * (libsodium 1.0.18 does that; found by fuzz_master_key). */
static void master_key_refuses_non_ascii(void **state)
{
    (void)state;
    uint8_t k[32];
    char b[64], hex[80];
    random_key(k);
    b64std(b, k);
    to_url(b);
    strip_pad(b);
    accepts(b, k);
    const char bytes[] = {(char)0x80, (char)0xc3, (char)0xd3, (char)0xff};
    for (size_t i = 0; i < sizeof bytes; i++) {
        char t[64];
        memcpy(t, b, sizeof t);
        t[5] = bytes[i];
        refuses(t, NULL);
    }
    /* the input fuzz_master_key found */
    refuses("\xd3\xd2\xd2\xd2\xaf\x88\x86\x9aUdLke48uDR8uP0taaXiHlqW0w9Lh8P-_734\n", NULL);
    gh_hex(hex, k, 32);
    hex[10] = (char)0xe9;
    refuses(hex, NULL);
}

static void master_key_refuses_low_variety(void **state)
{
    (void)state;
    char t[100];
    memset(t, '0', 64);
    t[64] = '\0';
    refuses(t, "placeholder"); /* 32 zero bytes in hex */
    memset(t, 'f', 64);
    refuses(t, "placeholder");
    memset(t, 'A', 43);
    t[43] = '\0';
    refuses(t, "placeholder"); /* zeros in base64url */
    memset(t, 'A', 43);
    memcpy(t + 43, "=", 2);
    refuses(t, "placeholder"); /* zeros in padded base64 */
    snprintf(t, sizeof t, "%s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    refuses(t, "placeholder"); /* a repeated pattern: 8 distinct bytes */
    /* 0x00..0x0e and 0x00 again: 15 distinct values, still a pattern */
    uint8_t k[32];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(i % 15);
    gh_hex(t, k, 32);
    refuses(t, "placeholder");
    /* 16 distinct values is the threshold: accepted */
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(i % 16 * 7);
    gh_hex(t, k, 32);
    accepts(t, k);
}

/* Keys whose bytes are all text (a passphrase encoded) are refused in
 * every spelling: hex, base64 and base64url, padded or not (issue 9). */
static void master_key_refuses_text_bytes(void **state)
{
    (void)state;
    uint8_t k[32];
    char t[100], b[64];
    for (int round = 0; round < 200; round++) {
        if (round == 0) {
            memcpy(k, "0123456789abcdef0123456789abcdef", 32); /* the reported key */
        } else {
            gh_random(k, sizeof k); /* random printable text, tabs and newlines */
            for (int i = 0; i < 32; i++)
                k[i] = (uint8_t)(i == round % 32 ? "\t\n\r"[k[i] % 3] : 0x20 + k[i] % 95);
        }
        gh_hex(t, k, 32);
        refuses(t, "placeholder");
        b64std(b, k);
        refuses(b, "placeholder");
        strip_pad(b);
        refuses(b, "placeholder");
        to_url(b);
        refuses(b, "placeholder");
    }
    /* the whole class: a few bytes outside printable ASCII do not make
     * text random, nor does another language */
    memcpy(k, "0123456789abcdef0123456789abcdef", 32);
    k[7] = 0x80;
    gh_hex(t, k, 32);
    refuses(t, "placeholder");
    static const char de[] =
        "\xc3\x84\xc3\x96\xc3\x9c\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xe2\x82\xac"
        "\xc3\x84\xc3\x96\xc3\x9c\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f"; /* 31 bytes */
    memcpy(k, de, 31);
    k[31] = '!'; /* "ÄÖÜäöüß€ÄÖÜäöüß!": UTF-8 text, one ASCII byte */
    gh_hex(t, k, 32);
    refuses(t, "placeholder");
    k[31] = 0xc3; /* the same cut inside a character */
    gh_hex(t, k, 32);
    refuses(t, "placeholder");
    /* and random keys pass (each is text by chance about once in 1e8) */
    for (int i = 0; i < 2000; i++) {
        gh_random(k, sizeof k);
        gh_hex(t, k, 32);
        accepts(t, k);
    }
}

static void master_key_refuses_placeholder_words(void **state)
{
    (void)state;
    const char *words[] = {"changeme",  "CHANGEME", "example",     "Secret",   "password",
                           "replaceme", "default",  "placeholder", "masterkey"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        uint8_t k[32];
        char b[64];
        random_key(k);
        b64std(b, k);
        to_url(b);
        strip_pad(b);
        /* The random key is fine; with the word written over its middle
         * (letters only: still valid base64url of 32 bytes, last character
         * untouched) it is refused. */
        uint8_t out[32];
        char err[300];
        assert_int_equal(parse(b, out, err, sizeof err), GH_OK);
        memcpy(b + 10, words[w], strlen(words[w]));
        refuses(b, "placeholder");
    }
}

static void master_key_err_buffer(void **state)
{
    (void)state;
    uint8_t out[32];
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(parse("short", out, err, sizeof err), GH_ERR_CONFIG);
    assert_int_equal(err[sizeof err - 1], '\0'); /* truncated, terminated */
    assert_int_equal(parse("short", out, NULL, 0), GH_ERR_CONFIG);
}

static void dev_master_key(void **state)
{
    (void)state;
    char d[600];
    snprintf(d, sizeof d, "%s/dev", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    char *t1 = NULL, *t2 = NULL;
    assert_int_equal(vault_dev_master_key(d, &t1), GH_OK);
    assert_non_null(t1);
    uint8_t k1[32], k2[32];
    char err[300];
    assert_int_equal(parse(t1, k1, err, sizeof err), GH_OK);
    char p[700];
    snprintf(p, sizeof p, "%s/master.key", d);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second call reads the same key back */
    assert_int_equal(vault_dev_master_key(d, &t2), GH_OK);
    assert_int_equal(parse(t2, k2, err, sizeof err), GH_OK);
    assert_memory_equal(k1, k2, 32);
    gh_free_secret_str(t1);
    gh_free_secret_str(t2);
    unlink(p);
    rmdir(d);
}

/* ---- lifecycle ---- */

static void init_shutdown(void **state)
{
    struct fx *f = *state;
    char kid[VAULT_KID_LEN + 1];
    uint8_t d[32];
    char *s = NULL;
    assert_int_equal(vault_init(f->master), GH_ERR_INTERNAL); /* already initialised */
    vault_shutdown();
    vault_shutdown(); /* twice is harmless */
    /* nothing works without a vault, and nothing crashes */
    vault_current_kid(kid);
    assert_string_equal(kid, "");
    assert_int_equal(vault_seal(T, C, ROW, (const uint8_t *)"x", 1, &s), GH_ERR_INTERNAL);
    assert_null(s);
    assert_int_equal(vault_derive("label", d), GH_ERR_INTERNAL);
    assert_int_equal(vault_load(ops, f->c, false), GH_ERR_INTERNAL);
    /* and again */
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_OK);
    vault_current_kid(kid);
    assert_int_equal(strlen(kid), VAULT_KID_LEN);
}

static void load_empty_store(void **state)
{
    struct fx *f = *state;
    struct store_vault_key keys[VAULT_MAX_KEYS];
    char kid[VAULT_KID_LEN + 1];
    char *s = NULL;
    /* a new database: without create nothing is added and nothing seals */
    ops->close(f->c);
    f->c = NULL;
    test_rm_db(path);
    assert_int_equal(ops->open(path, &f->c), GH_OK);
    assert_int_equal(ops->migrate(f->c), GH_OK);
    vault_shutdown();
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_OK);
    assert_int_equal(count_keys(f, keys), 0);
    vault_current_kid(kid);
    assert_string_equal(kid, "");
    assert_int_equal(vault_seal(T, C, ROW, (const uint8_t *)"x", 1, &s), GH_ERR_INTERNAL);
    /* with create, exactly one key */
    assert_int_equal(vault_load(ops, f->c, true), GH_OK);
    assert_int_equal(count_keys(f, keys), 1);
    vault_current_kid(kid);
    assert_string_equal(kid, keys[0].kid);
    /* loading again does not add another */
    assert_int_equal(vault_load(ops, f->c, true), GH_OK);
    assert_int_equal(count_keys(f, keys), 1);
}

/* ---- seal / open ---- */

static void round_trip(void **state)
{
    (void)state;
    /* text, empty, binary with NULs, 64 KiB */
    char *s = seal_str(T, C, ROW, "-----BEGIN PRIVATE KEY-----\nabc\n");
    assert_opens(T, C, ROW, s, "-----BEGIN PRIVATE KEY-----\nabc\n");
    free(s);
    s = seal_str(T, C, ROW, "");
    assert_opens(T, C, ROW, s, "");
    free(s);

    size_t sizes[] = {1, 15, 16, 17, 300, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *pt = malloc(n);
        assert_non_null(pt);
        gh_random(pt, n);
        if (n > 2) pt[1] = 0;
        assert_int_equal(vault_seal(T, C, ROW, pt, n, &s), GH_OK);
        uint8_t *back = NULL;
        size_t len = 0;
        assert_int_equal(vault_open(T, C, ROW, s, &back, &len), GH_OK);
        assert_int_equal(len, n);
        assert_memory_equal(back, pt, n);
        assert_int_equal(back[len], 0);
        vault_free(back, len);
        free(s);
        free(pt);
    }
}

static void seal_too_large(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 1;
    uint8_t *pt = calloc(1, n);
    assert_non_null(pt);
    pt[0] = 1;
    char *s = NULL;
    assert_int_equal(vault_seal(T, C, ROW, pt, n, &s), GH_ERR_INVALID);
    assert_null(s);
    assert_int_equal(vault_seal(T, C, ROW, pt, n - 1, &s), GH_OK); /* 1 MiB is the limit */
    free(s);
    free(pt);
}

static void sealed_format(void **state)
{
    (void)state;
    char kid[VAULT_KID_LEN + 1], k2[VAULT_KID_LEN + 1];
    vault_current_kid(kid);
    assert_int_equal(strlen(kid), VAULT_KID_LEN);
    assert_true(is_b64url(kid));

    const char *msg = "hello, vault";
    char *a = seal_str(T, C, ROW, msg), *b = seal_str(T, C, ROW, msg);
    struct parts pa, pb;
    split4(a, &pa);
    split4(b, &pb);
    assert_string_equal(pa.ver, "v1");
    assert_string_equal(pa.kid, kid);
    /* 96-bit nonce: 16 base64url characters, 12 bytes */
    assert_int_equal(strlen(pa.nonce), 16);
    assert_true(is_b64url(pa.nonce));
    uint8_t raw[64];
    size_t n = 0;
    assert_int_equal(gh_b64url_decode(raw, sizeof raw, &n, pa.nonce, 16), GH_OK);
    assert_int_equal(n, 12);
    /* ciphertext + 16-byte tag */
    assert_true(is_b64url(pa.ct));
    assert_int_equal(strlen(pa.ct), GH_B64URL_LEN(strlen(msg) + 16));
    /* a fresh nonce each time, so the same plaintext seals differently */
    assert_string_not_equal(pa.nonce, pb.nonce);
    assert_string_not_equal(pa.ct, pb.ct);
    assert_string_not_equal(a, b);
    assert_opens(T, C, ROW, b, msg);

    assert_int_equal(vault_sealed_kid(a, k2), GH_OK);
    assert_string_equal(k2, kid);
    free(a);
    free(b);
}

static void nonces_unique(void **state)
{
    (void)state;
    enum { N = 200 };
    char nonces[N][17];
    for (int i = 0; i < N; i++) {
        char *s = seal_str(T, C, ROW, "x");
        struct parts p;
        split4(s, &p);
        memcpy(nonces[i], p.nonce, 17);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(nonces[i], nonces[j]);
        free(s);
    }
}

/* A value moved to another table, column or row does not open. */
static void bound_to_place(void **state)
{
    (void)state;
    char *s = seal_str(T, C, ROW, "secret value");
    assert_opens(T, C, ROW, s, "secret value");
    assert_int_equal(open_rc("signing_key", C, ROW, s), GH_ERR_DENIED);
    assert_int_equal(open_rc("users", C, ROW, s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, "private_seale", ROW, s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, "totp_seed", ROW, s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, C, "row-2", s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, C, "row-10", s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, C, "row-", s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, C, "", s), GH_ERR_DENIED);
    assert_int_equal(open_rc(T, C, "ROW-1", s), GH_ERR_DENIED);
    /* table and column swapped */
    assert_int_equal(open_rc(C, T, ROW, s), GH_ERR_DENIED);
    free(s);

    /* the fields are delimited: moving a character across a boundary is
     * another place */
    s = seal_str("ab", "c", "d", "v");
    assert_opens("ab", "c", "d", s, "v");
    assert_int_equal(open_rc("a", "bc", "d", s), GH_ERR_DENIED);
    assert_int_equal(open_rc("ab", "", "cd", s), GH_ERR_DENIED);
    assert_int_equal(open_rc("abc", "", "d", s), GH_ERR_DENIED);
    free(s);
}

/* Every single-character change in the nonce or the ciphertext is caught. */
static void tamper_each_character(void **state)
{
    (void)state;
    /* 5 + 16 = 21 bytes of ciphertext: 28 characters with no spare bits,
     * so every substitution from the alphabet is still canonical base64url
     * and must fail authentication, not parsing. */
    const char *msg = "hello";
    char *s = seal_str(T, C, ROW, msg);
    struct parts p;
    split4(s, &p);
    assert_int_equal(strlen(p.ct), 28);
    size_t start = strlen("v1.") + strlen(p.kid) + 1; /* first nonce character */
    size_t len = strlen(s);
    char *t = malloc(len + 1);
    assert_non_null(t);
    for (size_t i = start; i < len; i++) {
        if (s[i] == '.') continue;
        for (size_t a = 0; a < 64; a++) {
            if (B64URL[a] == s[i]) continue;
            memcpy(t, s, len + 1);
            t[i] = B64URL[a];
            enum gh_err rc = open_rc(T, C, ROW, t);
            if (rc != GH_ERR_DENIED)
                print_error("position %zu '%c' -> '%c': %s\n", i, s[i], B64URL[a], gh_err_name(rc));
            assert_int_equal(rc, GH_ERR_DENIED);
        }
        /* characters outside the alphabet: refused one way or another */
        const char bad[] = {'=', '+', '/', ' ', '~', (char)0xc3, '\n'};
        for (size_t b = 0; b < sizeof bad; b++) {
            memcpy(t, s, len + 1);
            t[i] = bad[b];
            assert_int_not_equal(open_rc(T, C, ROW, t), GH_OK);
        }
    }
    /* each character of the kid: an unknown key */
    for (size_t i = 3; i < 3 + VAULT_KID_LEN; i++) {
        memcpy(t, s, len + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_DENIED);
    }
    /* the version */
    memcpy(t, s, len + 1);
    t[1] = '2';
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_INVALID);
    assert_opens(T, C, ROW, s, msg); /* the original still opens */
    free(t);
    free(s);
}

/* Every prefix of a sealed value fails; losing whole blocks of the
 * ciphertext is an authentication failure. */
static void truncated(void **state)
{
    (void)state;
    /* 38 + 16 = 54 bytes: 72 characters, whole 4-character groups */
    const char *msg = "a value long enough to lose a few bloc";
    assert_int_equal(strlen(msg), 38);
    char *s = seal_str(T, C, ROW, msg);
    size_t len = strlen(s);
    char *t = malloc(len + 8);
    assert_non_null(t);
    for (size_t n = 0; n < len; n++) {
        memcpy(t, s, n);
        t[n] = '\0';
        assert_int_not_equal(open_rc(T, C, ROW, t), GH_OK);
    }
    struct parts p;
    split4(s, &p);
    assert_int_equal(strlen(p.ct), 72);
    size_t ct_at = len - strlen(p.ct);
    /* whole 4-character groups (3 bytes) off the end, tag still long enough */
    for (size_t cut = 4; strlen(p.ct) - cut >= GH_B64URL_LEN(16) + 4; cut += 4) {
        memcpy(t, s, len - cut);
        t[len - cut] = '\0';
        enum gh_err rc = open_rc(T, C, ROW, t);
        if (rc != GH_ERR_DENIED) print_error("cut %zu: %s\n", cut, gh_err_name(rc));
        assert_int_equal(rc, GH_ERR_DENIED);
    }
    /* the ciphertext shortened from the front */
    memcpy(t, s, ct_at);
    memcpy(t + ct_at, s + ct_at + 4, len - ct_at - 4 + 1);
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_DENIED);
    /* nothing appended opens either */
    snprintf(t, len + 8, "%sAAAA", s);
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_DENIED);
    snprintf(t, len + 8, "%s.", s);
    assert_int_not_equal(open_rc(T, C, ROW, t), GH_OK);
    free(t);
    free(s);
}

static void unknown_kid(void **state)
{
    (void)state;
    char *s = seal_str(T, C, ROW, "v");
    struct parts p;
    split4(s, &p);
    char t[4200];
    snprintf(t, sizeof t, "v1.ZZZZZZZZ.%s.%s", p.nonce, p.ct);
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_DENIED);
    snprintf(t, sizeof t, "v1.%.7s.%s.%s", p.kid, p.nonce, p.ct); /* a prefix of the kid */
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_DENIED);
    /* the master key's own label is not a data key */
    snprintf(t, sizeof t, "v1.master.%s.%s", p.nonce, p.ct);
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_DENIED);
    free(s);
}

static void not_sealed(void **state)
{
    (void)state;
    char *s = seal_str(T, C, ROW, "v");
    struct parts p;
    split4(s, &p);
    char kidonly[32], nononce[4200], extra[4200], v2[4200];
    snprintf(kidonly, sizeof kidonly, "v1.%s", p.kid);
    snprintf(nononce, sizeof nononce, "v1.%s.%s", p.kid, p.ct);
    snprintf(extra, sizeof extra, "%s.AAAA", s);
    snprintf(v2, sizeof v2, "v2.%s.%s.%s", p.kid, p.nonce, p.ct);
    const char *bad[] = {"",
                         "hello",
                         "v1",
                         "v1.",
                         "v1..",
                         "v1...",
                         "V1.abc.def.ghi",
                         ".v1.a.b.c",
                         "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n",
                         kidonly,
                         nononce,
                         extra,
                         v2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum gh_err rc = open_rc(T, C, ROW, bad[i]);
        if (rc != GH_ERR_INVALID) print_error("\"%s\": %s\n", bad[i], gh_err_name(rc));
        assert_int_equal(rc, GH_ERR_INVALID);
        char kid[VAULT_KID_LEN + 1];
        assert_int_equal(vault_sealed_kid(bad[i], kid), GH_ERR_INVALID);
    }
    assert_int_equal(open_rc(T, C, ROW, NULL), GH_ERR_INVALID);
    /* right shape, known kid, but parts that are not base64url or too short */
    char t[4200];
    snprintf(t, sizeof t, "v1.%s..%s", p.kid, p.ct);
    assert_int_equal(open_rc(T, C, ROW, t), GH_ERR_INVALID);
    snprintf(t, sizeof t, "v1.%s.%s.", p.kid, p.nonce);
    assert_int_not_equal(open_rc(T, C, ROW, t), GH_OK);
    snprintf(t, sizeof t, "v1.%s.%s.%s", p.kid, "AAAA", p.ct); /* 3-byte nonce */
    assert_int_not_equal(open_rc(T, C, ROW, t), GH_OK);
    free(s);
}

static void vault_free_null(void **state)
{
    (void)state;
    vault_free(NULL, 0);
    vault_free(NULL, 123);
}

/* ---- data keys ---- */

static void add_key(void **state)
{
    struct fx *f = *state;
    struct store_vault_key keys[VAULT_MAX_KEYS];
    char a[VAULT_KID_LEN + 1], b[VAULT_KID_LEN + 1], cur[VAULT_KID_LEN + 1], k[VAULT_KID_LEN + 1];
    vault_current_kid(a);
    char *old = seal_str(T, C, ROW, "old value");
    assert_int_equal(vault_add_key(ops, f->c, b), GH_OK);
    assert_int_equal(strlen(b), VAULT_KID_LEN);
    assert_string_not_equal(a, b);
    vault_current_kid(cur);
    assert_string_equal(cur, b);
    assert_int_equal(count_keys(f, keys), 2);
    /* the old value still opens; new values carry the new kid */
    assert_opens(T, C, ROW, old, "old value");
    assert_int_equal(vault_sealed_kid(old, k), GH_OK);
    assert_string_equal(k, a);
    char *fresh_v = seal_str(T, C, ROW, "new value");
    assert_int_equal(vault_sealed_kid(fresh_v, k), GH_OK);
    assert_string_equal(k, b);
    assert_opens(T, C, ROW, fresh_v, "new value");

    /* a second process (a new vault on the same store) opens both */
    vault_shutdown();
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_OK);
    assert_opens(T, C, ROW, old, "old value");
    assert_opens(T, C, ROW, fresh_v, "new value");
    free(old);
    free(fresh_v);
}

/* The newest data key seals, also after a reload: into the same vault (the
 * servers' periodic reload) or a new one (another process). Keys made in
 * quick succession (here: within microseconds) must still order, whatever
 * their random kids; repeated so that a tie broken by kid would show. */
static void reload_keeps_newest_current(void **state)
{
    struct fx *f = *state;
    for (int attempt = 0; attempt < 16; attempt++) {
        char a[VAULT_KID_LEN + 1], b[VAULT_KID_LEN + 1], cur[VAULT_KID_LEN + 1];
        assert_int_equal(fresh(f), 0);
        vault_current_kid(a);
        assert_int_equal(vault_add_key(ops, f->c, b), GH_OK);
        vault_current_kid(cur);
        assert_string_equal(cur, b);

        assert_int_equal(vault_load(ops, f->c, false), GH_OK); /* periodic reload */
        vault_current_kid(cur);
        if (strcmp(cur, b) != 0) print_error("reload: old %s new %s current %s\n", a, b, cur);
        assert_string_equal(cur, b);

        vault_shutdown(); /* a new process */
        assert_int_equal(vault_init(f->master), GH_OK);
        assert_int_equal(vault_load(ops, f->c, false), GH_OK);
        vault_current_kid(cur);
        if (strcmp(cur, b) != 0) print_error("new vault: old %s new %s current %s\n", a, b, cur);
        assert_string_equal(cur, b);
    }
}

static void wrong_master_key(void **state)
{
    struct fx *f = *state;
    struct store_vault_key keys[VAULT_MAX_KEYS];
    char *s = seal_str(T, C, ROW, "v");
    uint8_t other[VAULT_KEYBYTES];
    memcpy(other, f->master, sizeof other);
    other[7] ^= 0x01; /* one bit off */
    vault_shutdown();
    assert_int_equal(vault_init(other), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_ERR_DENIED);
    /* create does not paper over it with a new key: nothing is written */
    assert_int_equal(vault_load(ops, f->c, true), GH_ERR_DENIED);
    assert_int_equal(count_keys(f, keys), 1);
    assert_int_equal(open_rc(T, C, ROW, s), GH_ERR_DENIED);
    /* the right key still works */
    vault_shutdown();
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_OK);
    assert_opens(T, C, ROW, s, "v");
    free(s);
}

/* Wrapped data keys are bound to their kid: swapping two rows' wrapped
 * values (or editing one) makes the load fail. */
static void wrapped_key_tampered(void **state)
{
    struct fx *f = *state;
    char b[VAULT_KID_LEN + 1];
    assert_int_equal(vault_add_key(ops, f->c, b), GH_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    int r = sqlite3_exec(db,
                         "UPDATE vault_keys SET wrapped = (SELECT wrapped FROM vault_keys v2"
                         " WHERE v2.kid <> vault_keys.kid)",
                         NULL, NULL, &err);
    if (r != SQLITE_OK) print_error("%s\n", err);
    sqlite3_free(err);
    assert_int_equal(r, SQLITE_OK);
    vault_shutdown();
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_ERR_DENIED);

    /* a wrapped value that is not sealed at all */
    assert_int_equal(
        sqlite3_exec(db, "UPDATE vault_keys SET wrapped = 'garbage'", NULL, NULL, NULL), SQLITE_OK);
    vault_shutdown();
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_ERR_DENIED);
    sqlite3_close(db);
}

/* At most VAULT_MAX_KEYS data keys: the one over the limit is refused, and
 * not left in the store where no vault could load it. */
static void key_limit(void **state)
{
    struct fx *f = *state;
    struct store_vault_key keys[VAULT_MAX_KEYS + 4];
    char k[VAULT_KID_LEN + 1];
    for (int i = 1; i < VAULT_MAX_KEYS; i++)
        assert_int_equal(vault_add_key(ops, f->c, k), GH_OK);
    size_t n = 0;
    assert_int_equal(ops->vault_keys.list(f->c, keys, VAULT_MAX_KEYS + 4, &n), GH_OK);
    assert_int_equal(n, VAULT_MAX_KEYS);
    assert_int_not_equal(vault_add_key(ops, f->c, k), GH_OK);
    assert_int_equal(ops->vault_keys.list(f->c, keys, VAULT_MAX_KEYS + 4, &n), GH_OK);
    assert_int_equal(n, VAULT_MAX_KEYS);
}

/* ---- derive ---- */

static void derive(void **state)
{
    struct fx *f = *state;
    uint8_t a1[32], a2[32], b[32], zero[32] = {0};
    assert_int_equal(vault_derive("gatehouse audit email hmac v1", a1), GH_OK);
    assert_int_equal(vault_derive("gatehouse audit email hmac v1", a2), GH_OK);
    assert_memory_equal(a1, a2, 32);
    assert_memory_not_equal(a1, zero, 32);
    assert_memory_not_equal(a1, f->master, 32);
    assert_int_equal(vault_derive("gatehouse audit email hmac v2", b), GH_OK);
    assert_memory_not_equal(a1, b, 32);
    assert_int_equal(vault_derive("", b), GH_OK);
    assert_memory_not_equal(a1, b, 32);
    /* independent of the data keys, dependent on the master key */
    char kid[VAULT_KID_LEN + 1];
    assert_int_equal(vault_add_key(ops, f->c, kid), GH_OK);
    assert_int_equal(vault_derive("gatehouse audit email hmac v1", a2), GH_OK);
    assert_memory_equal(a1, a2, 32);
    vault_shutdown();
    uint8_t other[32];
    memcpy(other, f->master, 32);
    other[0] ^= 0x80;
    assert_int_equal(vault_init(other), GH_OK);
    assert_int_equal(vault_derive("gatehouse audit email hmac v1", a2), GH_OK);
    assert_memory_not_equal(a1, a2, 32);
}

/* ---- threads ---- */

static void *seal_open_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        char row[32], msg[32];
        snprintf(row, sizeof row, "row-%d", i);
        snprintf(msg, sizeof msg, "value %d", i);
        char *s = NULL;
        if (vault_seal(T, C, row, (const uint8_t *)msg, strlen(msg), &s) != GH_OK) return "seal";
        uint8_t *pt = NULL;
        size_t len = 0;
        enum gh_err rc = vault_open(T, C, row, s, &pt, &len);
        free(s);
        if (rc != GH_OK) return "open";
        bool same = gh_ct_equal(pt, len, msg, strlen(msg));
        vault_free(pt, len);
        if (!same) return "mismatch";
    }
    return NULL;
}

static void concurrent_use(void **state)
{
    struct fx *f = *state;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, seal_open_loop, NULL), 0);
    char kid[VAULT_KID_LEN + 1];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(vault_add_key(ops, f->c, kid), GH_OK);
        assert_int_equal(vault_load(ops, f->c, false), GH_OK);
    }
    for (int i = 0; i < 4; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        if (ret) print_error("thread %d: %s\n", i, (const char *)ret);
        assert_null(ret);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(master_key_hex),
        cmocka_unit_test(master_key_base64_forms),
        cmocka_unit_test(master_key_base64_unpadded),
        cmocka_unit_test(master_key_base64url_padded),
        cmocka_unit_test(master_key_refuses_malformed),
        cmocka_unit_test(master_key_refuses_non_ascii),
        cmocka_unit_test(master_key_refuses_low_variety),
        cmocka_unit_test(master_key_refuses_text_bytes),
        cmocka_unit_test(master_key_refuses_placeholder_words),
        cmocka_unit_test(master_key_err_buffer),
        cmocka_unit_test(dev_master_key),
        cmocka_unit_test_setup_teardown(init_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(load_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(seal_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(sealed_format, setup, teardown),
        cmocka_unit_test_setup_teardown(nonces_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(bound_to_place, setup, teardown),
        cmocka_unit_test_setup_teardown(tamper_each_character, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_kid, setup, teardown),
        cmocka_unit_test_setup_teardown(not_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(vault_free_null, setup, teardown),
        cmocka_unit_test_setup_teardown(add_key, setup, teardown),
        cmocka_unit_test_setup_teardown(reload_keeps_newest_current, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(wrapped_key_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(key_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(derive, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
