/* Time one Argon2id hash (libsodium crypto_pwhash, ALG_ARGON2ID13, 32-byte output,
 * single thread) at Gatehouse's default parameters. Prints the median of 9 runs in ms.
 * Usage: argon2_time [MEMORY_KIB [ITERATIONS]]   (defaults 19456 KiB, t=2; p=1 is fixed
 * in libsodium).  Build: cc -O2 -o argon2_time argon2_time.c $(pkg-config --cflags --libs libsodium) */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 9

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    unsigned long long kib = argc > 1 ? strtoull(argv[1], NULL, 10) : 19456;
    unsigned long long t = argc > 2 ? strtoull(argv[2], NULL, 10) : 2;
    const char *pw = "correct horse battery staple 42";
    unsigned char out[32], salt[crypto_pwhash_SALTBYTES];
    double ms[RUNS];

    if (sodium_init() < 0) return 1;
    randombytes_buf(salt, sizeof salt);
    for (int i = -1; i < RUNS; i++) { /* i == -1: warm-up (page faults for the block) */
        double a = now_ms();
        if (crypto_pwhash(out, sizeof out, pw, strlen(pw), salt, t, (size_t)(kib * 1024),
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            fprintf(stderr, "crypto_pwhash failed (out of memory?)\n");
            return 1;
        }
        if (i >= 0) ms[i] = now_ms() - a;
    }
    qsort(ms, RUNS, sizeof ms[0], cmp);
    /* machine-readable first field, then context */
    printf("%.3f ms median (min %.3f, max %.3f, %d runs, m=%llu KiB t=%llu p=1, libsodium %s)\n",
           ms[RUNS / 2], ms[0], ms[RUNS - 1], RUNS, kib, t, sodium_version_string());
    return 0;
}
