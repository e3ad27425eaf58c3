/* Unit tests for src/mfa/totp.c. */
#include "testutil.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <time.h>

#include "core/util.h"
#include "mfa/totp.h"

/* RFC 6238 Appendix B (SHA-1): the secret is the 20 ASCII bytes below. */
static const uint8_t rfc_secret[TOTP_SECRET_BYTES] = "12345678901234567890";
static const char rfc_secret_b32[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

static const struct {
    int64_t t;
    const char *code8; /* the RFC's 8-digit value */
    const char *code6; /* ours: the last 6 digits */
} rfc_vectors[] = {
    {59, "94287082", "287082"},         {1111111109, "07081804", "081804"},
    {1111111111, "14050471", "050471"}, {1234567890, "89005924", "005924"},
    {2000000000, "69279037", "279037"}, {20000000000LL, "65353130", "353130"},
};
#define N_VECTORS (sizeof rfc_vectors / sizeof rfc_vectors[0])

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* ---- helpers ---------------------------------------------------------- */

static void code_at(const uint8_t *secret, int64_t step, char out[TOTP_DIGITS + 1])
{
    assert_int_equal(totp_code_at(secret, step, out), GH_OK);
    assert_int_equal(strlen(out), TOTP_DIGITS);
    assert_int_equal(strspn(out, "0123456789"), TOTP_DIGITS);
}

static void expect_ok(const uint8_t *secret, const char *code, int64_t now, int64_t last,
                      int64_t want_step)
{
    int64_t step = -777;
    enum gh_err rc = totp_check(secret, code, now, last, &step);
    if (rc != GH_OK)
        fail_msg("refused \"%s\" at now=%" PRId64 " last=%" PRId64 ": %s", code, now, last,
                 gh_err_name(rc));
    if (step != want_step)
        fail_msg("\"%s\" at now=%" PRId64 ": step %" PRId64 ", want %" PRId64, code, now, step,
                 want_step);
}

static void expect_denied(const uint8_t *secret, const char *code, int64_t now, int64_t last)
{
    int64_t step = -777;
    enum gh_err rc = totp_check(secret, code, now, last, &step);
    if (rc != GH_ERR_DENIED)
        fail_msg("\"%s\" at now=%" PRId64 " last=%" PRId64 ": %s, want GH_ERR_DENIED",
                 code ? code : "(null)", now, last, gh_err_name(rc));
}

/* Decodes unpadded upper-case base32; returns the byte count or -1. */
static int b32_decode(const char *in, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        const char *q = strchr(b32_alphabet, *p);
        if (!q || *p == '\0') return -1;
        acc = (acc << 5) | (uint32_t)(q - b32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (n >= cap) return -1;
            out[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
        acc &= (1u << bits) - 1u;
    }
    return (int)n;
}

/* Runs a shell command, returns its first output line (no newline) in out. */
static void run_line(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (!f) fail_msg("popen failed: %s", cmd);
    out[0] = '\0';
    if (!fgets(out, (int)cap, f)) out[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, f)) {
    }
    int st = pclose(f);
    if (st != 0) fail_msg("\"%s\" exited with status %d", cmd, st);
    out[strcspn(out, "\r\n")] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Percent-decodes in[0..len) into out (NUL-terminated). A raw byte that an
 * otpauth label or parameter value must not carry ('&', '+', ' ', '#', '?',
 * '/', '=', ':', a control or non-ASCII byte) or a bad escape fails the test. */
static void pct_decode(const char *in, size_t len, char *out, size_t cap, const char *what)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len) fail_msg("%s: truncated escape in \"%.*s\"", what, (int)len, in);
            int h = hexval((unsigned char)in[i + 1]), l = hexval((unsigned char)in[i + 2]);
            if (h < 0 || l < 0) fail_msg("%s: bad escape in \"%.*s\"", what, (int)len, in);
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || strchr("&+#?/=:\"<>\\", c)) {
            fail_msg("%s: raw '%c' (0x%02x) in \"%.*s\"", what, c, c, (int)len, in);
        }
        if (n + 1 >= cap) fail_msg("%s: too long", what);
        out[n++] = (char)c;
    }
    out[n] = '\0';
}

/* ---- tests ------------------------------------------------------------ */

static void new_secret(void **state)
{
    (void)state;
    assert_int_equal(TOTP_SECRET_BYTES, 20);
    uint8_t s[8][TOTP_SECRET_BYTES + 8];
    for (size_t i = 0; i < 8; i++) {
        memset(s[i], 0xA5, sizeof s[i]);
        totp_new_secret(s[i]);
        /* exactly 20 bytes written: the canary after them is untouched */
        for (size_t j = TOTP_SECRET_BYTES; j < sizeof s[i]; j++)
            assert_int_equal(s[i][j], 0xA5);
        /* and the 20 were written (not left as the fill, not all zero) */
        size_t fill = 0, zero = 0;
        for (size_t j = 0; j < TOTP_SECRET_BYTES; j++) {
            fill += s[i][j] == 0xA5;
            zero += s[i][j] == 0;
        }
        assert_true(fill < 6);
        assert_true(zero < 6);
        for (size_t k = 0; k < i; k++)
            assert_memory_not_equal(s[i], s[k], TOTP_SECRET_BYTES);
    }
    /* every one of the 20 positions is random: no position holds the same
     * byte in all 8 secrets (chance 20 * 2^-56 for a real CSPRNG) */
    for (size_t j = 0; j < TOTP_SECRET_BYTES; j++) {
        size_t same = 0;
        for (size_t i = 1; i < 8; i++)
            same += s[i][j] == s[0][j];
        if (same == 7) fail_msg("byte %zu is 0x%02x in every secret", j, s[0][j]);
    }
}

