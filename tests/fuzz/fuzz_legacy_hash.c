/* Fuzzes the imported-hash parser (credentials/legacy_hash.c): the input,
 * after a first byte that picks the declared format, goes through
 * legacy_hash_import as an import line's password_hash, and as a stored
 * hash through legacy_parse and legacy_hash_family. Verification is not
 * fuzzed (its cost is the point). Properties: an accepted import is at most
 * LEGACY_HASH_MAX bytes and parses back as the kind declared; a refusal
 * stores nothing and says why. */
#include <stdlib.h>
#include <string.h>

#include "credentials/legacy_hash.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const formats[] = {NULL,
                                          "bcrypt",
                                          "bcrypt_sha256_hex",
                                          "bcrypt_sha256_base64",
                                          "argon2id",
                                          "argon2i",
                                          "scrypt",
                                          "pbkdf2_sha256",
                                          "md5"};
    if (size == 0 || size > 4096) return 0;
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    const char *fname = formats[data[0] % (sizeof formats / sizeof formats[0])];
    json_t *f = fname ? json_string(fname) : NULL;
    char out[LEGACY_HASH_MAX + 1], reason[200] = "";
    enum gh_err rc = legacy_hash_import(s, f, "11111111-1111-4111-8111-111111111111", out, reason,
                                        sizeof reason);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_INVALID);
    struct legacy_parsed p;
    if (rc == GH_OK) {
        FUZZ_CHECK(strlen(out) <= LEGACY_HASH_MAX);
        FUZZ_CHECK(legacy_parse(out, &p, NULL, 0) == GH_OK);
        FUZZ_CHECK(legacy_hash_kind(out) != LEGACY_UNKNOWN);
        if (fname) FUZZ_CHECK(strcmp(legacy_kind_name(legacy_hash_kind(out)), fname) == 0);
    } else {
        FUZZ_CHECK(out[0] == '\0' && reason[0] != '\0');
    }
    json_decref(f);
    /* the same bytes as a stored hash */
    char fam[96];
    if (legacy_parse(s, &p, reason, sizeof reason) == GH_OK && p.kind != LEGACY_NONE)
        FUZZ_CHECK(legacy_hash_family(s, fam, sizeof fam) == GH_OK);
    (void)legacy_kind_name(legacy_hash_kind(s));
    free(s);
    return 0;
}
