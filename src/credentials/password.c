#include "credentials/password.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
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
#include "core/log.h"
#include "core/util.h"
#include "credentials/legacy_hash.h"

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

/* ---- denial padding (see password.h) ---- */

static pthread_mutex_t pad_mu = PTHREAD_MUTEX_INITIALIZER;
static char pad_hash[LEGACY_HASH_MAX + 1]; /* "": the Argon2id dummy is the slowest */
static char pad_user[STORE_ID_LEN + 1];
static char pad_family[96] = "argon2id (configured)"; /* a legacy_hash_family name */
static int64_t pad_us;                                /* 0 until measured: no sleep */

/* The target follows load: each check of the slowest family (an unknown
 * address's dummy work, or a real user of that family) moves it 1/8 of the
 * way to what that check just took, so a padded fast-format denial keeps
 * pace with the real work an unknown address does on a busy server. */
static void pad_observe(int64_t took_us)
{
    pthread_mutex_lock(&pad_mu);
    if (pad_us > 0) pad_us += (took_us - pad_us) / 8;
    pthread_mutex_unlock(&pad_mu);
}

static bool is_pad_family(const char *hash)
{
    char fam[96];
    if (legacy_hash_family(hash, fam, sizeof fam) != GH_OK) return false;
    pthread_mutex_lock(&pad_mu);
    bool same = strcmp(fam, pad_family) == 0;
    pthread_mutex_unlock(&pad_mu);
    return same;
}

/* Sleeps until start_us + the padding target (monotonic clock). */
static void pad_sleep(int64_t start_us)
{
    pthread_mutex_lock(&pad_mu);
    int64_t target = pad_us;
    pthread_mutex_unlock(&pad_mu);
    int64_t left = start_us + target - gh_mono_us();
    if (left <= 0) return;
    struct timespec ts = {.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

enum gh_err password_verify_user(const char *user_id, const char *hash, const char *pw, size_t len)
{
    int64_t t0 = gh_mono_us();
    enum legacy_kind k = legacy_hash_kind(hash);
    if (k == LEGACY_UNKNOWN || k == LEGACY_NONE) {
        password_verify_dummy(pw, len); /* same time as a real check */
        return GH_ERR_DENIED;
    }
    slot_take();
    enum gh_err rc = legacy_verify(hash, user_id, pw, len);
    slot_give();
    if (rc != GH_ERR_INTERNAL && is_pad_family(hash)) pad_observe(gh_mono_us() - t0);
    if (rc == GH_ERR_DENIED) pad_sleep(t0);
    return rc;
}

enum gh_err password_verify(const char *hash, const char *pw, size_t len)
{
    return password_verify_user(NULL, hash, pw, len);
}

void password_verify_dummy(const char *pw, size_t len)
{
    int64_t t0 = gh_mono_us();
    char h[LEGACY_HASH_MAX + 1], uid[STORE_ID_LEN + 1];
    pthread_mutex_lock(&pad_mu);
    memcpy(h, pad_hash, sizeof h);
    memcpy(uid, pad_user, sizeof uid);
    pthread_mutex_unlock(&pad_mu);
    /* The result is meaningless; only the work matters. */
    slot_take();
    if (h[0]) {
        if (legacy_verify(h, uid, pw, len) == GH_OK) h[0] ^= 0;
    } else if (crypto_pwhash_str_verify(dummy_hash, pw, len) == 0) {
        dummy_hash[0] ^= 0;
    }
    slot_give();
    gh_wipe(h, sizeof h); /* a real user's hash (the slowest family's) */
    pad_observe(gh_mono_us() - t0);
    pad_sleep(t0);
}

bool password_needs_rehash(const char *hash)
{
    enum legacy_kind k = legacy_hash_kind(hash);
    if (k == LEGACY_NONE) return false;
    if (k != LEGACY_ARGON2ID) return true; /* imported, or malformed (never verifies) */
    return crypto_pwhash_str_needs_rehash(hash, gh_cfg.argon2_iterations, memlimit()) != 0;
}

const char *password_hash_format(const char *hash)
{
    return legacy_kind_name(legacy_hash_kind(hash));
}

int64_t password_pad_target_us(char *family, size_t cap)
{
    pthread_mutex_lock(&pad_mu);
    int64_t t = pad_us;
    if (family && cap) snprintf(family, cap, "%s", pad_family);
    pthread_mutex_unlock(&pad_mu);
    return t;
}

#define PAD_FAMILIES 32
#define PAD_BATCH 64

struct pad_family {
    char name[96];
    char id[STORE_ID_LEN + 1];
    char hash[LEGACY_HASH_MAX + 1];
};

/* The quicker of two checks of hash against a random password, in us. */
static int64_t time_check(const char *hash, const char *uid)
{
    uint8_t raw[24];
    char pw[49];
    int64_t best = INT64_MAX;
    for (int i = 0; i < 2; i++) {
        gh_random(raw, sizeof raw);
        gh_hex(pw, raw, sizeof raw);
        int64_t t0 = gh_mono_us();
        slot_take();
        if (hash) {
            if (legacy_verify(hash, uid, pw, strlen(pw)) == GH_OK) pw[0] ^= 0;
        } else if (crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw)) == 0) {
            pw[0] ^= 0;
        }
        slot_give();
        int64_t t = gh_mono_us() - t0;
        if (t < best) best = t;
    }
    gh_wipe(pw, sizeof pw);
    return best;
}