static void base32(void **state)
{
    (void)state;
    assert_int_equal(TOTP_BASE32_LEN, 32);
    char out[TOTP_BASE32_LEN + 8];

    /* RFC 4648 / RFC 6238 secret */
    memset(out, 'x', sizeof out);
    assert_int_equal(totp_base32(rfc_secret, out), GH_OK);
    assert_string_equal(out, rfc_secret_b32);
    assert_int_equal(out[TOTP_BASE32_LEN], '\0');
    for (size_t j = TOTP_BASE32_LEN + 1; j < sizeof out; j++)
        assert_int_equal(out[j], 'x');

    /* all zeros, all ones */
    uint8_t s[TOTP_SECRET_BYTES];
    memset(s, 0, sizeof s);
    assert_int_equal(totp_base32(s, out), GH_OK);
    assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    memset(s, 0xff, sizeof s);
    assert_int_equal(totp_base32(s, out), GH_OK);
    assert_string_equal(out, "77777777777777777777777777777777");
    /* bit order: one set bit at the front and at the back */
    memset(s, 0, sizeof s);
    s[0] = 0x80;
    s[TOTP_SECRET_BYTES - 1] = 0x01;
    assert_int_equal(totp_base32(s, out), GH_OK);
    assert_string_equal(out, "QAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB");

    /* random secrets: 32 chars of the upper-case alphabet, no '=', round trip */
    for (int i = 0; i < 64; i++) {
        totp_new_secret(s);
        assert_int_equal(totp_base32(s, out), GH_OK);
        assert_int_equal(strlen(out), TOTP_BASE32_LEN);
        assert_int_equal(strspn(out, b32_alphabet), TOTP_BASE32_LEN);
        assert_null(strchr(out, '='));
        uint8_t back[TOTP_SECRET_BYTES + 4];
        assert_int_equal(b32_decode(out, back, sizeof back), TOTP_SECRET_BYTES);
        assert_memory_equal(back, s, TOTP_SECRET_BYTES);
    }
}

static void rfc6238_vectors(void **state)
{
    (void)state;
    char code[TOTP_DIGITS + 4];
    for (size_t i = 0; i < N_VECTORS; i++) {
        int64_t t = rfc_vectors[i].t, st = t / TOTP_STEP;
        memset(code, 'x', sizeof code);
        code_at(rfc_secret, st, code);
        if (strcmp(code, rfc_vectors[i].code6))
            fail_msg("step %" PRId64 ": got %s, want %s", st, code, rfc_vectors[i].code6);
        for (size_t j = TOTP_DIGITS + 1; j < sizeof code; j++)
            assert_int_equal(code[j], 'x');

        /* totp_check accepts it at that time, and at the step's first and last second */
        expect_ok(rfc_secret, rfc_vectors[i].code6, t, 0, st);
        expect_ok(rfc_secret, rfc_vectors[i].code6, st * TOTP_STEP, 0, st);
        expect_ok(rfc_secret, rfc_vectors[i].code6, st * TOTP_STEP + TOTP_STEP - 1, 0, st);

        /* the 8- and 7-digit forms of the same value are not 6-digit codes */
        expect_denied(rfc_secret, rfc_vectors[i].code8, t, 0);
        expect_denied(rfc_secret, rfc_vectors[i].code8 + 1, t, 0);
        /* neither are its last 5 digits (the 5-digit TOTP) */
        expect_denied(rfc_secret, rfc_vectors[i].code6 + 1, t, 0);

        /* the right code but for the last digit */
        char near[TOTP_DIGITS + 1];
        memcpy(near, rfc_vectors[i].code6, sizeof near);
        near[TOTP_DIGITS - 1] = (char)('0' + (near[TOTP_DIGITS - 1] - '0' + 1) % 10);
        char nb[TOTP_DIGITS + 1];
        for (int64_t d = -1; d <= 1; d++) {
            code_at(rfc_secret, st + d, nb);
            assert_string_not_equal(nb, near); /* precondition: no collision */
        }
        expect_denied(rfc_secret, near, t, 0);
    }
}

