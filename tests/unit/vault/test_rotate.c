/* Unit tests for src/vault/rotate.c: re-sealing every sealed column under a
 * new data key, on a temporary SQLite store holding a few signing keys made
 * by jwt_key_create.
 *
 * vault_rotate sleeps 3 s per call (it waits out servers that may still seal
 * with the old key), so the tests call it as few times as they can. */
#include "testutil.h"

#include <unistd.h>

#include <sodium.h>

#include "core/util.h"
#include "sessions/jwt.h"
#include "store/store.h"
#include "vault/rotate.h"
#include "vault/vault.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

#define T "signing_keys"
#define C "private_sealed"
#define MAXROWS 16

struct fx {
    struct store_conn *c;
    uint8_t master[VAULT_KEYBYTES];
    char first_kid[VAULT_KID_LEN + 1]; /* the data key the store started with */
    size_t n;                          /* signing keys */
    struct store_sealed before[MAXROWS];
    char *pem[MAXROWS]; /* their plaintext, by row */
};

static int group_setup(void **state)
{
    (void)state;
    return test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_rotate_");
}

static int group_teardown(void **state)
{
    (void)state;
    return test_db_group_teardown(dir, path);
}

static void list_sealed(struct fx *f, struct store_sealed *rows, size_t *n)
{
    assert_int_equal(ops->sealed.list(f->c, STORE_SEALED_SIGNING_KEY, "", rows, MAXROWS, n), GH_OK);
}

static char *open_str(const struct store_sealed *row)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    assert_int_equal(vault_open(T, C, row->id, row->value, &pt, &len), GH_OK);
    char *s = strndup((const char *)pt, len);
    assert_non_null(s);
    vault_free(pt, len);
    return s;
}

/* A store with a data key and `count` signing keys sealed under it. */
static int setup_n(void **state, size_t count)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    *state = f;
    test_rm_db(path);
    gh_random(f->master, sizeof f->master);
    if (ops->open(path, &f->c) != GH_OK || ops->migrate(f->c) != GH_OK) return -1;
    if (vault_init(f->master) != GH_OK || vault_load(ops, f->c, true) != GH_OK) return -1;
    vault_current_kid(f->first_kid);
    int64_t now = gh_now_s();
    for (size_t i = 0; i < count; i++) {
        char kid[JWT_KID_MAX + 1];
        if (jwt_key_create(ops, f->c, NULL, now + (int64_t)i, kid) != GH_OK) return -1;
    }
    return 0;
}

static int setup3(void **state)
{
    return setup_n(state, 3);
}

static int setup4(void **state)
{
    return setup_n(state, 4);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < MAXROWS; i++)
        gh_free_secret_str(f->pem[i]);
    store_sealed_clear(f->before, f->n);
    jwt_shutdown();
    vault_shutdown();
    if (f->c) ops->close(f->c);
    free(f);
    test_rm_db(path);
    return 0;
}

/* Records the sealed values and their plaintexts. */
static void snapshot(struct fx *f)
{
    list_sealed(f, f->before, &f->n);
    for (size_t i = 0; i < f->n; i++)
        f->pem[i] = open_str(&f->before[i]);
}

/* Every sealed value is under kid, opens, and holds what it held before. */
static void assert_all_under(struct fx *f, const char *kid)
{
    struct store_sealed rows[MAXROWS];
    size_t n = 0;
    list_sealed(f, rows, &n);
    assert_int_equal(n, f->n);
    for (size_t i = 0; i < n; i++) {
        char k[VAULT_KID_LEN + 1];
        assert_string_equal(rows[i].id, f->before[i].id);
        assert_int_equal(vault_sealed_kid(rows[i].value, k), GH_OK);
        assert_string_equal(k, kid);
        char *pem = open_str(&rows[i]);
        assert_string_equal(pem, f->pem[i]);
        gh_free_secret_str(pem);
    }
    store_sealed_clear(rows, n);
    /* and the signing keys load from them (kid checked against the key) */
    assert_int_equal(jwt_keys_load(ops, f->c, NULL), GH_OK);
}

/* The store holds exactly this one data key. */
static void assert_only_key(struct fx *f, const char *kid)
{
    struct store_vault_key keys[VAULT_MAX_KEYS];
    size_t n = 0;
    assert_int_equal(ops->vault_keys.list(f->c, keys, VAULT_MAX_KEYS, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].kid, kid);
}

