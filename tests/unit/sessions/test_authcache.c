/* Unit tests for src/sessions/authcache.c. Tokens are real ES256 JWTs from
 * jwt_sign; the store-backed path runs on a temporary SQLite file. */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "core/util.h"
#include "sessions/authcache.h"
#include "sessions/jwt.h"
#include "store/store.h"

static char *pem;
static int64_t now;

static int setup(void **state)
{
    (void)state;
    test_config();
    pem = test_p256_pem();
    now = gh_now_s();
    if (jwt_init(pem) != GH_OK) return -1;
    return authcache_init(4u << 20) == GH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    authcache_shutdown();
    jwt_shutdown();
    free(pem);
    return 0;
}

/* Distinct ids per test, so tests do not see each other's entries. */
static void mk_id(char out[STORE_ID_LEN + 1], unsigned tag, unsigned n)
{
    snprintf(out, STORE_ID_LEN + 1, "%08x-0000-4000-8000-%012x", tag, n);
}

/* rev -1: a token without the "rev" claim (issued before issue 9). */
static char *token_rev(const char *uid, const char *sid, int64_t iat, int64_t exp, int64_t rev)
{
    struct jwt_claims c;
    memset(&c, 0, sizeof c);
    c.rev = rev;
    snprintf(c.sub, sizeof c.sub, "%s", uid);
    snprintf(c.sid, sizeof c.sid, "%s", sid);
    assert_int_equal(gh_random_token(c.jti, JWT_JTI_LEN + 1, 16), GH_OK);
    c.iat = iat;
    c.exp = exp;
    char *t = NULL;
    assert_int_equal(jwt_sign(&c, &t), GH_OK);
    return t;
}

static char *token(const char *uid, const char *sid, int64_t iat, int64_t exp)
{
    return token_rev(uid, sid, iat, exp, -1);
}

static struct store_session sess(const char *sid, const char *uid)
{
    struct store_session s;
    memset(&s, 0, sizeof s);
    snprintf(s.id, sizeof s.id, "%.36s", sid);
    snprintf(s.user_id, sizeof s.user_id, "%.36s", uid);
    s.created_at = s.last_used_at = now;
    s.expires_at = now + 3600;
    return s;
}

static struct store_user user(const char *uid, const char *email)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "%s", uid);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.email_key, sizeof u.email_key, "%s", email);
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
    u.created_at = now - 86400;
    u.updated_at = now;
    return u;
}

static enum authcache_result check(const char *tok, int64_t at, struct authcache_identity *id)
{
    struct authcache_identity scratch;
    return authcache_check(tok, strlen(tok), at, id ? id : &scratch);
}

static void put_both(const char *uid, const char *sid, const char *email)
{
    struct store_session s = sess(sid, uid);
    struct store_user u = user(uid, email);
    uint64_t g = authcache_generation();
    authcache_put_session(&s, g);
    authcache_put_user(&u, g);
}

static void ok_then_revoked(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(uid, 1, 1);
    mk_id(sid, 1, 2);
    char *tok = token(uid, sid, now, now + 600);

    /* nothing cached: MISS (the token itself is fine) */
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_MISS);
    /* session only: still MISS (user unknown) */
    struct store_session s = sess(sid, uid);
    authcache_put_session(&s, authcache_generation());
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_MISS);
    /* both: OK, with the identity filled */
    struct store_user u = user(uid, "alice@example.com");
    authcache_put_user(&u, authcache_generation());
    struct authcache_identity id;
    memset(&id, 0, sizeof id);
    assert_int_equal(check(tok, now, &id), AUTHCACHE_OK);
    assert_string_equal(id.user_id, uid);
    assert_string_equal(id.session_id, sid);
    assert_string_equal(id.email, "alice@example.com");
    assert_int_equal(id.created_at, now - 86400);
    assert_int_equal(id.iat, now);
    assert_int_equal(id.exp, now + 600);
    /* again (now from the token cache) */
    assert_int_equal(check(tok, now, &id), AUTHCACHE_OK);

    /* expiry is re-checked on every use, even for a cached token */
    assert_int_equal(check(tok, now + 599, NULL), AUTHCACHE_OK);
    assert_int_equal(check(tok, now + 600, NULL), AUTHCACHE_DENY);

    /* revoked: DENY on the very next check */
    authcache_revoke_session(sid);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_DENY);
    /* a stale "live" read cannot resurrect it... */
    authcache_put_session(&s, authcache_generation() - 1);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_DENY);
    /* ...and a fresh read of the revoked row keeps it dead */
    s.revoked_at = now;
    authcache_put_session(&s, authcache_generation());
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_DENY);
    free(tok);
}