static void oathtool_cross_check(void **state)
{
    (void)state;
    uint8_t s[TOTP_SECRET_BYTES];
    char b32[TOTP_BASE32_LEN + 1], hex[2 * TOTP_SECRET_BYTES + 1];
    char cmd[512], line[128], mine[TOTP_DIGITS + 1];
    int64_t times[10] = {59, 1111111109, 2000000000, 20000000000LL, (int64_t)time(NULL)};
    for (size_t i = 5; i < 10; i++) {
        uint32_t r = randombytes_uniform(2000000000u);
        times[i] = 1000000000 + (int64_t)r;
    }
    for (int round = 0; round < 3; round++) {
        totp_new_secret(s);
        assert_int_equal(totp_base32(s, b32), GH_OK);
        assert_int_equal(strspn(b32, b32_alphabet), TOTP_BASE32_LEN); /* shell-safe */
        gh_hex(hex, s, sizeof s);
        for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
            int64_t t = times[i], st = t / TOTP_STEP;
            /* our base32 fed to oathtool */
            int n = snprintf(cmd, sizeof cmd, "oathtool --totp -b -N @%" PRId64 " %s 2>&1", t, b32);
            assert_true(n > 0 && (size_t)n < sizeof cmd);
            run_line(cmd, line, sizeof line);
            if (strlen(line) != TOTP_DIGITS || strspn(line, "0123456789") != TOTP_DIGITS)
                fail_msg("oathtool printed \"%s\"", line);
            expect_ok(s, line, t, 0, st);
            code_at(s, st, mine);
            if (strcmp(mine, line))
                fail_msg("t=%" PRId64 " %s: ours %s, oathtool %s", t, b32, mine, line);
            /* the raw key as hex (independent of our base32) */
            n = snprintf(cmd, sizeof cmd, "oathtool --totp -N @%" PRId64 " %s 2>&1", t, hex);
            assert_true(n > 0 && (size_t)n < sizeof cmd);
            char line2[128];
            run_line(cmd, line2, sizeof line2);
            assert_string_equal(line2, line);
        }
    }
}

static void check_window(void **state)
{
    (void)state;
    const int64_t s = 1111111111 / TOTP_STEP;
    char c[7][TOTP_DIGITS + 1]; /* codes for steps s-3 .. s+3 */
    for (int d = -3; d <= 3; d++)
        code_at(rfc_secret, s + d, c[d + 3]);
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < a; b++)
            assert_string_not_equal(c[a], c[b]); /* precondition */

    const int64_t nows[] = {s * TOTP_STEP, s * TOTP_STEP + 13, s * TOTP_STEP + TOTP_STEP - 1};
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        int64_t now = nows[k];
        for (int d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++)
            expect_ok(rfc_secret, c[d + 3], now, 0, s + d);
        expect_denied(rfc_secret, c[3 - 2], now, 0);
        expect_denied(rfc_secret, c[3 + 2], now, 0);
        expect_denied(rfc_secret, c[3 - 3], now, 0);
        expect_denied(rfc_secret, c[3 + 3], now, 0);
    }
    assert_int_equal(TOTP_WINDOW, 1);
    /* a code valid now is refused a minute later, and two steps early */
    expect_denied(rfc_secret, c[3], (s + 2) * TOTP_STEP, 0);
    expect_denied(rfc_secret, c[3], (s - 2) * TOTP_STEP + TOTP_STEP - 1, 0);

    /* a code matching no step at all */
    const char *junk = "000000";
    for (int d = 0; d < 7; d++)
        assert_string_not_equal(c[d], junk);
    expect_denied(rfc_secret, junk, s * TOTP_STEP, 0);

    /* another secret's code */
    uint8_t other[TOTP_SECRET_BYTES];
    memcpy(other, rfc_secret, sizeof other);
    other[19] ^= 1;
    char oc[TOTP_DIGITS + 1];
    code_at(other, s, oc);
    for (int d = 2; d <= 4; d++)
        assert_string_not_equal(oc, c[d]);
    expect_denied(rfc_secret, oc, s * TOTP_STEP, 0);
    expect_ok(other, oc, s * TOTP_STEP, 0, s);
}

static void check_replay(void **state)
{
    (void)state;
    const int64_t s = 1234567890 / TOTP_STEP, now = s * TOTP_STEP + 5;
    char prev[TOTP_DIGITS + 1], cur[TOTP_DIGITS + 1], next[TOTP_DIGITS + 1];
    code_at(rfc_secret, s - 1, prev);
    code_at(rfc_secret, s, cur);
    code_at(rfc_secret, s + 1, next);
    assert_string_not_equal(prev, cur);
    assert_string_not_equal(cur, next);
    assert_string_not_equal(prev, next);

    expect_ok(rfc_secret, cur, now, 0, s);
    /* the same code again: replay */
    expect_denied(rfc_secret, cur, now, s);
    expect_denied(rfc_secret, cur, now + 20, s);
    /* an older code after a newer one was used */
    expect_denied(rfc_secret, prev, now, s);
    /* a later one is fine, then it too is spent and cur is older */
    expect_ok(rfc_secret, next, now, s, s + 1);
    expect_denied(rfc_secret, next, now, s + 1);
    expect_denied(rfc_secret, cur, now, s + 1);
    expect_denied(rfc_secret, prev, now, s + 1);
    /* last_step just before: all later ones pass */
    expect_ok(rfc_secret, prev, now, s - 2, s - 1);
    expect_ok(rfc_secret, cur, now, s - 1, s);
    /* last_step far ahead (clock was ahead at the last login): nothing passes */
    expect_denied(rfc_secret, prev, now, s + 5);
    expect_denied(rfc_secret, cur, now, s + 5);
    expect_denied(rfc_secret, next, now, s + 5);
}

