/* Helpers shared by the unit tests (header-only: static inline). */
#ifndef GH_TESTS_UNIT_TESTUTIL_H
#define GH_TESTS_UNIT_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/config.h"
#include "core/log.h"

/* A fresh P-256 private key as PKCS#8 PEM (heap; free()). */
static inline char *test_p256_pem(void)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    assert_non_null(pkey);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    char *pem = malloc((size_t)n + 1);
    assert_non_null(pem);
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return pem;
}

/* The configuration every test starts from (fast Argon2). */
static inline void test_config(void)
{
    memset(&gh_cfg, 0, sizeof gh_cfg);
    snprintf(gh_cfg.issuer, sizeof gh_cfg.issuer, "%s", "https://auth.example.com");
    snprintf(gh_cfg.audience, sizeof gh_cfg.audience, "%s", "gatehouse-test");
    snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "%s", "Gatehouse");
    gh_cfg.access_ttl = 900;
    gh_cfg.clock_skew = 60;
    gh_cfg.refresh_ttl = 30 * 86400;
    gh_cfg.refresh_grace = 10;
    gh_cfg.argon2_memory_kib = 8192;
    gh_cfg.argon2_iterations = 1;
    gh_cfg.password_min_score = 3;
    gh_cfg.max_body = 16384;
    /* Expected failures log errors; keep test output readable. */
    gh_log_set_level(GH_LOG_CRIT);
}

/* A fresh scratch directory under $TMPDIR (set per test by CMakeLists.txt)
 * named <prefix>XXXXXX, into dir. 0 on success. */
static inline int test_mkdtemp(char *dir, size_t cap, const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, cap, "%s/%sXXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (n < 0 || (size_t)n >= cap) return -1;
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes an SQLite database file and its WAL/SHM/journal companions. */
static inline void test_rm_db(const char *path)
{
    char p[1100];
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

/* Group setup for tests on a database file in a fresh temp dir: config,
 * libsodium, dir and path. Returns 0 or -1 (cmocka group convention). */
static inline int test_db_group_setup(char *dir, size_t dircap, char *path, size_t pathcap,
                                      const char *prefix)
{
    test_config();
    if (sodium_init() < 0) return -1;
    if (test_mkdtemp(dir, dircap, prefix)) return -1;
    snprintf(path, pathcap, "%s/test.db", dir);
    return 0;
}

static inline int test_db_group_teardown(const char *dir, const char *path)
{
    test_rm_db(path);
    rmdir(dir);
    return 0;
}

#endif
