/* The in-memory answer to "is this bearer token good right now?", so the hot
 * path never leaves its event loop (docs/architecture.md, "The auth cache").
 *
 * Three tables: verified tokens (keyed by SHA-256 of the token, holding the
 * claims), sessions (live flag, owner, restriction, last second factor) and
 * users (email, role, created_at, tokens_invalidated_at). A token's
 * signature is verified once; every use re-checks exp, the session and the
 * user, so a revocation recorded here is seen by the very next request.
 *
 * Coherence: revocations are applied here right after their database commit
 * and bump a generation counter; a worker that read a session or user from
 * the database passes the generation it saw *before* reading, and its insert
 * is dropped if a revocation happened meanwhile (no stale "live" entry).
 *
 * Size (decision 0029): the three tables share one memory budget
 * (GATEHOUSE_AUTH_CACHE_MB), allocated in 5 KiB pages of 80-byte slots as
 * entries arrive (sessions/authcache_table.h). Bytes per entry, buckets
 * included: a token or cookie ~86, a session ~86, a user ~86 plus 86 per 56
 * bytes of email past its first 20 (1,000,000 tokens: 84.5 MB, measured by
 * tests/unit/sessions/test_authcache_table.c). Ids are kept
 * as the 16 bytes of their UUID; a token is keyed by the first 16 bytes of
 * its SHA-256: finding another token with the same 128 bits is a second
 * preimage on 128 bits of SHA-256 (2^128 work, and the victim's hash is
 * never shown), and tokens we sign meet by chance with odds of n^2 / 2^129.
 * When full, one entry at a time is evicted by recency (CLOCK), never a whole
 * table; an evicted session or user is read again by a worker on its next
 * use, so eviction never turns DENY into OK.
 *
 * Locks: 64 shards by keyed hash, each with its own read-write lock; a hit
 * takes only its shard's read lock. JWT verification runs outside every
 * lock. All functions are thread-safe. */
#ifndef GH_SESSIONS_AUTHCACHE_H
#define GH_SESSIONS_AUTHCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct authcache_identity {
    char user_id[STORE_ID_LEN + 1];
    char session_id[STORE_ID_LEN + 1];
    char email[STORE_EMAIL_MAX + 1];
    int64_t created_at; /* the user's */
    int64_t iat;
    int64_t exp;
    bool restricted;               /* the session may only enrol a second factor */
    char role[STORE_ROLE_MAX + 1]; /* the user's ("user", "admin") */
    int64_t mfa_at; /* the session's last second factor (sign-in or step-up); 0 = none */
};

enum authcache_result { AUTHCACHE_OK, AUTHCACHE_DENY, AUTHCACHE_MISS };

/** The smallest budget authcache_init accepts (a page per shard). */
#define AUTHCACHE_MIN_BYTES (64 * 8192)

/** Sets up an empty cache that never holds more than budget_bytes (drops
 *  a previous one). GH_ERR_CONFIG below AUTHCACHE_MIN_BYTES, GH_ERR_NOMEM. */
enum gh_err authcache_init(size_t budget_bytes) GH_WUR;
/** Frees the cache; calls after it answer MISS and cache nothing. */
void authcache_shutdown(void);

/** Checks a bearer token from memory only (event-loop safe; may verify an
 *  ES256 signature once per token). MISS means the session or user is not
 *  cached: finish with authcache_check_store on a worker. */
enum authcache_result authcache_check(const char *token, size_t len, int64_t now,
                                      struct authcache_identity *out);

/** The same check, loading what is missing from the store (worker only).
 *  GH_OK, GH_ERR_DENIED, or GH_ERR_INTERNAL on a backend failure. */
enum gh_err authcache_check_store(const struct store_ops *ops, struct store_conn *c,
                                  const char *token, size_t len, int64_t now,
                                  struct authcache_identity *out) GH_WUR;

/** Checks a cookie session token by its SHA-256, from memory only. MISS
 *  also when the token is not cached, expired in the cache, or was issued
 *  at or before rotate_before (due for rotation, the worker's own rule):
 *  the worker then settles it with sessions_cookie_check. The session and
 *  user rules are those of bearer tokens (live session of that user); a
 *  cookie token has no iat to hold against tokens_invalidated_at, like a
 *  refresh token. */
enum authcache_result authcache_check_cookie(const uint8_t hash[32], int64_t now,
                                             int64_t rotate_before, struct authcache_identity *out);
/** Remembers a current cookie token (dropped if the generation moved). */
void authcache_put_cookie(const uint8_t hash[32], const char *uid, const char *sid,
                          int64_t created_at, int64_t expires_at, uint64_t gen);
/** The token was rotated: never answer OK for it from memory again. */
void authcache_forget_cookie(const uint8_t hash[32]);

/** Whether a hit may answer (true from init). False while the change
 *  feed cannot vouch that this cache holds every other process's
 *  revocation (the fan-out channel is down or the feed's reads fail:
 *  sessions/changes.h, decision 0045): then authcache_check and
 *  authcache_check_cookie answer MISS before looking anything up, and
 *  authcache_check_store verifies the token's signature again instead of
 *  reading its cached claims, so every request is settled from the store
 *  on a worker (or gets its 503). Entries are still put and updated, so
 *  the cache is warm when trust comes back. One atomic load on the
 *  hot path. Any thread. */
void authcache_set_trusted(bool trusted);
bool authcache_trusted(void);

/** Current generation; read it before a database read whose result you
 *  will put into the cache. */
uint64_t authcache_generation(void);
void authcache_put_session(const struct store_session *s, uint64_t gen);
void authcache_put_user(const struct store_user *u, uint64_t gen);

/** Call after the database commit of the matching change. */
void authcache_revoke_session(const char *sid);
/** Marks every cached session of uid dead except except_sid (may be NULL). */
void authcache_revoke_user_sessions(const char *uid, const char *except_sid);
void authcache_set_user_tia(const char *uid, int64_t tia);
/** Forgets every verified token (the signing keys changed: tokens of a
 *  removed key must be verified again, and fail). */
void authcache_clear_tokens(void);
/** The session's restriction was lifted (after its commit). */
void authcache_unrestrict_session(const char *sid);
/** The session passed a second factor at mfa_at (a step-up; after its commit). */
void authcache_set_session_mfa(const char *sid, int64_t mfa_at);
/** The user's role changed (after its commit). */
void authcache_set_user_role(const char *uid, const char *role);
/** The user's row changed in a way no setter covers (its email, after
 *  the commit): the cached user is dropped, and the next check of any of
 *  its tokens reads it again from the store. Its sessions stay. */
void authcache_forget_user(const char *uid);

enum authcache_table {
    AUTHCACHE_TOKENS,
    AUTHCACHE_COOKIES,
    AUTHCACHE_SESSIONS,
    AUTHCACHE_USERS,
    AUTHCACHE_TABLES
};

struct authcache_stats {
    size_t entries[AUTHCACHE_TABLES];
    size_t email_slots; /* continuation slots holding long emails */
    size_t bytes;       /* slot pages, buckets and page lists, every table */
    size_t budget;
    uint64_t hits[AUTHCACHE_TABLES], misses[AUTHCACHE_TABLES], evictions[AUTHCACHE_TABLES];
};

/** Totals now (each shard read under its lock; zeros before init). */
void authcache_stats(struct authcache_stats *out);

/** The auth cache's lines of /metrics (a gh_metrics_fn, http/health.c):
 *  entries, hits, misses and evictions by table, bytes and budget. Returns
 *  the length written (at most cap - 1). */
size_t authcache_metrics(char *buf, size_t cap);

#endif
