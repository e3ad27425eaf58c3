#include "sessions/authcache_table.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Links (bucket heads, chains, the free list) are slot index + 1; 0 ends. */
struct slot {
    uint8_t key[ACTAB_KEY];
    uint32_t next; /* hash chain, free list or continuation chain */
    uint8_t kind;
    _Atomic uint8_t ref; /* CLOCK: used since the hand last passed */
    uint8_t xlen;        /* extra bytes; their continuation head is body[52..56) */
    uint8_t pad;
    uint8_t body[ACTAB_BODY];
};
_Static_assert(sizeof(struct slot) == ACTAB_SLOT_BYTES, "a slot is 80 bytes");

#define PAGE_BYTES (ACTAB_PAGE_SLOTS * sizeof(struct slot))
#define XHEAD (ACTAB_BODY - 4) /* where the continuation head sits in the body */

/* Aligned to a cache line: two loops on two shards never share one. */
struct shard {
    pthread_rwlock_t lock;
    struct slot **pages;
    uint32_t npages, cap_pages;
    uint32_t *buckets;
    uint32_t nbuckets; /* a power of two >= slots; 0 until the first page */
    uint32_t free;     /* free list */
    uint32_t hand;     /* the slot index the CLOCK hand looks at next */
    size_t bytes, share;
    size_t count[ACTAB_KINDS];
    uint64_t evictions[ACTAB_KINDS];
} __attribute__((aligned(64)));

/* Hit and miss counters, one set per thread (up to COUNTER_SETS, then
 * shared): two loops hitting the same entry do not bounce a counter's
 * cache line between them on every lookup. */
#define COUNTER_SETS 16
struct counters {
    _Atomic uint64_t hits[ACTAB_KINDS], misses[ACTAB_KINDS];
} __attribute__((aligned(64)));

struct actab {
    unsigned nshards;
    size_t budget;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    struct shard *shards;
    struct counters *counters; /* COUNTER_SETS of them */
};

static _Atomic unsigned counter_next;
static _Thread_local int counter_set = -1;

static struct counters *my_counters(const struct actab *t)
{
    if (counter_set < 0) counter_set = (int)(atomic_fetch_add(&counter_next, 1) % COUNTER_SETS);
    return &t->counters[counter_set];
}