static void bad_tokens_denied(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(uid, 2, 1);
    mk_id(sid, 2, 2);
    put_both(uid, sid, "bob@example.com");
    char *tok = token(uid, sid, now, now + 600);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_OK);
    /* tampered, truncated, garbage, empty, too long */
    size_t len = strlen(tok);
    tok[len - 3] = tok[len - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check("garbage", now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check("", now, NULL), AUTHCACHE_DENY);
    char big[JWT_MAX_LEN + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(check(big, now, NULL), AUTHCACHE_DENY);
    /* expired when first seen */
    char *old = token(uid, sid, now - 1000, now - 1);
    assert_int_equal(check(old, now, NULL), AUTHCACHE_DENY);
    free(old);
    free(tok);
}

static void session_of_another_user(void **state)
{
    (void)state;
    char u1[STORE_ID_LEN + 1], u2[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(u1, 3, 1);
    mk_id(u2, 3, 2);
    mk_id(sid, 3, 3);
    /* the session belongs to u1; a token naming u2 with that sid is refused */
    put_both(u1, sid, "u1@example.com");
    struct store_user u = user(u2, "u2@example.com");
    authcache_put_user(&u, authcache_generation());
    char *tok = token(u2, sid, now, now + 600);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_DENY);
    free(tok);
}

static void stale_generation_dropped(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1], other[STORE_ID_LEN + 1];
    mk_id(uid, 4, 1);
    mk_id(sid, 4, 2);
    mk_id(other, 4, 3);
    char *tok = token(uid, sid, now, now + 600);

    /* A worker read gen, then a revocation happened: its puts are dropped. */
    uint64_t gen = authcache_generation();
    authcache_revoke_session(other); /* any revocation bumps the generation */
    assert_true(authcache_generation() > gen);
    struct store_session s = sess(sid, uid);
    struct store_user u = user(uid, "carol@example.com");
    authcache_put_session(&s, gen);
    authcache_put_user(&u, gen);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_MISS);
    /* with the current generation they are kept */
    gen = authcache_generation();
    authcache_put_session(&s, gen);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_MISS); /* user still missing */
    authcache_put_user(&u, gen);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_OK);

    /* the other revocation kinds bump it too */
    gen = authcache_generation();
    authcache_revoke_user_sessions(other, NULL);
    assert_true(authcache_generation() > gen);
    gen = authcache_generation();
    authcache_set_user_tia(other, 5);
    assert_true(authcache_generation() > gen);
    free(tok);
}