static void rotate_twice(void **state)
{
    struct fx *f = *state;
    snapshot(f);
    assert_int_equal(f->n, 3);
    assert_all_under(f, f->first_kid);

    struct vault_rotation r;
    char cur[VAULT_KID_LEN + 1];
    assert_int_equal(vault_rotate(ops, f->c, &r), GH_OK);
    assert_int_equal(r.resumed, 0);
    assert_int_equal(strlen(r.new_kid), VAULT_KID_LEN);
    assert_string_not_equal(r.new_kid, f->first_kid);
    assert_int_equal(r.resealed, 3);
    assert_int_equal(r.retired, 1);
    vault_current_kid(cur);
    assert_string_equal(cur, r.new_kid);
    assert_only_key(f, r.new_kid);
    assert_all_under(f, r.new_kid);
    /* re-sealed: every value changed, not just its kid */
    struct store_sealed mid[MAXROWS];
    size_t n = 0;
    list_sealed(f, mid, &n);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(mid[i].value, f->before[i].value);

    /* again: another key */
    char second[VAULT_KID_LEN + 1];
    memcpy(second, r.new_kid, sizeof second);
    assert_int_equal(vault_rotate(ops, f->c, &r), GH_OK);
    assert_int_equal(r.resumed, 0);
    assert_string_not_equal(r.new_kid, second);
    assert_string_not_equal(r.new_kid, f->first_kid);
    assert_int_equal(r.resealed, 3);
    assert_int_equal(r.retired, 1);
    assert_only_key(f, r.new_kid);
    assert_all_under(f, r.new_kid);

    /* a new process: the new key seals, everything opens, and copies made
     * before the rotation (backups) no longer do: their key is gone */
    vault_shutdown();
    assert_int_equal(vault_init(f->master), GH_OK);
    assert_int_equal(vault_load(ops, f->c, false), GH_OK);
    vault_current_kid(cur);
    assert_string_equal(cur, r.new_kid);
    assert_all_under(f, r.new_kid);
    for (size_t i = 0; i < f->n; i++) {
        uint8_t *pt = NULL;
        size_t len = 0;
        assert_int_equal(vault_open(T, C, f->before[i].id, f->before[i].value, &pt, &len),
                         GH_ERR_DENIED);
        assert_int_equal(vault_open(T, C, mid[i].id, mid[i].value, &pt, &len), GH_ERR_DENIED);
    }
    store_sealed_clear(mid, n);
}

/* A rotation that died after adding its key and re-sealing part of the
 * values: the next run finishes it with the same key. */
static void rotate_resumes_interrupted(void **state)
{
    struct fx *f = *state;
    snapshot(f);
    assert_int_equal(f->n, 4);
    char b[VAULT_KID_LEN + 1];
    assert_int_equal(vault_add_key(ops, f->c, b), GH_OK);
    /* by hand, as rotate's batches do: two of the four values */
    struct store_sealed rows[MAXROWS];
    size_t n = 0;
    list_sealed(f, rows, &n);
    assert_int_equal(ops->tx.begin_write(f->c), GH_OK);
    for (size_t i = 1; i < 3; i++) {
        uint8_t *pt = NULL;
        size_t len = 0;
        char *fresh = NULL;
        assert_int_equal(vault_open(T, C, rows[i].id, rows[i].value, &pt, &len), GH_OK);
        assert_int_equal(vault_seal(T, C, rows[i].id, pt, len, &fresh), GH_OK);
        vault_free(pt, len);
        assert_int_equal(
            ops->sealed.replace(f->c, STORE_SEALED_SIGNING_KEY, rows[i].id, rows[i].value, fresh),
            GH_OK);
        free(fresh);
    }
    assert_int_equal(ops->tx.commit(f->c), GH_OK);
    /* a stale expected value loses (a concurrent writer won) */
    assert_int_equal(
        ops->sealed.replace(f->c, STORE_SEALED_SIGNING_KEY, rows[1].id, rows[1].value, "x"),
        GH_ERR_CONFLICT);
    store_sealed_clear(rows, n);

    struct vault_rotation r;
    assert_int_equal(vault_rotate(ops, f->c, &r), GH_OK);
    assert_int_equal(r.resumed, 1);
    assert_string_equal(r.new_kid, b);
    assert_int_equal(r.resealed, 2);
    assert_int_equal(r.retired, 1);
    assert_only_key(f, b);
    assert_all_under(f, b);
}

/* A value that does not open stops the rotation before anything is retired
 * (and nothing of that batch is half-written). */
static void rotate_stops_on_unopenable(void **state)
{
    struct fx *f = *state;
    snapshot(f);
    /* row 2 gets row 0's value: moved, so it does not open where it is */
    assert_int_equal(ops->sealed.replace(f->c, STORE_SEALED_SIGNING_KEY, f->before[2].id,
                                         f->before[2].value, f->before[0].value),
                     GH_OK);
    struct vault_rotation r;
    assert_int_equal(vault_rotate(ops, f->c, &r), GH_ERR_DENIED);
    struct store_vault_key keys[VAULT_MAX_KEYS];
    size_t nk = 0;
    assert_int_equal(ops->vault_keys.list(f->c, keys, VAULT_MAX_KEYS, &nk), GH_OK);
    bool have_first = false;
    for (size_t i = 0; i < nk; i++)
        if (strcmp(keys[i].kid, f->first_kid) == 0) have_first = true;
    assert_true(have_first);
    struct store_sealed rows[MAXROWS];
    size_t n = 0;
    list_sealed(f, rows, &n);
    for (size_t i = 0; i < n; i++) {
        char k[VAULT_KID_LEN + 1];
        assert_int_equal(vault_sealed_kid(rows[i].value, k), GH_OK);
        assert_string_equal(k, f->first_kid); /* the failed batch was rolled back */
        if (i == 2) continue;
        char *pem = open_str(&rows[i]);
        assert_string_equal(pem, f->pem[i]);
        gh_free_secret_str(pem);
    }
    store_sealed_clear(rows, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rotate_twice, setup3, teardown),
        cmocka_unit_test_setup_teardown(rotate_resumes_interrupted, setup4, teardown),
        cmocka_unit_test_setup_teardown(rotate_stops_on_unopenable, setup3, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