static void check_rejects_malformed(void **state)
{
    (void)state;
    const int64_t t = 1111111111, s = t / TOTP_STEP;
    const char *good = "050471";
    expect_ok(rfc_secret, good, t, 0, s);

    const char *bad[] = {
        "",        " ",       "05047",    "5047",    "0504710",  "14050471",      "0050471",
        " 050471", "050471 ", " 05047",   "05047 ",  "050471\n", "\t050471",      "05 0471",
        "+50471",  "-50471",  "+050471",  "5e4711",  "05047a",   "a50471",        "0x5047",
        "05047O",  "O50471",  "050471\r", "0504 71", "０50471",  "05047\xd9\xa1", "abcdef",
        "ABCDEF",  "......",  "050,471",  "050-471", "05.471",   "5047.1",        "0505471",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_denied(rfc_secret, bad[i], t, 0);
    expect_denied(rfc_secret, NULL, t, 0);

    /* every single-digit change of the right code fails (no neighbour collides) */
    char nb[3][TOTP_DIGITS + 1];
    for (int d = -1; d <= 1; d++)
        code_at(rfc_secret, s + d, nb[d + 1]);
    char m[TOTP_DIGITS + 1];
    for (size_t pos = 0; pos < TOTP_DIGITS; pos++) {
        for (char dig = '0'; dig <= '9'; dig++) {
            memcpy(m, good, sizeof m);
            if (m[pos] == dig) continue;
            m[pos] = dig;
            if (!strcmp(m, nb[0]) || !strcmp(m, nb[2])) continue;
            expect_denied(rfc_secret, m, t, 0);
        }
    }
    /* still fine afterwards */
    expect_ok(rfc_secret, good, t, 0, s);
}

/* Splits the URI into label and query parameters and checks each. */
static void check_uri(const uint8_t *secret, const char *issuer, const char *account)
{
    char *uri = NULL;
    assert_int_equal(totp_uri(secret, issuer, account, &uri), GH_OK);
    assert_non_null(uri);
    char b32[TOTP_BASE32_LEN + 1];
    assert_int_equal(totp_base32(secret, b32), GH_OK);

    const char *pfx = "otpauth://totp/";
    if (strncmp(uri, pfx, strlen(pfx))) fail_msg("bad prefix: %s", uri);
    const char *label = uri + strlen(pfx);
    const char *q = strchr(label, '?');
    if (!q) fail_msg("no query: %s", uri);
    assert_null(strchr(q + 1, '?'));
    assert_null(strchr(uri, '#'));
    for (const char *p = uri; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) fail_msg("raw byte in %s", uri);

    /* label: <issuer>:<account>, exactly one raw ':' */
    const char *colon = memchr(label, ':', (size_t)(q - label));
    if (!colon) fail_msg("no ':' in label: %s", uri);
    char dec[2048];
    pct_decode(label, (size_t)(colon - label), dec, sizeof dec, "label issuer");
    assert_string_equal(dec, issuer);
    pct_decode(colon + 1, (size_t)(q - colon - 1), dec, sizeof dec, "label account");
    assert_string_equal(dec, account);

    /* parameters: each of the five exactly once */
    const char *keys[] = {"secret", "issuer", "algorithm", "digits", "period"};
    int seen[5] = {0};
    const char *p = q + 1;
    while (*p) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (!eq) fail_msg("parameter without '=' in %s", uri);
        size_t klen = (size_t)(eq - p);
        pct_decode(eq + 1, len - klen - 1, dec, sizeof dec, "parameter value");
        size_t k = 0;
        for (; k < 5; k++)
            if (strlen(keys[k]) == klen && !memcmp(p, keys[k], klen)) break;
        if (k < 5)
            seen[k]++;
        else
            fail_msg("unexpected parameter \"%.*s\" in %s", (int)klen, p, uri);
        if (k == 0) {
            assert_string_equal(dec, b32);
            /* written literally, not escaped */
            assert_int_equal(len - klen - 1, TOTP_BASE32_LEN);
        }
        if (k == 1) assert_string_equal(dec, issuer);
        if (k == 2) assert_string_equal(dec, "SHA1");
        if (k == 3) assert_string_equal(dec, "6");
        if (k == 4) assert_string_equal(dec, "30");
        p += len;
        if (*p == '&') {
            p++;
            assert_true(*p != '\0' && *p != '&');
        }
    }
    for (size_t k = 0; k < 5; k++)
        if (seen[k] != 1) fail_msg("parameter %s appears %d times in %s", keys[k], seen[k], uri);

    /* the literal substrings the brief names */
    char want[64];
    snprintf(want, sizeof want, "secret=%s", b32);
    assert_non_null(strstr(uri, want));
    assert_non_null(strstr(uri, "algorithm=SHA1"));
    assert_non_null(strstr(uri, "digits=6"));
    assert_non_null(strstr(uri, "period=30"));
    gh_free_secret_str(uri);
}