/* Keyed (SipHash): nobody can aim entries at one shard or bucket. */
static uint64_t hash_key(const struct actab *t, enum actab_kind kind, const uint8_t *key)
{
    uint8_t in[1 + ACTAB_KEY], out[crypto_shorthash_BYTES];
    in[0] = (uint8_t)kind;
    memcpy(in + 1, key, ACTAB_KEY);
    crypto_shorthash(out, in, sizeof in, t->hkey);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static struct shard *shard_of(const struct actab *t, uint64_t h)
{
    return &t->shards[h & (t->nshards - 1)];
}

static uint32_t bucket_of(const struct shard *s, uint64_t h)
{
    return (uint32_t)(h >> 32) & (s->nbuckets - 1);
}

static struct slot *at(const struct shard *s, uint32_t link)
{
    uint32_t i = link - 1;
    return &s->pages[i / ACTAB_PAGE_SLOTS][i % ACTAB_PAGE_SLOTS];
}

static bool lookup_kind(enum actab_kind k)
{
    return k > ACTAB_FREE && k < ACTAB_EXT;
}

static uint32_t find(const struct shard *s, uint64_t h, enum actab_kind kind, const uint8_t *key)
{
    if (!s->nbuckets) return 0;
    for (uint32_t l = s->buckets[bucket_of(s, h)]; l; l = at(s, l)->next) {
        const struct slot *e = at(s, l);
        if (e->kind == kind && memcmp(e->key, key, ACTAB_KEY) == 0) return l;
    }
    return 0;
}

static void push_free(struct shard *s, uint32_t l)
{
    struct slot *e = at(s, l);
    e->kind = ACTAB_FREE;
    e->xlen = 0;
    atomic_store_explicit(&e->ref, 0, memory_order_relaxed);
    e->next = s->free;
    s->free = l;
}

static void free_chain(struct shard *s, uint32_t l)
{
    while (l) {
        uint32_t nx = at(s, l)->next;
        push_free(s, l);
        s->count[ACTAB_EXT]--;
        l = nx;
    }
}

/* Unlinks entry l from its bucket and frees it with its continuations. */
static void entry_remove(const struct actab *t, struct shard *s, uint32_t l)
{
    struct slot *e = at(s, l);
    uint32_t *pp = &s->buckets[bucket_of(s, hash_key(t, e->kind, e->key))];
    while (*pp != l)
        pp = &at(s, *pp)->next;
    *pp = e->next;
    s->count[e->kind]--;
    if (e->xlen) {
        uint32_t head;
        memcpy(&head, e->body + XHEAD, sizeof head);
        free_chain(s, head);
    }
    push_free(s, l);
}

/* New bucket array of nb heads, every entry relinked. */
static bool rehash(const struct actab *t, struct shard *s, uint32_t nb)
{
    uint32_t *b = calloc(nb, sizeof *b);
    if (!b) return false;
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
    for (uint32_t l = 1; l <= s->npages * ACTAB_PAGE_SLOTS; l++) {
        struct slot *e = at(s, l);
        if (!lookup_kind(e->kind)) continue;
        uint32_t i = bucket_of(s, hash_key(t, e->kind, e->key));
        e->next = b[i];
        b[i] = l;
    }
    return true;
}

/* One more page of free slots, if the shard's share allows it with the
 * buckets and page list it brings. */
static bool shard_grow(const struct actab *t, struct shard *s)
{
    uint32_t nslots = s->npages * ACTAB_PAGE_SLOTS;
    if (nslots > UINT32_MAX / 2) return false;
    uint32_t nb = s->nbuckets ? s->nbuckets : ACTAB_PAGE_SLOTS;
    while (nb < nslots + ACTAB_PAGE_SLOTS)
        nb <<= 1;
    uint32_t cap = s->cap_pages ? s->cap_pages : 4;
    while (cap < s->npages + 1)
        cap <<= 1;
    size_t more = PAGE_BYTES + ((size_t)nb - s->nbuckets) * sizeof(uint32_t) +
                  ((size_t)cap - s->cap_pages) * sizeof(struct slot *);
    if (s->bytes + more > s->share) return false;
    struct slot *pg = malloc(PAGE_BYTES);
    if (!pg) return false;
    if (cap != s->cap_pages) {
        struct slot **np = realloc(s->pages, cap * sizeof *np);
        if (!np) {
            free(pg);
            return false;
        }
        s->bytes += ((size_t)cap - s->cap_pages) * sizeof *np;
        s->pages = np;
        s->cap_pages = cap;
    }
    if (nb != s->nbuckets) {
        size_t old = (size_t)s->nbuckets * sizeof(uint32_t);
        if (!rehash(t, s, nb)) {
            free(pg);
            return false;
        }
        s->bytes += (size_t)nb * sizeof(uint32_t) - old;
    }
    s->pages[s->npages++] = pg;
    s->bytes += PAGE_BYTES;
    for (uint32_t i = ACTAB_PAGE_SLOTS; i > 0; i--) { /* lowest index first on the list */
        memset(&pg[i - 1], 0, sizeof pg[i - 1]);
        push_free(s, nslots + i);
    }
    return true;
}

/* CLOCK: the hand skips (and clears) entries used since it last passed and
 * evicts the first one that was not. Two turns at most. */
static bool evict_one(const struct actab *t, struct shard *s)
{
    uint32_t n = s->npages * ACTAB_PAGE_SLOTS;
    for (uint64_t step = 0; n && step <= 2 * (uint64_t)n; step++) {
        uint32_t i = s->hand;
        s->hand = i + 1 < n ? i + 1 : 0;
        struct slot *e = at(s, i + 1);
        if (!lookup_kind(e->kind)) continue;
        if (atomic_load_explicit(&e->ref, memory_order_relaxed)) {
            atomic_store_explicit(&e->ref, 0, memory_order_relaxed);
            continue;
        }
        s->evictions[e->kind]++;
        entry_remove(t, s, i + 1);
        return true;
    }
    return false;
}

/* A slot reserved as a continuation (so the hand leaves it alone); 0 when
 * the shard can neither grow nor evict. */
static uint32_t slot_alloc(const struct actab *t, struct shard *s)
{
    if (!s->free && !shard_grow(t, s) && !evict_one(t, s)) return 0;
    uint32_t l = s->free;
    struct slot *e = at(s, l);
    s->free = e->next;
    e->kind = ACTAB_EXT;
    e->next = 0;
    e->xlen = 0;
    return l;
}

static bool insert(const struct actab *t, struct shard *s, uint64_t h, enum actab_kind kind,
                   const uint8_t *key, const void *body, size_t blen, const uint8_t *extra,
                   size_t xlen)
{
    size_t inl = xlen ? XHEAD - blen : 0;
    if (inl > xlen) inl = xlen;
    uint32_t head = slot_alloc(t, s);
    if (!head) return false;
    uint32_t first = 0, *link = &first;
    for (size_t off = inl; off < xlen; off += ACTAB_BODY) {
        uint32_t c = slot_alloc(t, s);
        if (!c) {
            free_chain(s, first);
            push_free(s, head);
            return false;
        }
        struct slot *ce = at(s, c);
        memcpy(ce->body, extra + off, xlen - off < ACTAB_BODY ? xlen - off : ACTAB_BODY);
        s->count[ACTAB_EXT]++;
        *link = c; /* slots never move: only the page list is reallocated */
        link = &ce->next;
    }
    struct slot *e = at(s, head);
    memcpy(e->key, key, ACTAB_KEY);
    memset(e->body, 0, sizeof e->body);
    memcpy(e->body, body, blen);
    e->xlen = (uint8_t)xlen;
    if (xlen) {
        memcpy(e->body + blen, extra, inl);
        memcpy(e->body + XHEAD, &first, sizeof first);
    }
    e->kind = (uint8_t)kind;
    uint32_t b = bucket_of(s, h); /* after the allocations: a page may have rehashed */
    e->next = s->buckets[b];
    s->buckets[b] = head;
    s->count[kind]++;
    return true;
}

struct actab *actab_new(size_t budget, unsigned nshards)
{
    if (nshards == 0 || nshards > 1024 || (nshards & (nshards - 1)) ||
        budget / nshards < ACTAB_MIN_BYTES_PER_SHARD)
        return NULL;
    struct actab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->shards = aligned_alloc(64, nshards * sizeof *t->shards);
    t->counters = aligned_alloc(64, COUNTER_SETS * sizeof *t->counters);
    if (!t->shards || !t->counters) {
        free(t->shards);
        free(t->counters);
        free(t);
        return NULL;
    }
    memset(t->shards, 0, nshards * sizeof *t->shards);
    memset(t->counters, 0, COUNTER_SETS * sizeof *t->counters);
    t->nshards = nshards;
    t->budget = budget;
    crypto_shorthash_keygen(t->hkey);
    for (unsigned i = 0; i < nshards; i++) {
        pthread_rwlock_init(&t->shards[i].lock, NULL);
        t->shards[i].share = budget / nshards;
    }
    return t;
}

void actab_free(struct actab *t)
{
    if (!t) return;
    for (unsigned i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        for (uint32_t p = 0; p < s->npages; p++)
            free(s->pages[p]);
        free(s->pages);
        free(s->buckets);
        pthread_rwlock_destroy(&s->lock);
    }
    free(t->shards);
    free(t->counters);
    sodium_memzero(t->hkey, sizeof t->hkey);
    free(t);
}

static void copy_extra(const struct shard *s, const struct slot *e, size_t blen, uint8_t *out,
                       size_t cap, size_t *xlen)
{
    size_t n = e->xlen < cap ? e->xlen : cap;
    size_t inl = XHEAD - blen < n ? XHEAD - blen : n;
    memcpy(out, e->body + blen, inl);
    uint32_t l;
    memcpy(&l, e->body + XHEAD, sizeof l);
    for (size_t off = inl; off < n && l; off += ACTAB_BODY, l = at(s, l)->next)
        memcpy(out + off, at(s, l)->body, n - off < ACTAB_BODY ? n - off : ACTAB_BODY);
    *xlen = n;
}

bool actab_get(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY], void *body,
               size_t blen, void *extra, size_t xcap, size_t *xlen)
{
    if (blen > ACTAB_BODY || !lookup_kind(kind)) return false;
    uint64_t h = hash_key(t, kind, key);
    struct shard *s = shard_of(t, h);
    pthread_rwlock_rdlock(&s->lock);
    uint32_t l = find(s, h, kind, key);
    if (l) {
        struct slot *e = at(s, l);
        memcpy(body, e->body, blen);
        if (xlen) {
            *xlen = 0;
            if (e->xlen && blen <= XHEAD) copy_extra(s, e, blen, extra, xcap, xlen);
        }
        /* Relaxed: the bit is a hint for the hand, which runs under the
         * write lock; loading first keeps a hot entry's line clean. */
        if (!atomic_load_explicit(&e->ref, memory_order_relaxed))
            atomic_store_explicit(&e->ref, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&s->lock);
    struct counters *c = my_counters(t);
    atomic_fetch_add_explicit(l ? &c->hits[kind] : &c->misses[kind], 1, memory_order_relaxed);
    return l != 0;
}

bool actab_put(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY],
               const void *body, size_t blen, const void *extra, size_t xlen,
               _Atomic uint64_t *gate, uint64_t seen)
{
    if (!lookup_kind(kind) || blen > ACTAB_BODY || xlen > ACTAB_EXTRA_MAX || (xlen && blen > XHEAD))
        return false;
    uint64_t h = hash_key(t, kind, key);
    struct shard *s = shard_of(t, h);
    bool ok = false;
    pthread_rwlock_wrlock(&s->lock);
    if (!gate || atomic_load(gate) == seen) {
        uint32_t old = find(s, h, kind, key);
        if (old) entry_remove(t, s, old);
        ok = insert(t, s, h, kind, key, body, blen, extra, xlen);
    }
    pthread_rwlock_unlock(&s->lock);
    return ok;
}