/* Adds the family of each row not seen yet (at most PAD_FAMILIES). */
static void pad_collect(const struct store_hash_row *rows, size_t n, struct pad_family *fam,
                        size_t *nfam)
{
    for (size_t i = 0; i < n; i++) {
        char name[96];
        if (legacy_hash_family(rows[i].hash, name, sizeof name) != GH_OK) continue;
        size_t j = 0;
        while (j < *nfam && strcmp(fam[j].name, name) != 0)
            j++;
        if (j < *nfam || *nfam == PAD_FAMILIES) continue;
        snprintf(fam[j].name, sizeof fam[j].name, "%s", name);
        snprintf(fam[j].id, sizeof fam[j].id, "%s", rows[i].id);
        snprintf(fam[j].hash, sizeof fam[j].hash, "%s", rows[i].hash);
        (*nfam)++;
    }
}

void password_pad_refresh(const struct store_ops *ops, struct store_conn *c)
{
    char keep[80], after[STORE_ID_LEN + 1] = "";
    snprintf(keep, sizeof keep, "$argon2id$v=19$m=%llu,t=%llu,p=1$",
             (unsigned long long)gh_cfg.argon2_memory_kib,
             (unsigned long long)gh_cfg.argon2_iterations);
    struct store_hash_row *rows = calloc(PAD_BATCH, sizeof *rows);
    struct pad_family *fam = calloc(PAD_FAMILIES, sizeof *fam);
    size_t nfam = 0, n = 0;
    enum gh_err rc = rows && fam ? GH_OK : GH_ERR_NOMEM;
    while (rc == GH_OK) {
        rc = ops->users.other_hashes(c, keep, after, rows, PAD_BATCH, &n);
        if (rc || n == 0) break;
        pad_collect(rows, n, fam, &nfam);
        snprintf(after, sizeof after, "%s", rows[n - 1].id);
        if (n < PAD_BATCH) break;
    }
    if (rc) {
        gh_log(GH_LOG_WARN, "sign-in padding: cannot list stored hashes (%s); kept as it was",
               gh_err_name(rc));
        goto out;
    }
    int64_t best = time_check(NULL, NULL);
    size_t slowest = PAD_FAMILIES;
    for (size_t i = 0; i < nfam; i++) {
        int64_t t = time_check(fam[i].hash, fam[i].id);
        if (t > best) {
            best = t;
            slowest = i;
        }
    }
    pthread_mutex_lock(&pad_mu);
    pad_us = best;
    if (slowest < nfam) {
        memcpy(pad_hash, fam[slowest].hash, sizeof pad_hash);
        memcpy(pad_user, fam[slowest].id, sizeof pad_user);
        snprintf(pad_family, sizeof pad_family, "%s", fam[slowest].name);
    } else {
        pad_hash[0] = pad_user[0] = '\0';
        snprintf(pad_family, sizeof pad_family, "argon2id:%s", keep + 15); /* m=..,t=..,p=1$ */
        pad_family[strcspn(pad_family, "$")] = '\0';
    }
    pthread_mutex_unlock(&pad_mu);
    gh_log(GH_LOG_INFO, "sign-in padding: %zu other hash families; denials take %lld ms (%s)", nfam,
           (long long)(best / 1000), slowest < nfam ? fam[slowest].name : "argon2id");
out: /* real users' hashes: wiped before they go back to the allocator */
    if (rows) gh_wipe(rows, PAD_BATCH * sizeof *rows);
    if (fam) gh_wipe(fam, PAD_FAMILIES * sizeof *fam);
    free(rows);
    free(fam);
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
