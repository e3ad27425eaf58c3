#include "credentials/password.h"

#include <errno.h>
#include <math.h>
#include <semaphore.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zxcvbn.h>

#include "core/config.h"
#include "core/util.h"

static char dummy_hash[crypto_pwhash_STRBYTES];

/* At most one Argon2 computation per core: more would only thrash the
 * caches (each pass walks 19 MiB) while the other workers, free of hashing,
 * keep doing database work. Measured: 4 concurrent hashes on 2 cores gave
 * ~10 % fewer sign-ins/s than 2. */
static sem_t hash_slots;
static bool hash_slots_ready;

static void slot_take(void)
{
    if (!hash_slots_ready) return;
    while (sem_wait(&hash_slots) != 0) {
    }
}

static void slot_give(void)
{
    if (hash_slots_ready) sem_post(&hash_slots);
}

static unsigned long long memlimit(void)
{
    return (unsigned long long)gh_cfg.argon2_memory_kib * 1024ULL;
}

enum gh_err password_hash(char out[PASSWORD_HASH_MAX], const char *pw, size_t len)
{
    slot_take();
    int r = crypto_pwhash_str_alg(out, pw, len, gh_cfg.argon2_iterations, memlimit(),
                                  crypto_pwhash_ALG_ARGON2ID13);
    slot_give();
    return r == 0 ? GH_OK : GH_ERR_INTERNAL; /* out of memory for the Argon2 block */
}

enum gh_err password_init(void)
{
    if (!hash_slots_ready) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (sem_init(&hash_slots, 0, (unsigned)(ncpu < 1 ? 1 : ncpu)) != 0) return GH_ERR_INTERNAL;
        hash_slots_ready = true;
    }
    uint8_t raw[32];
    char pw[64];
    gh_random(raw, sizeof raw);
    gh_hex(pw, raw, 24);
    enum gh_err rc = password_hash(dummy_hash, pw, strlen(pw));
    gh_wipe(pw, sizeof pw);
    gh_wipe(raw, sizeof raw);
    return rc;
}

enum gh_err password_verify(const char *hash, const char *pw, size_t len)
{
    if (!hash || strncmp(hash, "$argon2id$", 10) != 0) {
        password_verify_dummy(pw, len); /* same time as a real check */
        return GH_ERR_DENIED;
    }
    slot_take();
    errno = 0;
    int r = crypto_pwhash_str_verify(hash, pw, len);
    int e = errno;
    slot_give();
    if (r == 0) return GH_OK;
    /* No memory for the Argon2 block is our failure, not the user's wrong
     * password; a mismatch (EINVAL) or an undecodable hash is a denial. */
    return e == ENOMEM ? GH_ERR_INTERNAL : GH_ERR_DENIED;
}

void password_verify_dummy(const char *pw, size_t len)
{
    /* The result is meaningless; only the work matters. */
    slot_take();
    if (crypto_pwhash_str_verify(dummy_hash, pw, len) == 0) dummy_hash[0] ^= 0;
    slot_give();
}

bool password_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, gh_cfg.argon2_iterations, memlimit()) != 0;
}

/* zxcvbn's guesses thresholds for scores 1..4 (10^3, 10^6, 10^8, 10^10),
 * in bits, as the C port reports entropy = log2(guesses). */
static double score_bits(int score)
{
    static const double guesses[] = {0, 1e3, 1e6, 1e8, 1e10};
    return score <= 0 ? 0 : log2(guesses[score > 4 ? 4 : score]);
}

static const char *match_reason(ZxcTypeMatch_t t)
{
    switch ((int)t & ~MULTIPLE_MATCH) {
    case DICTIONARY_MATCH:
    case DICT_LEET_MATCH:
        return "it is a common password or built from common words";
    case USER_MATCH:
    case USER_LEET_MATCH:
        return "it contains your email address or the name of this service";
    case REPEATS_MATCH:
        return "it repeats the same characters";
    case SEQUENCE_MATCH:
        return "it is a predictable sequence such as abcd or 1234";
    case SPATIAL_MATCH:
        return "it is a keyboard pattern";
    case DATE_MATCH:
    case YEAR_MATCH:
        return "it is built around a date or year";
    default:
        return "it is too easy to guess";
    }
}

