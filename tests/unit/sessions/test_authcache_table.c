/* Unit tests for src/sessions/authcache_table.c: CLOCK order, one entry at
 * a time, continuation slots, the budget, the footprint of 1,000,000
 * tokens, and threads hitting, inserting, updating and scanning at once
 * (run under TSan by `make tsan`). */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

#include "sessions/authcache_table.h"

static void key_of(uint8_t key[ACTAB_KEY], uint32_t n)
{
    memset(key, 0xa5, ACTAB_KEY);
    memcpy(key, &n, sizeof n);
}

static bool has(struct actab *t, enum actab_kind k, uint32_t n)
{
    uint8_t key[ACTAB_KEY], body[ACTAB_BODY];
    key_of(key, n);
    return actab_get(t, k, key, body, 32, NULL, 0, NULL);
}

static bool put(struct actab *t, enum actab_kind k, uint32_t n)
{
    uint8_t key[ACTAB_KEY], body[32];
    key_of(key, n);
    memset(body, (int)n, sizeof body);
    return actab_put(t, k, key, body, sizeof body, NULL, 0, NULL, 0);
}

/* One shard of one page (64 slots): the hand evicts exactly the coldest. */
static void clock_order(void **state)
{
    (void)state;
    struct actab *t = actab_new(ACTAB_MIN_BYTES_PER_SHARD, 1);
    assert_non_null(t);
    for (uint32_t i = 0; i < 64; i++)
        assert_true(put(t, ACTAB_SESSION, i));
    struct actab_stats st;
    actab_stats(t, &st);
    assert_int_equal(st.slots, 64);
    assert_int_equal(st.entries[ACTAB_SESSION], 64);
    for (uint32_t i = 0; i < 32; i++) /* used: they get a second chance */
        assert_true(has(t, ACTAB_SESSION, i));
    assert_true(put(t, ACTAB_SESSION, 64)); /* full: evicts one, the first unused (32) */
    assert_false(has(t, ACTAB_SESSION, 32));
    for (uint32_t i = 0; i <= 64; i++)
        if (i != 32) assert_true(has(t, ACTAB_SESSION, i)); /* every other one stays */
    actab_stats(t, &st);
    assert_int_equal(st.evictions[ACTAB_SESSION], 1);
    assert_int_equal(st.entries[ACTAB_SESSION], 64);
    /* now all are used; the hand clears 33..63 and 0..31 once more, then
     * evicts the oldest, 33, and goes on in order */
    for (uint32_t i = 65; i < 70; i++)
        assert_true(put(t, ACTAB_SESSION, i));
    for (uint32_t i = 33; i < 38; i++)
        assert_false(has(t, ACTAB_SESSION, i));
    assert_true(has(t, ACTAB_SESSION, 38));
    assert_true(has(t, ACTAB_SESSION, 0));
    /* kinds never meet: the same key as a token is another entry */
    assert_false(has(t, ACTAB_TOKEN, 0));
    /* replacing an entry keeps one copy */
    assert_true(put(t, ACTAB_SESSION, 0));
    actab_stats(t, &st);
    assert_int_equal(st.entries[ACTAB_SESSION], 64);
    assert_true(st.bytes <= st.budget);
    actab_free(t);
}

/* Extra bytes of every length round-trip, inline and in continuations,
 * and their slots come back when the entry goes. */
static void extra_bytes(void **state)
{
    (void)state;
    struct actab *t = actab_new(64 * 1024, 1);
    assert_non_null(t);
    uint8_t key[ACTAB_KEY], body[32], got[32], x[ACTAB_EXTRA_MAX], gx[ACTAB_EXTRA_MAX];
    for (size_t i = 0; i < sizeof x; i++)
        x[i] = (uint8_t)(i * 7 + 1);
    const size_t lens[] = {0, 1, 19, 20, 21, 75, 76, 77, 132, 133, 254, 255};
    for (size_t r = 0; r < 2; r++) /* the second round replaces every entry */
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            key_of(key, (uint32_t)i);
            memset(body, (int)(i + r), sizeof body);
            assert_true(actab_put(t, ACTAB_USER, key, body, sizeof body, x + r,
                                  lens[i] - (r && lens[i]), NULL, 0));
        }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = 999, want = lens[i] - (lens[i] != 0);
        key_of(key, (uint32_t)i);
        memset(gx, 0, sizeof gx);
        assert_true(actab_get(t, ACTAB_USER, key, got, sizeof got, gx, sizeof gx, &n));
        assert_int_equal(n, want);
        assert_memory_equal(gx, x + 1, want);
        assert_int_equal(got[0], (uint8_t)(i + 1));
        /* a short buffer gets a prefix */
        assert_true(actab_get(t, ACTAB_USER, key, got, sizeof got, gx, 10, &n));
        assert_int_equal(n, want < 10 ? want : 10);
    }
    struct actab_stats st;
    actab_stats(t, &st);
    assert_true(st.entries[ACTAB_EXT] > 0);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        key_of(key, (uint32_t)i);
        assert_true(actab_delete(t, ACTAB_USER, key));
        assert_false(actab_delete(t, ACTAB_USER, key));
    }
    actab_stats(t, &st);
    assert_int_equal(st.entries[ACTAB_EXT], 0);
    assert_int_equal(st.entries[ACTAB_USER], 0);
    /* oversize bodies and extras are refused */
    assert_false(actab_put(t, ACTAB_USER, key, x, ACTAB_BODY - 3, x, 1, NULL, 0));
    assert_false(actab_put(t, ACTAB_USER, key, x, ACTAB_BODY + 1, NULL, 0, NULL, 0));
    assert_false(actab_put(t, ACTAB_EXT, key, x, 8, NULL, 0, NULL, 0));
    actab_free(t);
}