static void uri(void **state)
{
    (void)state;
    check_uri(rfc_secret, "Gatehouse", "alice@example.com");
    check_uri(rfc_secret, "Acme & Co", "a+b@example.com");
    uint8_t s[TOTP_SECRET_BYTES];
    totp_new_secret(s);
    check_uri(s, "Acme & Co", "a+b@example.com");
    check_uri(s, "50% off #1?/x=y", "we ird;user@ex.com");
    check_uri(s, "Caf\xc3\xa9",
              "b\xc3\xb6"
              "b@example.com");

    /* the exact issuer parameter for "Acme & Co" (%20 or upper/lower-case hex) */
    char *u = NULL;
    assert_int_equal(totp_uri(rfc_secret, "Acme & Co", "a+b@example.com", &u), GH_OK);
    assert_non_null(strcasestr(u, "issuer=Acme%20%26%20Co"));
    assert_non_null(strcasestr(u, "a%2Bb"));
    assert_non_null(strstr(u, "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
    gh_free_secret_str(u);

    /* an issuer or account holding ':' is either refused or escaped (checked
     * by check_uri: the label has one raw ':') */
    u = NULL;
    enum gh_err rc = totp_uri(s, "A:B", "c:d", &u);
    if (rc == GH_OK) {
        gh_free_secret_str(u);
        check_uri(s, "A:B", "c:d");
    } else {
        assert_int_equal(rc, GH_ERR_INVALID);
        assert_null(u);
    }
}

/* Long issuers and accounts: either refused, or encoded in full (never
 * silently cut, which would show the user another name). */
static void uri_long(void **state)
{
    (void)state;
    uint8_t s[TOTP_SECRET_BYTES];
    totp_new_secret(s);
    char issuer[201], account[601];
    const struct {
        size_t ilen, alen;
        char ic, ac;
    } cases[] = {{60, 20, 'x', 'y'},  {100, 20, '&', 'y'}, {200, 20, 'x', 'y'},
                 {10, 400, 'i', '+'}, {10, 600, 'i', 'a'}, {200, 600, ' ', '@'}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(issuer, cases[i].ic, cases[i].ilen);
        issuer[cases[i].ilen] = '\0';
        memset(account, cases[i].ac, cases[i].alen);
        account[cases[i].alen] = '\0';
        char *u = NULL;
        enum gh_err rc = totp_uri(s, issuer, account, &u);
        if (rc == GH_OK) {
            gh_free_secret_str(u);
            check_uri(s, issuer, account); /* decodes back to the full strings */
        } else if (rc != GH_ERR_INVALID) {
            fail_msg("issuer %zu x '%c', account %zu x '%c': %s", cases[i].ilen, cases[i].ic,
                     cases[i].alen, cases[i].ac, gh_err_name(rc));
        }
    }
}

/* Extreme steps and times: an error or a code, never undefined behaviour. */
static void extreme_steps(void **state)
{
    (void)state;
    char out[TOTP_DIGITS + 1];
    const int64_t steps[] = {
        0, INT64_MAX / TOTP_STEP, INT64_MAX / TOTP_STEP + 1, INT64_MAX, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        enum gh_err rc = totp_code_at(rfc_secret, steps[i], out);
        if (rc == GH_OK) assert_int_equal(strspn(out, "0123456789"), TOTP_DIGITS);
    }
    code_at(rfc_secret, 0, out);
    const int64_t nows[] = {0, 29, -1, -31, INT64_MAX, INT64_MIN, INT64_MAX - 29};
    int64_t st = 0;
    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        enum gh_err rc = totp_check(rfc_secret, out, nows[i], -1, &st);
        assert_true(rc == GH_OK || rc == GH_ERR_DENIED);
        rc = totp_check(rfc_secret, out, nows[i], INT64_MAX, &st);
        assert_int_equal(rc, GH_ERR_DENIED);
    }
    /* the step-0 code is valid at time 0 for a never-used secret */
    expect_ok(rfc_secret, out, 0, -1, 0);
}

/* A minimal well-formedness check: tags nest and close, one root <svg>,
 * nothing but whitespace outside it. Returns NULL or what is wrong. */
static const char *xml_check(const char *doc)
{
    char stack[32][32];
    int depth = 0, roots = 0;
    const char *p = doc;
    while (*p) {
        if (*p != '<') {
            if (depth == 0 && !isspace((unsigned char)*p)) return "text outside the root";
            if (*p == '>') return "stray '>'";
            p++;
            continue;
        }
        if (!strncmp(p, "<?", 2)) {
            if (roots || depth) return "processing instruction inside";
            const char *e = strstr(p, "?>");
            if (!e) return "unterminated <?";
            p = e + 2;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            const char *e = strstr(p + 4, "-->");
            if (!e) return "unterminated comment";
            p = e + 3;
            continue;
        }
        if (p[1] == '!') return "unexpected <!";
        int closing = p[1] == '/';
        const char *n = p + 1 + closing;
        size_t nl = 0;
        while (isalnum((unsigned char)n[nl]) || n[nl] == ':' || n[nl] == '-' || n[nl] == '_')
            nl++;
        if (nl == 0 || nl >= sizeof stack[0]) return "bad tag name";
        const char *e = n + nl;
        char quote = 0;
        for (; *e; e++) {
            if (quote) {
                if (*e == quote)
                    quote = 0;
                else if (*e == '<')
                    return "'<' in attribute";
            } else if (*e == '"' || *e == '\'') {
                quote = *e;
            } else if (*e == '>') {
                break;
            } else if (*e == '<') {
                return "'<' inside tag";
            }
        }
        if (*e != '>') return "unterminated tag";
        if (closing) {
            if (depth == 0) return "close without open";
            depth--;
            if (strlen(stack[depth]) != nl || memcmp(stack[depth], n, nl))
                return "mismatched close";
        } else if (e[-1] != '/') {
            if (depth == 0) {
                if (roots++) return "two roots";
                if (nl != 3 || memcmp(n, "svg", 3)) return "root is not svg";
            }
            if (depth == 32) return "too deep";
            memcpy(stack[depth], n, nl);
            stack[depth][nl] = '\0';
            depth++;
        } else if (depth == 0) {
            return "self-closed root";
        }
        p = e + 1;
    }
    if (depth) return "unclosed element";
    if (roots != 1) return "no root";
    return NULL;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + l, needle))
        n++;
    return n;
}

