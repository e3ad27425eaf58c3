/* Fuzzes vault_parse_master_key (GATEHOUSE_MASTER_KEY / its _FILE, read at
 * start) with arbitrary text.
 * Properties: it answers GH_OK or GH_ERR_CONFIG with a terminated, non-empty
 * message; an accepted text, less trailing newline/CR/space, is exactly one
 * canonical spelling of the 32 bytes it returns (hex in either case, or
 * base64 / base64url, padded or not), holds no placeholder word, and the
 * bytes have at least 16 distinct values and are not all text (printable
 * ASCII, tab, CR, LF); the answer is deterministic. */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/log.h"
#include "core/util.h"
#include "fuzz.h"
#include "vault/vault.h"

static int same_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return 1;
}

/* text[0..n) is one canonical spelling of k. */
static int canonical(const char *text, size_t n, const uint8_t k[32])
{
    char hex[65], std[45], alt[45];
    int ok = 0;
    gh_hex(hex, k, 32);
    if (n == 64) {
        ok = same_ci(text, hex, 64);
    } else if (EVP_EncodeBlock((unsigned char *)std, k, 32) == 44 && (n == 44 || n == 43)) {
        /* standard, then base64url; each padded or unpadded */
        memcpy(alt, std, sizeof alt);
        for (size_t i = 0; i < 44; i++) {
            if (alt[i] == '+') alt[i] = '-';
            if (alt[i] == '/') alt[i] = '_';
        }
        ok = gh_ct_equal(text, n, std, n) || gh_ct_equal(text, n, alt, n);
    }
    gh_wipe(hex, sizeof hex); /* key material */
    gh_wipe(std, sizeof std);
    gh_wipe(alt, sizeof alt);
    return ok;
}

static int has_placeholder(const char *t)
{
    /* the words vault.c refuses (short ones like "your" are not: they turn
     * up in random base64) */
    static const char *const words[] = {"change",  "example", "placeholder", "replace",
                                        "default", "secret",  "password",    "masterkey"};
    char low[300];
    size_t n = strlen(t);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)t[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(low, words[i])) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        init = 1;
        gh_log_set_level(GH_LOG_CRIT);
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    uint8_t out[32], again[32];
    char err[300], err2[300];
    memset(err, 'x', sizeof err);
    enum gh_err rc = vault_parse_master_key(text, out, err, sizeof err);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_CONFIG);
    enum gh_err rc2 = vault_parse_master_key(text, again, err2, sizeof err2);
    FUZZ_CHECK(rc2 == rc);

    if (rc == GH_OK) {
        FUZZ_CHECK(gh_ct_equal(out, 32, again, 32));
        size_t n = strlen(text);
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
            n--;
        FUZZ_CHECK(n == 64 || n == 43 || n == 44);
        FUZZ_CHECK(canonical(text, n, out));
        FUZZ_CHECK(!has_placeholder(text));
        int seen[256] = {0}, distinct = 0, textual = 0;
        for (int i = 0; i < 32; i++) {
            if (!seen[out[i]]++) distinct++;
            if ((out[i] >= 0x20 && out[i] < 0x7f) || out[i] == 9 || out[i] == 10 || out[i] == 13)
                textual++;
        }
        FUZZ_CHECK(distinct >= 16);
        FUZZ_CHECK(textual < 32);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        FUZZ_CHECK(strlen(err) > 0);
        /* a tiny buffer is truncated, not overrun */
        char small[4] = {'x', 'x', 'x', 'x'};
        FUZZ_CHECK(vault_parse_master_key(text, out, small, 3) == GH_ERR_CONFIG);
        FUZZ_CHECK(small[2] == '\0' && small[3] == 'x');
    }
    free(text);
    return 0;
}
