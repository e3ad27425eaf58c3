/* Median verification time of each stored password-hash format beside
 * Argon2id at the configured parameters (credentials/legacy_hash.h).
 * Reads lines "name<TAB>password<TAB>hash as stored" on stdin (bench/hashes.mjs
 * makes them with htpasswd, passlib and hashlib), adds Firebase's scrypt
 * (its documented sample parameters, signer key sealed by a scratch vault),
 * and prints "name<TAB>median ms<TAB>family" for RUNS wrong-password checks
 * each, single thread. Built by CMake as bench_hash_time (not by default:
 * `cmake --build build/release --target bench_hash_time`).
 * Usage: bench_hash_time [MEMORY_KIB [ITERATIONS]] < lines */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/util.h"
#include "credentials/legacy_hash.h"
#include "credentials/password.h"
#include "store/store.h"
#include "vault/vault.h"

#define RUNS 9

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void timeit(const char *name, const char *stored, const char *uid, const char *pw)
{
    double t[RUNS];
    char wrong[256];
    snprintf(wrong, sizeof wrong, "%s-wrong", pw);
    if (legacy_verify(stored, uid, pw, strlen(pw)) != GH_OK) {
        printf("%s\tERROR: the right password does not verify\n", name);
        return;
    }
    for (int i = 0; i < RUNS; i++) {
        int64_t t0 = gh_mono_us();
        if (legacy_verify(stored, uid, wrong, strlen(wrong)) == GH_OK) wrong[0] ^= 0;
        t[i] = (double)(gh_mono_us() - t0) / 1000.0;
    }
    qsort(t, RUNS, sizeof t[0], cmp);
    char fam[96] = "";
    if (legacy_hash_family(stored, fam, sizeof fam)) snprintf(fam, sizeof fam, "?");
    printf("%-28s\t%8.1f\t%s\n", name, t[RUNS / 2], fam);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) return 1;
    gh_cfg.argon2_memory_kib = argc > 1 ? strtoull(argv[1], NULL, 10) : 19456;
    gh_cfg.argon2_iterations = argc > 2 ? strtoull(argv[2], NULL, 10) : 2;
    const char *uid = "11111111-1111-4111-8111-111111111111";

    char pwh[PASSWORD_HASH_MAX];
    const char *apw = "correct horse battery staple";
    if (password_hash(pwh, apw, strlen(apw)) != GH_OK) return 1;
    timeit("argon2id (configured)", pwh, uid, apw);

    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *name = line, *pw = strchr(line, '\t'), *h = pw ? strchr(pw + 1, '\t') : NULL;
        if (!h) continue;
        *pw++ = '\0';
        *h++ = '\0';
        timeit(name, h, uid, pw);
    }

    /* Firebase: a scratch vault in a temporary database seals the key. */
    char dir[] = "/tmp/gh_bench_XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/b.db", dir);
    struct store_conn *c = NULL;
    uint8_t master[VAULT_KEYBYTES];
    gh_random(master, sizeof master);
    if (store_sqlite.open(path, &c) || store_sqlite.migrate(c) || vault_init(master) ||
        vault_load(&store_sqlite, c, true))
        return 1;
    json_t *f = json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:s}", "name", "firebase_scrypt", "signer_key",
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
        "salt_separator", "Bw==", "rounds", 8, "mem_cost", 14, "salt", "42xEC+ixf3L2lw==");
    char out[LEGACY_HASH_MAX + 1], why[200];
    if (legacy_hash_import("lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo"
                           "78198JAdRuid5lQ==",
                           f, uid, out, why, sizeof why) == GH_OK)
        timeit("firebase_scrypt (sample)", out, uid, "user1password");
    json_decref(f);
    store_sqlite.close(c);
    vault_shutdown();
    unlink(path);
    char wal[80];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    return 0;
}