/* Drawn shapes: <rect> elements plus moveto commands inside d="..." */
static size_t count_shapes(const char *svg)
{
    size_t n = count_str(svg, "<rect");
    for (const char *p = strstr(svg, " d="); p; p = strstr(p + 3, " d=")) {
        char quote = p[3];
        if (quote != '"' && quote != '\'') continue;
        for (const char *c = p + 4; *c && *c != quote; c++)
            n += *c == 'M' || *c == 'm';
    }
    return n;
}

/* ---- QR structure: rasterise the SVG onto its module grid ------------- */

#define QR_MAX 200 /* modules per side, quiet zone included */

struct qr_grid {
    int n;         /* modules per side, quiet zone included */
    double unit;   /* user units per module */
    uint8_t *dark; /* n*n */
};

/* True if the tag starting at p (up to its '>') is painted white. */
static int tag_is_light(const char *p)
{
    const char *e = strchr(p, '>');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char tag[512];
    size_t l = len < sizeof tag - 1 ? len : sizeof tag - 1;
    memcpy(tag, p, l);
    tag[l] = '\0';
    return strcasestr(tag, "fill=\"#fff") || strcasestr(tag, "fill=\"white") ||
           strcasestr(tag, "fill:#fff") || strcasestr(tag, "fill:white") ||
           strcasestr(tag, "fill='#fff") || strcasestr(tag, "fill='white");
}

static double attr_num(const char *tag, const char *name, double dflt)
{
    char key[32];
    snprintf(key, sizeof key, " %s=", name);
    const char *e = strchr(tag, '>');
    const char *a = strstr(tag, key);
    if (!a || (e && a > e)) return dflt;
    a += strlen(key);
    if (*a == '"' || *a == '\'') a++;
    return strtod(a, NULL);
}

/* Vertices of the closed subpaths of every dark <path>, as polygons. */
struct polys {
    double *x, *y; /* all vertices */
    size_t *start; /* first vertex of each polygon; start[np] = nv */
    size_t nv, np, capv, capp;
};

static void poly_add_vertex(struct polys *ps, double x, double y)
{
    if (ps->nv == ps->capv) {
        ps->capv = ps->capv ? ps->capv * 2 : 1024;
        ps->x = realloc(ps->x, ps->capv * sizeof *ps->x);
        ps->y = realloc(ps->y, ps->capv * sizeof *ps->y);
        assert_non_null(ps->x);
        assert_non_null(ps->y);
    }
    ps->x[ps->nv] = x;
    ps->y[ps->nv] = y;
    ps->nv++;
}

static void poly_begin(struct polys *ps)
{
    if (ps->np + 1 >= ps->capp) {
        ps->capp = ps->capp ? ps->capp * 2 : 256;
        ps->start = realloc(ps->start, ps->capp * sizeof *ps->start);
        assert_non_null(ps->start);
    }
    /* drop an empty open polygon */
    if (ps->np && ps->start[ps->np - 1] == ps->nv) return;
    ps->start[ps->np++] = ps->nv;
}

/* Parses one path's d attribute (M m L l H h V v Z z). */
static void parse_path(struct polys *ps, const char *d, char quote)
{
    double cx = 0, cy = 0, sx = 0, sy = 0;
    char cmd = 0;
    int open = 0;
    const char *p = d;
    while (*p && *p != quote) {
        if (isspace((unsigned char)*p) || *p == ',') {
            p++;
            continue;
        }
        if (isalpha((unsigned char)*p)) {
            cmd = *p++;
            if (cmd == 'Z' || cmd == 'z') {
                cx = sx;
                cy = sy;
                open = 0;
                cmd = 0;
            } else if (!strchr("MmLlHhVv", cmd)) {
                fail_msg("path command '%c' not understood by this test", cmd);
            }
            continue;
        }
        char *end = NULL;
        double a = strtod(p, &end);
        if (end == p) fail_msg("bad number in path at \"%.20s\"", p);
        p = end;
        double b = 0;
        if (cmd == 'M' || cmd == 'm' || cmd == 'L' || cmd == 'l') {
            while (isspace((unsigned char)*p) || *p == ',')
                p++;
            b = strtod(p, &end);
            if (end == p) fail_msg("odd coordinate count in path");
            p = end;
        }
        switch (cmd) {
        case 'M':
        case 'm':
            cx = cmd == 'M' ? a : cx + a;
            cy = cmd == 'M' ? b : cy + b;
            sx = cx;
            sy = cy;
            poly_begin(ps);
            poly_add_vertex(ps, cx, cy);
            open = 1;
            cmd = cmd == 'M' ? 'L' : 'l'; /* implicit lineto after moveto */
            continue;
        case 'L':
            cx = a;
            cy = b;
            break;
        case 'l':
            cx += a;
            cy += b;
            break;
        case 'H':
            cx = a;
            break;
        case 'h':
            cx += a;
            break;
        case 'V':
            cy = a;
            break;
        case 'v':
            cy += a;
            break;
        default:
            fail_msg("number without a command in path");
        }
        if (!open) {
            poly_begin(ps);
            poly_add_vertex(ps, sx, sy);
            open = 1;
        }
        poly_add_vertex(ps, cx, cy);
    }
}

