/* The auth cache's storage (sessions/authcache.c gives it its meaning):
 * one hash table of fixed-size slots, split into shards by a keyed hash,
 * inside one memory budget, evicting one entry at a time by CLOCK.
 *
 * Layout. Every entry is an 80-byte slot: a 16-byte key, a 4-byte chain
 * index, kind, CLOCK bit, extra length, and a 56-byte body the caller lays
 * out (a token's claims, a session, a user). Bytes that do not fit in the
 * body (a user's email) go into continuation slots chained from it. Slots
 * live in pages of 64 (5 KiB) that a shard allocates as entries arrive and
 * keeps until actab_free; buckets are 4-byte slot indices, one or two per
 * slot. An entry costs 84.5 to ~88 bytes with its buckets (1,000,000
 * tokens: 84.5 MB, measured by tests/unit/sessions/test_authcache_table.c).
 *
 * Budget. Each shard may hold budget / nshards bytes (pages, buckets, page
 * list): when a new entry finds no free slot and another page would pass
 * the share, the shard's CLOCK hand evicts one entry (an entry used since
 * the hand last passed is skipped once, its bit cleared). Entries of every
 * kind share the pages, so the budget covers the three tables together.
 *
 * Locks. One read-write lock per shard: a lookup takes its shard's read
 * lock and sets the CLOCK bit with a relaxed atomic store; inserts, updates
 * and evictions take the write lock. Nothing here ever takes two shard
 * locks at once. Thread-safe after actab_new; actab_free when no thread
 * uses the table any more. */
#ifndef GH_SESSIONS_AUTHCACHE_TABLE_H
#define GH_SESSIONS_AUTHCACHE_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACTAB_KEY 16
#define ACTAB_BODY 56
#define ACTAB_EXTRA_MAX 255 /* bytes of extra per entry */
#define ACTAB_SLOT_BYTES 80
#define ACTAB_PAGE_SLOTS 64

enum actab_kind {
    ACTAB_FREE = 0,
    ACTAB_TOKEN,   /* a verified access token */
    ACTAB_COOKIE,  /* a session cookie token */
    ACTAB_SESSION, /* a session */
    ACTAB_USER,    /* a user (with the email as extra) */
    ACTAB_EXT,     /* a continuation slot (never looked up) */
    ACTAB_KINDS
};

struct actab;

struct actab_stats {
    size_t entries[ACTAB_KINDS]; /* by kind; [ACTAB_EXT]: continuation slots */
    size_t bytes;                /* pages, buckets and page lists in use */
    size_t budget;
    size_t slots; /* slots allocated (used or free) */
    uint64_t hits[ACTAB_KINDS], misses[ACTAB_KINDS], evictions[ACTAB_KINDS];
};

/** A table of nshards shards (a power of two, 1..1024) that never holds
 *  more than budget bytes of pages and buckets; nothing is allocated for
 *  entries until they arrive. NULL when out of memory, or when the budget
 *  cannot hold one page per shard (ACTAB_MIN_BYTES_PER_SHARD each). */
struct actab *actab_new(size_t budget, unsigned nshards);
#define ACTAB_MIN_BYTES_PER_SHARD 8192
/** Frees everything (NULL is fine). */
void actab_free(struct actab *t);

/** Copies the entry's body (blen bytes) and extra (up to xcap bytes; *xlen
 *  gets its length; xcap 0 and xlen NULL when the kind has none) and marks
 *  it used. False when absent. */
bool actab_get(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY], void *body,
               size_t blen, void *extra, size_t xcap, size_t *xlen);

/** Inserts or replaces an entry: blen body bytes (at most ACTAB_BODY; with
 *  extra, at most ACTAB_BODY - 4) and xlen extra bytes. Dropped, returning
 *  false, when gate is not NULL and *gate != seen (checked under the
 *  shard's lock, so a bump made before an update cannot be overtaken), or
 *  when the shard cannot make room. May evict other entries. */
bool actab_put(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY],
               const void *body, size_t blen, const void *extra, size_t xlen,
               _Atomic uint64_t *gate, uint64_t seen);

/** Under the key's shard write lock: adds one to *bump (if not NULL), then
 *  applies fn to the entry's body if it is present. False when absent. */
bool actab_update(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY],
                  void (*fn)(uint8_t *body, void *arg), void *arg, _Atomic uint64_t *bump);

/** Removes an entry if present (its slots become free). */
bool actab_delete(struct actab *t, enum actab_kind kind, const uint8_t key[ACTAB_KEY]);

/** What actab_scan's visitor wants done with the entry it saw. */
enum actab_visit { ACTAB_KEEP, ACTAB_REMOVE };

/** Visits every entry whose kind is in kinds (a bit mask of 1 << kind),
 *  shard by shard, each under its write lock; the visitor may change the
 *  body or ask for the entry's removal. */
void actab_scan(struct actab *t, unsigned kinds,
                enum actab_visit (*fn)(const uint8_t *key, uint8_t *body, void *arg), void *arg);

/** Totals over every shard (each read under its lock). */
void actab_stats(struct actab *t, struct actab_stats *out);

#endif