/* Far past the budget, with every kind and long extras: bytes stay under
 * it, one entry at a time goes, and a gate that moved drops the insert. */
static void budget_holds(void **state)
{
    (void)state;
    const size_t budget = 1u << 20;
    struct actab *t = actab_new(budget, 64);
    assert_non_null(t);
    uint8_t key[ACTAB_KEY], body[ACTAB_BODY], x[200];
    memset(body, 1, sizeof body);
    memset(x, 'e', sizeof x);
    for (uint32_t i = 0; i < 60000; i++) {
        key_of(key, i);
        actab_put(t, (enum actab_kind)(ACTAB_TOKEN + i % 4), key, body,
                  i % 4 == 3 ? 32 : ACTAB_BODY, x, i % 4 == 3 ? i % sizeof x : 0, NULL, 0);
    }
    struct actab_stats st;
    actab_stats(t, &st);
    assert_true(st.bytes <= budget);
    assert_true(st.bytes > budget / 2);
    size_t held = 0, ev = 0;
    for (int k = ACTAB_TOKEN; k <= ACTAB_USER; k++) {
        held += st.entries[k];
        ev += st.evictions[k];
        assert_true(st.entries[k] > 0);
    }
    assert_true(held > 5000);
    assert_true(ev > 30000);
    _Atomic uint64_t gate = 5;
    key_of(key, 999999);
    assert_false(actab_put(t, ACTAB_TOKEN, key, body, 8, NULL, 0, &gate, 4));
    assert_false(has(t, ACTAB_TOKEN, 999999));
    assert_true(actab_put(t, ACTAB_TOKEN, key, body, 8, NULL, 0, &gate, 5));
    actab_free(t);
    /* too small a budget for a page per shard */
    assert_null(actab_new(64 * ACTAB_MIN_BYTES_PER_SHARD - 1, 64));
    assert_null(actab_new(budget, 3));
}

/* 1,000,000 live tokens (56-byte claims) in one table: nothing evicted,
 * and the bytes per entry the header states. */
static void million_tokens(void **state)
{
    (void)state;
    const uint32_t n = 1000000;
    struct actab *t = actab_new(200u << 20, 64);
    assert_non_null(t);
    uint8_t key[ACTAB_KEY], body[ACTAB_BODY];
    memset(body, 7, sizeof body);
    for (uint32_t i = 0; i < n; i++) {
        key_of(key, i);
        assert_true(actab_put(t, ACTAB_TOKEN, key, body, sizeof body, NULL, 0, NULL, 0));
    }
    struct actab_stats st;
    actab_stats(t, &st);
    assert_int_equal(st.entries[ACTAB_TOKEN], n);
    assert_int_equal(st.evictions[ACTAB_TOKEN], 0);
    double per = (double)st.bytes / n;
    print_message("1,000,000 tokens: %zu bytes (%.1f per entry), %zu slots\n", st.bytes, per,
                  st.slots);
    assert_true(per <= 96.0);
    assert_true(has(t, ACTAB_TOKEN, 0) && has(t, ACTAB_TOKEN, n - 1));
    actab_free(t);
}

/* ---- threads ---- */

static struct actab *shared;
static _Atomic uint64_t gate = 1;
static _Atomic int failures;

static enum actab_visit touch(const uint8_t *key, uint8_t *body, void *arg)
{
    (void)arg;
    body[1]++;
    return key[4] == 1 ? ACTAB_REMOVE : ACTAB_KEEP;
}

static void bump(uint8_t *body, void *arg)
{
    (void)arg;
    body[0]++;
}

static void *worker(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg, seed = id * 2654435761u + 1;
    uint8_t key[ACTAB_KEY], body[32], x[100], gx[100];
    memset(x, (int)id, sizeof x);
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t k = (seed >> 8) % 3000;
        key_of(key, k);
        key[4] = (uint8_t)(k % 7);
        size_t xl = 0;
        switch (seed % 10) {
        case 0:
        case 1:
            memset(body, (int)k, sizeof body);
            actab_put(shared, ACTAB_USER, key, body, sizeof body, x, k % 100, &gate,
                      atomic_load(&gate));
            break;
        case 2:
            actab_update(shared, ACTAB_USER, key, bump, NULL, &gate);
            break;
        case 3:
            if (i % 500 == 0)
                actab_scan(shared, 1u << ACTAB_USER, touch, NULL);
            else
                actab_delete(shared, ACTAB_USER, key);
            break;
        default:
            if (actab_get(shared, ACTAB_USER, key, body, sizeof body, gx, sizeof gx, &xl) &&
                (xl != k % 100 || (xl && gx[0] != gx[xl - 1])))
                atomic_fetch_add(&failures, 1); /* a torn or foreign entry */
        }
    }
    return NULL;
}

static void threads(void **state)
{
    (void)state;
    shared = actab_new(64 * ACTAB_MIN_BYTES_PER_SHARD, 64); /* small: evictions all along */
    assert_non_null(shared);
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    struct actab_stats st;
    actab_stats(shared, &st);
    assert_true(st.bytes <= st.budget);
    assert_true(st.evictions[ACTAB_USER] > 0);
    actab_free(shared);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clock_order),  cmocka_unit_test(extra_bytes),
        cmocka_unit_test(budget_holds), cmocka_unit_test(million_tokens),
        cmocka_unit_test(threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