static void revoke_user_sessions_except_one(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], other_uid[STORE_ID_LEN + 1];
    char s1[STORE_ID_LEN + 1], s2[STORE_ID_LEN + 1], s3[STORE_ID_LEN + 1], s4[STORE_ID_LEN + 1];
    mk_id(uid, 5, 1);
    mk_id(other_uid, 5, 2);
    mk_id(s1, 5, 3);
    mk_id(s2, 5, 4);
    mk_id(s3, 5, 5);
    mk_id(s4, 5, 6);
    put_both(uid, s1, "dan@example.com");
    put_both(uid, s2, "dan@example.com");
    put_both(uid, s3, "dan@example.com");
    put_both(other_uid, s4, "eve@example.com");
    char *t1 = token(uid, s1, now, now + 600), *t2 = token(uid, s2, now, now + 600),
         *t3 = token(uid, s3, now, now + 600), *t4 = token(other_uid, s4, now, now + 600);
    assert_int_equal(check(t1, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(t2, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(t3, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(t4, now, NULL), AUTHCACHE_OK);

    authcache_revoke_user_sessions(uid, s2);
    assert_int_equal(check(t1, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check(t2, now, NULL), AUTHCACHE_OK); /* kept */
    assert_int_equal(check(t3, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check(t4, now, NULL), AUTHCACHE_OK); /* other user */

    /* a kept sid that is a prefix of another must not protect it */
    authcache_revoke_user_sessions(uid, "0");
    assert_int_equal(check(t2, now, NULL), AUTHCACHE_DENY);

    authcache_revoke_user_sessions(other_uid, NULL);
    assert_int_equal(check(t4, now, NULL), AUTHCACHE_DENY);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
}

static void tokens_invalidated_at(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(uid, 6, 1);
    mk_id(sid, 6, 2);
    put_both(uid, sid, "fay@example.com");
    char *before = token(uid, sid, now - 10, now + 600);
    char *at = token(uid, sid, now, now + 600);
    assert_int_equal(check(before, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(at, now, NULL), AUTHCACHE_OK);
    /* password changed at `now`: tokens issued earlier die, iat == tia lives */
    authcache_set_user_tia(uid, now);
    assert_int_equal(check(before, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check(at, now, NULL), AUTHCACHE_OK);
    authcache_set_user_tia(uid, now + 1);
    assert_int_equal(check(at, now, NULL), AUTHCACHE_DENY);
    /* a stale user read (tia 0) cannot bring them back */
    struct store_user u = user(uid, "fay@example.com");
    authcache_put_user(&u, authcache_generation() - 1);
    assert_int_equal(check(before, now, NULL), AUTHCACHE_DENY);
    free(before);
    free(at);
}

/* Issue 9: tokens carry the tokens_invalidated_at they were issued under
 * ("rev"), and iat is never set in the future: revocation within one
 * second is exact by rev, whatever iat says. */
static void tokens_invalidated_by_rev(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(uid, 16, 1);
    mk_id(sid, 16, 2);
    put_both(uid, sid, "gus@example.com");
    authcache_set_user_tia(uid, now - 5);
    char *old = token_rev(uid, sid, now, now + 600, now - 5); /* issued before the change */
    char *newer = token_rev(uid, sid, now, now + 600, now);   /* same second, after it */
    char *legacy = token_rev(uid, sid, now, now + 600, -1);   /* no rev: iat decides */
    assert_int_equal(check(old, now, NULL), AUTHCACHE_OK);
    /* the change happens in the same second as both were issued */
    authcache_set_user_tia(uid, now);
    assert_int_equal(check(old, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check(newer, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(legacy, now, NULL), AUTHCACHE_OK);
    /* a second change in that second moves tia on by one: newer dies too */
    authcache_set_user_tia(uid, now + 1);
    assert_int_equal(check(newer, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(check(legacy, now, NULL), AUTHCACHE_DENY);
    free(old);
    free(newer);
    free(legacy);
}

/* A full cache evicts one entry at a time, the coldest: a token, session
 * and user used all along survive a flood twenty times the cache's size,
 * one used once goes (and its next check is a MISS, settled by the store). */
static void evicts_coldest_keeps_recent(void **state)
{
    (void)state;
    /* Re-initialise with the smallest cache (4096 slots; runs late). */
    authcache_shutdown();
    assert_int_equal(authcache_init(AUTHCACHE_MIN_BYTES), GH_OK);
    char uid[STORE_ID_LEN + 1], hot[STORE_ID_LEN + 1], cold[STORE_ID_LEN + 1],
        dead[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(uid, 7, 1);
    mk_id(hot, 7, 10);
    mk_id(cold, 7, 11);
    mk_id(dead, 7, 12);
    char *hot_t = token(uid, hot, now, now + 600), *cold_t = token(uid, cold, now, now + 600),
         *dead_t = token(uid, dead, now, now + 600);
    put_both(uid, hot, "gus@example.com");
    put_both(uid, cold, "gus@example.com");
    put_both(uid, dead, "gus@example.com");
    assert_int_equal(check(hot_t, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(cold_t, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(dead_t, now, NULL), AUTHCACHE_OK);
    for (unsigned i = 0; i < 80000; i++) {
        mk_id(sid, 70, i);
        struct store_session s = sess(sid, uid);
        authcache_put_session(&s, authcache_generation());
        if (i % 8 == 0) assert_int_equal(check(hot_t, now, NULL), AUTHCACHE_OK);
    }
    struct authcache_stats st;
    authcache_stats(&st);
    assert_true(st.evictions[AUTHCACHE_SESSIONS] > 70000);
    assert_true(st.entries[AUTHCACHE_SESSIONS] > 1000);
    assert_true(st.bytes <= st.budget);
    assert_int_equal(st.budget, AUTHCACHE_MIN_BYTES);
    assert_int_equal(check(hot_t, now, NULL), AUTHCACHE_OK);
    assert_int_equal(check(cold_t, now, NULL), AUTHCACHE_MISS);
    /* a revoked session that was evicted is a MISS (store decides), never OK */
    authcache_revoke_session(dead);
    assert_int_equal(check(dead_t, now, NULL), AUTHCACHE_MISS);
    /* many new tokens through the full cache */
    for (int i = 0; i < 20; i++) {
        char *t = token(uid, hot, now, now + 600);
        assert_int_equal(check(t, now, NULL), AUTHCACHE_OK);
        free(t);
    }
    free(hot_t);
    free(cold_t);
    free(dead_t);
}

/* Users with the longest emails, far past a small budget: the bytes stay
 * under it, and a 254-byte email reads back whole. */
static void budget_with_long_emails(void **state)
{
    (void)state;
    authcache_shutdown();
    assert_int_equal(authcache_init(2 * AUTHCACHE_MIN_BYTES), GH_OK);
    char email[STORE_EMAIL_MAX + 1], uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    memset(email, 'a', STORE_EMAIL_MAX);
    memcpy(email + STORE_EMAIL_MAX - 12, "@example.com", 12);
    email[STORE_EMAIL_MAX] = '\0';
    for (unsigned i = 0; i < 20000; i++) {
        mk_id(uid, 71, i);
        mk_id(sid, 72, i);
        email[0] = (char)('a' + i % 26);
        put_both(uid, sid, email);
    }
    struct authcache_stats st;
    authcache_stats(&st);
    assert_true(st.bytes <= 2 * AUTHCACHE_MIN_BYTES);
    assert_true(st.evictions[AUTHCACHE_USERS] > 0);
    assert_true(st.email_slots > 0);
    /* A full cache may evict even a fresh entry: the hash key is random per
     * run, and an insert (a user takes several slots here) evicts by CLOCK
     * in whichever shard it lands. So a few fresh pairs, and at least one
     * must read back whole (one alone failed once under make test). */
    struct authcache_identity id;
    bool read_back = false;
    for (unsigned k = 0; k < 4 && !read_back; k++) {
        mk_id(uid, 73, 2 * k + 1);
        mk_id(sid, 73, 2 * k + 2);
        put_both(uid, sid, email);
        char *tok = token(uid, sid, now, now + 600);
        if (check(tok, now, &id) == AUTHCACHE_OK) {
            assert_string_equal(id.email, email);
            read_back = true;
        }
        free(tok);
    }
    assert_true(read_back);
    /* below the smallest budget: refused */
    authcache_shutdown();
    assert_int_equal(authcache_init(AUTHCACHE_MIN_BYTES - 1), GH_ERR_CONFIG);
    assert_int_equal(authcache_check_cookie((const uint8_t *)email, now, 0, &id), AUTHCACHE_MISS);
    assert_int_equal(authcache_init(4u << 20), GH_OK);
}

/* ---- threads: loops hitting, a worker inserting, a revoker ---- */

#define POOL 32
#define REVOKES 150
static char pool_uid[STORE_ID_LEN + 1], pool_sid[POOL][STORE_ID_LEN + 1], *pool_tok[POOL];
static char rev_uid[STORE_ID_LEN + 1], rev_sid[REVOKES][STORE_ID_LEN + 1], *rev_tok[REVOKES];
static _Atomic int thread_failures;
static _Atomic bool revoker_done;

static void *loop_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&revoker_done)) {
        seed = seed * 1103515245u + 12345u;
        struct authcache_identity id;
        enum authcache_result r = check(pool_tok[(seed >> 8) % POOL], now, &id);
        if (r == AUTHCACHE_OK && strcmp(id.user_id, pool_uid) != 0)
            atomic_fetch_add(&thread_failures, 1);
        if (r == AUTHCACHE_DENY) atomic_fetch_add(&thread_failures, 1); /* never revoked */
        uint8_t h[32];
        memset(h, (int)(seed >> 16), sizeof h);
        (void)authcache_check_cookie(h, now, 0, &id);
    }
    return NULL;
}

static void *worker_thread(void *arg)
{
    (void)arg;
    char sid[STORE_ID_LEN + 1];
    for (unsigned i = 0; !atomic_load(&revoker_done); i++) {
        uint64_t g = authcache_generation();
        struct store_session s = sess(pool_sid[i % POOL], pool_uid);
        struct store_user u = user(pool_uid, "pool@example.com");
        authcache_put_session(&s, g);
        authcache_put_user(&u, g);
        mk_id(sid, 74, i); /* and a flood that keeps the hands moving */
        s = sess(sid, pool_uid);
        authcache_put_session(&s, g);
        uint8_t h[32];
        memset(h, (int)i, sizeof h);
        authcache_put_cookie(h, pool_uid, sid, now, now + 600, g);
        if (i % 64 == 0) authcache_set_user_role(pool_uid, i % 128 ? "admin" : "user");
    }
    return NULL;
}

/* Revocation is seen by the very next check, whatever the others do. */
static void *revoker_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < REVOKES; i++) {
        uint64_t before = authcache_generation();
        struct store_session s = sess(rev_sid[i], rev_uid);
        struct store_user u = user(rev_uid, "rev@example.com");
        authcache_put_session(&s, before);
        authcache_put_user(&u, before);
        if (check(rev_tok[i], now, NULL) == AUTHCACHE_DENY) atomic_fetch_add(&thread_failures, 1);
        authcache_revoke_session(rev_sid[i]);
        if (check(rev_tok[i], now, NULL) == AUTHCACHE_OK) atomic_fetch_add(&thread_failures, 1);
        authcache_put_session(&s, before); /* a stale "live" read */
        if (check(rev_tok[i], now, NULL) == AUTHCACHE_OK) atomic_fetch_add(&thread_failures, 1);
        if (i % 50 == 49) authcache_clear_tokens();
    }
    atomic_store(&revoker_done, true);
    return NULL;
}

static void threads_hit_insert_revoke(void **state)
{
    (void)state;
    authcache_shutdown();
    assert_int_equal(authcache_init(AUTHCACHE_MIN_BYTES), GH_OK); /* evictions all along */
    mk_id(pool_uid, 75, 0);
    mk_id(rev_uid, 76, 0);
    for (unsigned i = 0; i < POOL; i++) {
        mk_id(pool_sid[i], 75, i + 1);
        pool_tok[i] = token(pool_uid, pool_sid[i], now, now + 600);
    }
    for (unsigned i = 0; i < REVOKES; i++) {
        mk_id(rev_sid[i], 76, i + 1);
        rev_tok[i] = token(rev_uid, rev_sid[i], now, now + 600);
    }
    pthread_t th[4];
    assert_int_equal(pthread_create(&th[0], NULL, loop_thread, (void *)1), 0);
    assert_int_equal(pthread_create(&th[1], NULL, loop_thread, (void *)2), 0);
    assert_int_equal(pthread_create(&th[2], NULL, worker_thread, NULL), 0);
    assert_int_equal(pthread_create(&th[3], NULL, revoker_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&thread_failures), 0);
    struct authcache_stats st;
    authcache_stats(&st);
    assert_true(st.bytes <= st.budget);
    assert_true(st.hits[AUTHCACHE_TOKENS] > 0);
    char m[4096];
    size_t n = authcache_metrics(m, sizeof m);
    assert_true(n > 0 && n < sizeof m);
    assert_non_null(strstr(m, "gatehouse_authcache_hits_total{table=\"tokens\"} "));
    assert_non_null(strstr(m, "gatehouse_authcache_budget_bytes 524288\n"));
    assert_int_equal(authcache_metrics(m, 10), 9); /* truncated, still a string */
    assert_int_equal(strlen(m), 9);
    for (unsigned i = 0; i < POOL; i++)
        free(pool_tok[i]);
    for (unsigned i = 0; i < REVOKES; i++)
        free(rev_tok[i]);
}

/* ---- authcache_check_store on SQLite ---- */

static void check_store(void **state)
{
    (void)state;
    const struct store_ops *ops = &store_sqlite;
    char dir[512], path[600], p[700];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gh_authcache_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
    struct store_conn *c = NULL;
    assert_int_equal(ops->open(path, &c), GH_OK);
    assert_int_equal(ops->migrate(c), GH_OK);

    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1], sid2[STORE_ID_LEN + 1];
    mk_id(uid, 8, 1);
    mk_id(sid, 8, 2);
    mk_id(sid2, 8, 3);
    struct store_user u = user(uid, "hal@example.com");
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
    struct store_session s = sess(sid, uid);
    uint8_t h[32];
    assert_int_equal(gh_sha256(h, "x", 1), GH_OK);
    assert_int_equal(ops->sessions.create(c, &s, h, -1, NULL), GH_OK);

    char *tok = token(uid, sid, now, now + 600);
    struct authcache_identity id;
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_MISS);
    memset(&id, 0, sizeof id);
    assert_int_equal(authcache_check_store(ops, c, tok, strlen(tok), now, &id), GH_OK);
    assert_string_equal(id.user_id, uid);
    assert_string_equal(id.session_id, sid);
    assert_string_equal(id.email, "hal@example.com");
    /* loaded into memory: the fast path now answers */
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_OK);

    /* revoked in the store (and the cache told): denied both ways */
    assert_int_equal(ops->sessions.revoke(c, sid, uid, now, NULL), GH_OK);
    authcache_revoke_session(sid);
    assert_int_equal(check(tok, now, NULL), AUTHCACHE_DENY);
    assert_int_equal(authcache_check_store(ops, c, tok, strlen(tok), now, &id), GH_ERR_DENIED);

    /* a session that does not exist in the store */
    char *ghost = token(uid, sid2, now, now + 600);
    assert_int_equal(authcache_check_store(ops, c, ghost, strlen(ghost), now, &id), GH_ERR_DENIED);
    /* a bad token never reaches the store */
    assert_int_equal(authcache_check_store(ops, c, "junk", 4, now, &id), GH_ERR_DENIED);

    free(ghost);
    free(tok);
    ops->close(c);
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* Session cookies: keyed by their hash, judged by the cached session, MISS
 * when due for rotation or forgotten, never confused with a JWT entry. */
static void cookie_tokens(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1], other[STORE_ID_LEN + 1];
    mk_id(uid, 9, 1);
    mk_id(sid, 9, 2);
    mk_id(other, 9, 3);
    uint8_t h[32], h2[32];
    assert_int_equal(gh_sha256(h, "cookie-one", 10), GH_OK);
    assert_int_equal(gh_sha256(h2, "cookie-two", 10), GH_OK);
    struct authcache_identity id;
    memset(&id, 0, sizeof id);
    /* not cached */
    assert_int_equal(authcache_check_cookie(h, now, now - 60, &id), AUTHCACHE_MISS);
    authcache_put_cookie(h, uid, sid, now, now + 600, authcache_generation());
    /* session and user unknown: MISS */
    assert_int_equal(authcache_check_cookie(h, now, now - 60, &id), AUTHCACHE_MISS);
    put_both(uid, sid, "carol@example.com");
    assert_int_equal(authcache_check_cookie(h, now, now - 60, &id), AUTHCACHE_OK);
    assert_string_equal(id.user_id, uid);
    assert_string_equal(id.session_id, sid);
    assert_string_equal(id.email, "carol@example.com");
    assert_int_equal(id.iat, now);
    assert_int_equal(id.exp, now + 600);
    /* due for rotation (issued before rotate_before): MISS, not OK */
    assert_int_equal(authcache_check_cookie(h, now, now + 1, &id), AUTHCACHE_MISS);
    /* exactly at rotate_before is due too (the worker rotates a token whose
     * created_at <= now - access TTL): MISS */
    assert_int_equal(authcache_check_cookie(h, now, now, &id), AUTHCACHE_MISS);
    assert_int_equal(authcache_check_cookie(h, now, now - 1, &id), AUTHCACHE_OK);
    /* expired: MISS (the worker answers) */
    assert_int_equal(authcache_check_cookie(h, now + 600, now - 60, &id), AUTHCACHE_MISS);
    /* a cookie entry is not a JWT entry and the other way round */
    assert_int_equal(authcache_check_cookie(h2, now, now - 60, &id), AUTHCACHE_MISS);
    /* rotated: forgotten, and a put with the generation read before is dropped */
    uint64_t g = authcache_generation();
    authcache_forget_cookie(h);
    assert_int_equal(authcache_check_cookie(h, now, now - 60, &id), AUTHCACHE_MISS);
    authcache_put_cookie(h, uid, sid, now, now + 600, g);
    assert_int_equal(authcache_check_cookie(h, now, now - 60, &id), AUTHCACHE_MISS);
    /* a cookie naming a session of another user: DENY */
    authcache_put_cookie(h2, other, sid, now, now + 600, authcache_generation());
    assert_int_equal(authcache_check_cookie(h2, now, now - 60, &id), AUTHCACHE_DENY);
    /* revocation: DENY on the very next check */
    authcache_put_cookie(h2, uid, sid, now, now + 600, authcache_generation());
    assert_int_equal(authcache_check_cookie(h2, now, now - 60, &id), AUTHCACHE_OK);
    authcache_revoke_session(sid);
    assert_int_equal(authcache_check_cookie(h2, now, now - 60, &id), AUTHCACHE_DENY);
}

/* The identity carries the user's role and the session's last second
 * factor; the setters change them for the very next check (the gate's
 * role and step-up rules read them). */
static void role_and_mfa_at(void **state)
{
    (void)state;
    char uid[STORE_ID_LEN + 1], sid[STORE_ID_LEN + 1];
    mk_id(uid, 9, 1);
    mk_id(sid, 9, 2);
    char *tok = token(uid, sid, now, now + 600);
    struct store_session s = sess(sid, uid);
    s.mfa_at = now - 100;
    struct store_user u = user(uid, "role@example.com");
    snprintf(u.role, sizeof u.role, "user");
    uint64_t g = authcache_generation();
    authcache_put_session(&s, g);
    authcache_put_user(&u, g);
    struct authcache_identity id;
    assert_int_equal(check(tok, now, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user");
    assert_int_equal(id.mfa_at, now - 100);
    authcache_set_user_role(uid, "admin");
    authcache_set_session_mfa(sid, now);
    assert_int_equal(check(tok, now, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "admin");
    assert_int_equal(id.mfa_at, now);
    /* a setter moves the generation: a read that started before it is dropped */
    uint64_t before = authcache_generation();
    authcache_set_user_role(uid, "user");
    u.role[0] = 'x';
    authcache_put_user(&u, before);
    assert_int_equal(check(tok, now, &id), AUTHCACHE_OK);
    assert_string_equal(id.role, "user");
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ok_then_revoked),
        cmocka_unit_test(role_and_mfa_at),
        cmocka_unit_test(bad_tokens_denied),
        cmocka_unit_test(session_of_another_user),
        cmocka_unit_test(stale_generation_dropped),
        cmocka_unit_test(revoke_user_sessions_except_one),
        cmocka_unit_test(tokens_invalidated_at),
        cmocka_unit_test(tokens_invalidated_by_rev),
        cmocka_unit_test(check_store),
        cmocka_unit_test(evicts_coldest_keeps_recent), /* re-initialises: before cookie_tokens */
        cmocka_unit_test(cookie_tokens),
        cmocka_unit_test(budget_with_long_emails),
        cmocka_unit_test(threads_hit_insert_revoke),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