bool actab_update(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY],
                  void (*fn)(uint8_t *body, void *arg), void *arg, _Atomic uint64_t *bump)
{
    uint64_t h = hash_key(t, kind, key);
    struct shard *s = shard_of(t, h);
    pthread_rwlock_wrlock(&s->lock);
    if (bump) atomic_fetch_add(bump, 1);
    uint32_t l = lookup_kind(kind) ? find(s, h, kind, key) : 0;
    if (l) fn(at(s, l)->body, arg);
    pthread_rwlock_unlock(&s->lock);
    return l != 0;
}

bool actab_delete(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY])
{
    uint64_t h = hash_key(t, kind, key);
    struct shard *s = shard_of(t, h);
    pthread_rwlock_wrlock(&s->lock);
    uint32_t l = lookup_kind(kind) ? find(s, h, kind, key) : 0;
    if (l) entry_remove(t, s, l);
    pthread_rwlock_unlock(&s->lock);
    return l != 0;
}

void actab_scan(struct actab *t, unsigned kinds,
                enum actab_visit (*fn)(const uint8_t *key, uint8_t *body, void *arg), void *arg)
{
    for (unsigned i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        pthread_rwlock_wrlock(&s->lock);
        for (uint32_t l = 1; l <= s->npages * ACTAB_PAGE_SLOTS; l++) {
            struct slot *e = at(s, l);
            /* removal only frees slots, so the walk stays valid */
            if (lookup_kind(e->kind) && (kinds & (1u << e->kind)) &&
                fn(e->key, e->body, arg) == ACTAB_REMOVE)
                entry_remove(t, s, l);
        }
        pthread_rwlock_unlock(&s->lock);
    }
}

void actab_stats(struct actab *t, struct actab_stats *out)
{
    memset(out, 0, sizeof *out);
    out->budget = t->budget;
    for (unsigned i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        pthread_rwlock_rdlock(&s->lock);
        out->bytes += s->bytes;
        out->slots += (size_t)s->npages * ACTAB_PAGE_SLOTS;
        for (int k = 0; k < ACTAB_KINDS; k++) {
            out->entries[k] += s->count[k];
            out->evictions[k] += s->evictions[k];
        }
        pthread_rwlock_unlock(&s->lock);
    }
    for (int i = 0; i < COUNTER_SETS; i++)
        for (int k = 0; k < ACTAB_KINDS; k++) {
            out->hits[k] += atomic_load_explicit(&t->counters[i].hits[k], memory_order_relaxed);
            out->misses[k] += atomic_load_explicit(&t->counters[i].misses[k], memory_order_relaxed);
        }
}
