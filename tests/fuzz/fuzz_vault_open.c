/* Fuzzes vault_open (every sealed column read back from the database) with
 * a fixed master key and one fixed data key, loaded once from a temporary
 * SQLite store through vault_load.
 *
 * Input: the whole input is a sealed value for row FUZZ_ROW; if it holds a
 * '\n', the part before the first one is also tried as the row id and the
 * rest as the sealed value. The key material is fixed, so corpus/
 * fuzz_vault_open holds genuine seals (the table below) for mutations to
 * start from.
 * Properties: open never crashes and answers only GH_OK, GH_ERR_INVALID or
 * GH_ERR_DENIED; GH_OK only for a known seal at its own row, with its own
 * plaintext; and sealing the input as plaintext opens back to it. */
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/log.h"
#include "core/util.h"
#include "fuzz.h"
#include "store/store.h"
#include "vault/vault.h"

/* Test-only key material (public in this repository). */
#define FUZZ_MASTER_HEX "5f0e6a1c9d2b47e8a3f1c6b0d4e97a2358bc1fe06d9a4c7b2e81f53a0c6d9e47"
#define FUZZ_KID "rPDhrSTP"
#define FUZZ_WRAPPED                                                                               \
    "v1.master.AZp2CkkuGCaFiLI4.Y9jXcZwoJCnxcuxSdjAyomowx4OR2TdkjsFsSgDeZjGV6voXboOPacayjyCLjBrK"
#define FUZZ_TABLE "signing_keys"
#define FUZZ_COLUMN "private_sealed"
#define FUZZ_ROW "fuzz-row-1"

static const struct {
    const char *row, *sealed, *pt;
} known[] = {
    {FUZZ_ROW, "v1.rPDhrSTP.ieekdvpZOIFQRLUC.xrmdVLwvFt2zviTqkgWddA", ""},
    {FUZZ_ROW, "v1.rPDhrSTP.oTnGuuHQFJ0Ai3Ni.9ZTW7PNzJIsbYGa6iTeA5xhNLgVb", "hello"},
    {FUZZ_ROW,
     "v1.rPDhrSTP.rOGdYuh8bE83h2hD.eytkCiuWvDvFfdTdIq04sMdcO8v-UBE_"
     "6JgmrQe2nyeHCFOshcR9IiRIINKEzurgN"
     "QqDt6ye3sy5qxk9gdDAqQzGgNc9yhzeTg8Xc2GGEPm6xMmkff9DdohxByBTgcgEVP8dCaWOfhKVbfz2l_vpNimjMf1RL"
     "0E",
     "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END "
     "PRIVATE KEY-----\n"},
    {"fuzz-row-2", "v1.rPDhrSTP.NqNz6z4BRqSQXj46.OcwkjUTed6dea69iALWUkV-Ilng5", "hello"},
    {"", "v1.rPDhrSTP.IKqYm3BMlKJ4ScEA.9iqQNamEd8Rgaj7tyRv8WvA", "x"},
};

static void die(const char *what)
{
    fprintf(stderr, "fuzz_vault_open: %s failed\n", what);
    abort();
}

static void init_once(void)
{
    static int done;
    if (done) return;
    done = 1;
    gh_log_set_level(GH_LOG_CRIT);
    if (sodium_init() < 0) die("sodium_init");
    uint8_t master[VAULT_KEYBYTES];
    size_t n = 0;
    if (sodium_hex2bin(master, sizeof master, FUZZ_MASTER_HEX, 64, NULL, &n, NULL) || n != 32)
        die("master key");
    /* The data key goes in through the store and vault_load, as in the
     * server; the database is not needed afterwards. */
    char dir[600], path[700];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gh_fuzz_vault_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) die("mkdtemp");
    snprintf(path, sizeof path, "%s/vault.db", dir);
    const struct store_ops *ops = &store_sqlite;
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) die("store");
    struct store_vault_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.kid, sizeof k.kid, "%s", FUZZ_KID);
    snprintf(k.wrapped, sizeof k.wrapped, "%s", FUZZ_WRAPPED);
    k.created_at = 1700000000;
    if (ops->vault_keys.insert(c, &k) != GH_OK) die("vault_key_insert");
    if (vault_init(master) != GH_OK) die("vault_init");
    sodium_memzero(master, sizeof master);
    if (vault_load(ops, c, false) != GH_OK) die("vault_load");
    ops->close(c);
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[720];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
    char kid[VAULT_KID_LEN + 1];
    vault_current_kid(kid);
    if (strcmp(kid, FUZZ_KID) != 0) die("current kid");
    /* the known seals are genuine */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint8_t *pt = NULL;
        size_t len = 0;
        if (vault_open(FUZZ_TABLE, FUZZ_COLUMN, known[i].row, known[i].sealed, &pt, &len) !=
                GH_OK ||
            len != strlen(known[i].pt) || memcmp(pt, known[i].pt, len) != 0)
            die("known seal");
        vault_free(pt, len);
    }
}

static void check_open(const char *row, const char *sealed)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    enum gh_err rc = vault_open(FUZZ_TABLE, FUZZ_COLUMN, row, sealed, &pt, &len);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_INVALID || rc == GH_ERR_DENIED);
    if (rc != GH_OK) {
        FUZZ_CHECK(pt == NULL);
        return;
    }
    int match = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(row, known[i].row) == 0 && strcmp(sealed, known[i].sealed) == 0) {
            FUZZ_CHECK(len == strlen(known[i].pt) && memcmp(pt, known[i].pt, len) == 0);
            match = 1;
        }
    FUZZ_CHECK(match); /* nothing the fuzzer made opens */
    FUZZ_CHECK(pt[len] == '\0');
    char kid[VAULT_KID_LEN + 1];
    FUZZ_CHECK(vault_sealed_kid(sealed, kid) == GH_OK && strcmp(kid, FUZZ_KID) == 0);
    vault_free(pt, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    check_open(FUZZ_ROW, s);
    char *nl = memchr(s, '\n', size);
    if (nl) {
        *nl = '\0';
        check_open(s, nl + 1);
        *nl = '\n';
    }

    /* any bytes seal and open back, at their own row only */
    char *sealed = NULL;
    if (vault_seal(FUZZ_TABLE, FUZZ_COLUMN, FUZZ_ROW, data, size, &sealed) == GH_OK) {
        uint8_t *pt = NULL;
        size_t len = 0;
        FUZZ_CHECK(vault_open(FUZZ_TABLE, FUZZ_COLUMN, FUZZ_ROW, sealed, &pt, &len) == GH_OK);
        FUZZ_CHECK(len == size && (size == 0 || memcmp(pt, data, size) == 0));
        vault_free(pt, len);
        pt = NULL;
        FUZZ_CHECK(vault_open(FUZZ_TABLE, FUZZ_COLUMN, "fuzz-row-2", sealed, &pt, &len) ==
                   GH_ERR_DENIED);
        free(sealed);
    } else {
        FUZZ_CHECK(size > (1u << 20));
    }
    free(s);
    return 0;
}