/* Builds the module grid of a QR SVG (viewBox "0 0 W W"). */
static void qr_rasterise(const char *svg, struct qr_grid *g)
{
    const char *vb = strstr(svg, "viewBox=\"");
    assert_non_null(vb);
    double vx, vy, vw, vh;
    assert_int_equal(sscanf(vb + 9, "%lf %lf %lf %lf", &vx, &vy, &vw, &vh), 4);

    /* dark rectangles from <rect>, polygons from <path> */
    struct polys ps;
    memset(&ps, 0, sizeof ps);
    double unit = vw;
    for (const char *t = strstr(svg, "<rect"); t; t = strstr(t + 5, "<rect")) {
        double w = attr_num(t, "width", 0), h = attr_num(t, "height", 0);
        if (tag_is_light(t) || (w >= vw && h >= vh)) continue;
        double x = attr_num(t, "x", 0), y = attr_num(t, "y", 0);
        poly_begin(&ps);
        poly_add_vertex(&ps, x, y);
        poly_add_vertex(&ps, x + w, y);
        poly_add_vertex(&ps, x + w, y + h);
        poly_add_vertex(&ps, x, y + h);
    }
    for (const char *t = strstr(svg, "<path"); t; t = strstr(t + 5, "<path")) {
        if (tag_is_light(t)) continue;
        const char *d = strstr(t, " d=");
        const char *e = strchr(t, '>');
        if (!d || (e && d > e)) continue;
        parse_path(&ps, d + 4, d[3]);
    }
    if (ps.np) ps.start[ps.np] = ps.nv;
    assert_true(ps.np > 0);
    /* the module size: the shortest non-zero edge */
    for (size_t k = 0; k < ps.np; k++) {
        size_t a = ps.start[k], z = ps.start[k + 1];
        for (size_t i = a; i < z; i++) {
            size_t j = i + 1 < z ? i + 1 : a;
            double dx = fabs(ps.x[j] - ps.x[i]), dy = fabs(ps.y[j] - ps.y[i]);
            if (dx > 1e-9 && dx < unit) unit = dx;
            if (dy > 1e-9 && dy < unit) unit = dy;
        }
    }
    int n = (int)(vw / unit + 0.5);
    if (n < 21 || n > QR_MAX || fabs(n * unit - vw) > unit * 0.01 || vw != vh)
        fail_msg("viewBox %g x %g with module %g is not a module grid", vw, vh, unit);
    g->n = n;
    g->unit = unit;
    g->dark = calloc((size_t)n * (size_t)n, 1);
    assert_non_null(g->dark);
    /* even-odd fill of each polygon, sampled at module centres */
    for (size_t k = 0; k < ps.np; k++) {
        size_t a = ps.start[k], z = ps.start[k + 1];
        if (z - a < 3) continue;
        double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
        for (size_t i = a; i < z; i++) {
            x0 = fmin(x0, ps.x[i]);
            x1 = fmax(x1, ps.x[i]);
            y0 = fmin(y0, ps.y[i]);
            y1 = fmax(y1, ps.y[i]);
        }
        int cx0 = (int)floor((x0 - vx) / unit), cx1 = (int)ceil((x1 - vx) / unit);
        int cy0 = (int)floor((y0 - vy) / unit), cy1 = (int)ceil((y1 - vy) / unit);
        for (int cy = cy0 < 0 ? 0 : cy0; cy < cy1 && cy < n; cy++) {
            for (int cx = cx0 < 0 ? 0 : cx0; cx < cx1 && cx < n; cx++) {
                double px = vx + (cx + 0.5) * unit, py = vy + (cy + 0.5) * unit;
                int in = 0;
                for (size_t i = a; i < z; i++) {
                    size_t j = i + 1 < z ? i + 1 : a;
                    if ((ps.y[i] > py) != (ps.y[j] > py) &&
                        px < ps.x[i] + (py - ps.y[i]) * (ps.x[j] - ps.x[i]) / (ps.y[j] - ps.y[i]))
                        in = !in;
                }
                if (in) g->dark[cy * n + cx] ^= 1;
            }
        }
    }
    free(ps.x);
    free(ps.y);
    free(ps.start);
}

/* Checks what every QR symbol has: a 4-module light quiet zone, a size of
 * 17 + 4v, three finder patterns with separators, the timing patterns and
 * the dark module; and a plausible share of dark modules. */
