/* Shared by the fuzz targets and replay.c. Each fuzz_<parser>.c defines the
 * libFuzzer entry point; built with -fsanitize=fuzzer it is driven by
 * libFuzzer, otherwise replay.c runs it over a corpus. A target reports a
 * finding by crashing (sanitizer report or abort()). */
#ifndef GH_TESTS_FUZZ_H
#define GH_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Property violation: print and abort, so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A fixed P-256 test key (public in this repository: never use it for
 * anything but tests). fuzz/corpus/fuzz_jwt holds tokens it signed. */
#define FUZZ_SIGNING_KEY_PEM                                                                       \
    "-----BEGIN PRIVATE KEY-----\n"                                                                \
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgr/NmhEWhp7R6/b8a\n"                           \
    "pfjA2tzyZhXYTVZH3TOIGVrS59ehRANCAARPKbTMyMFWEIzuplRBl7u/SEtgXw3R\n"                           \
    "PljzZwkVyCgXdLe8km4YveaaqKJWK32U6K+BARwzkn/pwCTmFjVF7SJr\n"                                   \
    "-----END PRIVATE KEY-----\n"
#define FUZZ_ISSUER "https://auth.example.com"
#define FUZZ_AUDIENCE "gatehouse"
/* "Now" for jwt_verify: fixed so corpus tokens stay valid forever
 * (they have iat 1700000000, exp 1700003600). */
#define FUZZ_NOW 1700000100

#endif