/* Adds w (lower-cased, >= 3 chars) to words[*n] using buf storage. */
static void add_word(const char *w, size_t wl, char *buf, size_t *used, size_t cap,
                     const char **words, int *n, int max)
{
    if (wl < 3 || *n >= max - 1 || *used + wl + 1 > cap) return;
    char *d = buf + *used;
    for (size_t i = 0; i < wl; i++)
        d[i] = (char)((w[i] >= 'A' && w[i] <= 'Z') ? w[i] + 32 : w[i]);
    d[wl] = '\0';
    words[(*n)++] = d;
    words[*n] = NULL;
    *used += wl + 1;
}

/* zxcvbn-c judges bytes, so "🔒🔒🔒" (12 bytes) looks random to it; count
 * distinct characters (UTF-8 sequences, or bytes if not UTF-8) ourselves. */
#define PASSWORD_MIN_DISTINCT 5

static size_t distinct_chars(const char *pw, size_t len)
{
    uint32_t seen[16];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)pw, *e = p + len;
    while (p < e && n < 16) {
        uint32_t c = *p++;
        if (c >= 0xC0)
            while (p < e && (*p & 0xC0) == 0x80)
                c = (c << 8) | *p++;
        size_t i;
        for (i = 0; i < n && seen[i] != c; i++) {
        }
        if (i == n) seen[n++] = c;
    }
    return n;
}

enum gh_err password_check_policy(const char *pw, size_t len, const char *email, char *reason,
                                  size_t reasonlen)
{
    if (len < PASSWORD_MIN_BYTES) {
        snprintf(reason, reasonlen, "Password must be at least %d bytes long.", PASSWORD_MIN_BYTES);
        return GH_ERR_INVALID;
    }
    if (len > PASSWORD_MAX_BYTES) {
        snprintf(reason, reasonlen, "Password must be at most %d bytes long.", PASSWORD_MAX_BYTES);
        return GH_ERR_INVALID;
    }
    if (gh_cfg.password_min_score <= 0) return GH_OK;
    if (distinct_chars(pw, len) < PASSWORD_MIN_DISTINCT) {
        snprintf(reason, reasonlen, "Password is too weak: it uses too few different characters.");
        return GH_ERR_INVALID;
    }

    char buf[1024];
    size_t used = 0;
    const char *words[8] = {NULL};
    int n = 0;
    add_word(gh_cfg.brand, strlen(gh_cfg.brand), buf, &used, sizeof buf, words, &n, 8);
    const char *host = strstr(gh_cfg.issuer, "://");
    host = host ? host + 3 : gh_cfg.issuer;
    size_t hl = strcspn(host, ":/");
    add_word(host, hl, buf, &used, sizeof buf, words, &n, 8);
    size_t first = strcspn(host, ".");
    if (first < hl) add_word(host, first, buf, &used, sizeof buf, words, &n, 8);
    if (email) {
        const char *at = strrchr(email, '@');
        if (at) add_word(email, (size_t)(at - email), buf, &used, sizeof buf, words, &n, 8);
    }

    /* zxcvbn's cost grows with length; past 256 bytes the prefix alone is
     * either already strong or the rest cannot be judged better. */
    char head[257];
    size_t hlen = len > 256 ? 256 : len;
    memcpy(head, pw, hlen);
    head[hlen] = '\0';
    ZxcMatch_t *info = NULL;
    double bits = ZxcvbnMatch(head, words, &info);
    gh_wipe(head, sizeof head);
    enum gh_err rc = GH_OK;
    if (bits < score_bits(gh_cfg.password_min_score)) {
        const ZxcMatch_t *worst = NULL;
        for (const ZxcMatch_t *m = info; m; m = m->Next)
            if (((int)m->Type & ~MULTIPLE_MATCH) != BRUTE_MATCH &&
                (!worst || m->Length > worst->Length))
                worst = m;
        snprintf(reason, reasonlen, "Password is too weak: %s.",
                 worst ? match_reason(worst->Type) : "it is too short or too simple");
        rc = GH_ERR_INVALID;
    }
    ZxcvbnFreeInfo(info);
    gh_wipe(buf, sizeof buf);
    return rc;
}