static void qr_check_structure(const char *svg)
{
    struct qr_grid g;
    qr_rasterise(svg, &g);
    const int q = 4, w = g.n - 2 * q;
#define D(x, y) (g.dark[(size_t)((y) + q) * (size_t)g.n + (size_t)((x) + q)])
    if (w < 21 || (w - 17) % 4) fail_msg("%d modules per side is not a QR size", w);
    for (int y = 0; y < g.n; y++)
        for (int x = 0; x < g.n; x++)
            if ((x < q || y < q || x >= g.n - q || y >= g.n - q) && g.dark[y * g.n + x])
                fail_msg("dark module in the quiet zone at %d,%d", x, y);
    const int fx[3] = {0, w - 7, 0}, fy[3] = {0, 0, w - 7};
    for (int f = 0; f < 3; f++) {
        for (int y = -1; y <= 7; y++) {
            for (int x = -1; x <= 7; x++) {
                int ax = fx[f] + x, ay = fy[f] + y;
                if (ax < 0 || ay < 0 || ax >= w || ay >= w) continue;
                int ring = x < 0 || y < 0 || x > 6 || y > 6
                               ? -1
                               : (x == 0 || y == 0 || x == 6 || y == 6
                                      ? 0
                                      : (x == 1 || y == 1 || x == 5 || y == 5 ? 1 : 2));
                int want = ring == 0 || ring == 2; /* separator (-1) and ring 1 light */
                if (D(ax, ay) != want)
                    fail_msg("finder pattern %d wrong at module %d,%d", f, ax, ay);
            }
        }
    }
    for (int i = 8; i < w - 8; i++) {
        if (D(i, 6) != !(i & 1)) fail_msg("row timing pattern wrong at %d", i);
        if (D(6, i) != !(i & 1)) fail_msg("column timing pattern wrong at %d", i);
    }
    if (!D(8, w - 8)) fail_msg("no dark module at 8,%d", w - 8);
    size_t dark = 0;
    for (int i = 0; i < g.n * g.n; i++)
        dark += g.dark[i];
    double share = (double)dark / ((double)w * w);
    if (share < 0.3 || share > 0.7) fail_msg("%.0f%% of the modules are dark", share * 100);
#undef D
    free(g.dark);
}

static char *qr(const char *text)
{
    char *svg = NULL;
    enum gh_err rc = totp_qr_svg(text, &svg);
    if (rc != GH_OK) fail_msg("totp_qr_svg(\"%s\"): %s", text, gh_err_name(rc));
    assert_non_null(svg);

    /* <svg first, or an XML declaration then <svg */
    const char *p = svg;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        assert_non_null(p);
        p += 2;
        while (isspace((unsigned char)*p))
            p++;
    }
    if (strncmp(p, "<svg", 4)) fail_msg("does not start with <svg: %.60s", svg);
    assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
    size_t len = strlen(svg);
    assert_true(len > 12);
    assert_true(!strcmp(svg + len - 6, "</svg>") || !strcmp(svg + len - 7, "</svg>\n"));
    const char *why = xml_check(svg);
    if (why) fail_msg("malformed SVG (%s)", why);

    /* viewBox: four numbers, square, positive */
    const char *vb = strstr(svg, "viewBox=\"");
    assert_non_null(vb);
    double x = -1, y = -1, w = -1, h = -1;
    assert_int_equal(sscanf(vb + 9, "%lf %lf %lf %lf", &x, &y, &w, &h), 4);
    assert_true(w > 0 && w == h);
    /* black modules on white */
    assert_true(strcasestr(svg, "#000") || strcasestr(svg, "black"));
    assert_true(strcasestr(svg, "#fff") || strcasestr(svg, "white"));
    qr_check_structure(svg);
    return svg;
}

static void qr_svg(void **state)
{
    (void)state;
    /* a real enrolment URI with a long issuer and account */
    uint8_t s[TOTP_SECRET_BYTES];
    totp_new_secret(s);
    char *u = NULL;
    assert_int_equal(totp_uri(s, "Gatehouse Example Organisation & Partners",
                              "a.very.long.account.name+totp@subdomain.example.com", &u),
                     GH_OK);
    assert_true(strlen(u) > 150);
    char *big = qr(u);
    size_t shapes = count_shapes(big);
    if (shapes < 300) fail_msg("only %zu shapes drawn for a %zu-byte URI", shapes, strlen(u));

    /* the same text gives the same SVG; a different text a different one */
    char *again = qr(u);
    assert_string_equal(again, big);
    u[strlen(u) - 1] = u[strlen(u) - 1] == '0' ? '1' : '0'; /* period=30 -> 31 */
    char *other = qr(u);
    assert_string_not_equal(other, big);

    char *a = qr("hello");
    char *b = qr("world");
    assert_string_not_equal(a, b);
    assert_true(count_shapes(a) >= 20);
    /* a bigger code for a longer text */
    assert_true(count_shapes(big) > count_shapes(a));

    gh_free_secret_str(a);
    gh_free_secret_str(b);
    gh_free_secret_str(other);
    gh_free_secret_str(again);
    gh_free_secret_str(big);
    gh_free_secret_str(u);
}

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    return totp_init() == GH_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    totp_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_secret),
        cmocka_unit_test(base32),
        cmocka_unit_test(rfc6238_vectors),
        cmocka_unit_test(oathtool_cross_check),
        cmocka_unit_test(check_window),
        cmocka_unit_test(check_replay),
        cmocka_unit_test(check_rejects_malformed),
        cmocka_unit_test(uri),
        cmocka_unit_test(uri_long),
        cmocka_unit_test(qr_svg),
        cmocka_unit_test(extreme_steps),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
