#include "sessions/authcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/util.h"
#include "sessions/jwt.h"

/* A minimal chained hash table; keys are at most 40 bytes. */
struct node {
    struct node *next;
    uint64_t h;
    uint8_t klen;
    uint8_t key[40];
    union {
        struct jwt_claims tok;
        struct { /* a cookie session token (key: 'C' + its SHA-256) */
            char uid[STORE_ID_LEN + 1];
            char sid[STORE_ID_LEN + 1];
            int64_t created_at;
            int64_t expires_at;
        } ck;
        struct {
            char uid[STORE_ID_LEN + 1];
            int64_t expires_at;
            int64_t mfa_at;
            bool live;
            bool restricted;
        } sess;
        struct {
            char email[STORE_EMAIL_MAX + 1];
            char role[STORE_ROLE_MAX + 1];
            int64_t created_at;
            int64_t tia;
        } user;
    } v;
};

struct table {
    struct node **b;
    size_t nb, count, max;
};

static struct table tokens, sessions, users;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic uint64_t generation = 1;
static uint8_t hkey[crypto_shorthash_KEYBYTES];

static uint64_t hash(const void *k, size_t n)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, k, n, hkey); /* keyed: no hash flooding */
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static enum gh_err table_init(struct table *t, size_t max)
{
    t->nb = 64;
    while (t->nb < max)
        t->nb <<= 1;
    t->b = calloc(t->nb, sizeof *t->b);
    t->max = max;
    t->count = 0;
    return t->b ? GH_OK : GH_ERR_NOMEM;
}

static void table_clear(struct table *t)
{
    for (size_t i = 0; i < t->nb; i++) {
        struct node *n = t->b[i];
        while (n) {
            struct node *nx = n->next;
            free(n);
            n = nx;
        }
        t->b[i] = NULL;
    }
    t->count = 0;
}

static struct node *find(struct table *t, const void *k, size_t kl)
{
    uint64_t h = hash(k, kl);
    for (struct node *n = t->b[h & (t->nb - 1)]; n; n = n->next)
        if (n->h == h && n->klen == kl && memcmp(n->key, k, kl) == 0) return n;
    return NULL;
}

/* Existing or new node for k; NULL on OOM or oversize key. Caller holds wrlock. */
static struct node *upsert(struct table *t, const void *k, size_t kl)
{
    if (kl > sizeof((struct node *)0)->key) return NULL;
    struct node *n = find(t, k, kl);
    if (n) return n;
    if (t->count >= t->max) table_clear(t);
    n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->h = hash(k, kl);
    n->klen = (uint8_t)kl;
    memcpy(n->key, k, kl);
    size_t i = n->h & (t->nb - 1);
    n->next = t->b[i];
    t->b[i] = n;
    t->count++;
    return n;
}

enum gh_err authcache_init(size_t max_tokens, size_t max_sessions, size_t max_users)
{
    crypto_shorthash_keygen(hkey);
    if (table_init(&tokens, max_tokens) || table_init(&sessions, max_sessions) ||
        table_init(&users, max_users))
        return GH_ERR_NOMEM;
    return GH_OK;
}

void authcache_shutdown(void)
{
    struct table *ts[] = {&tokens, &sessions, &users};
    for (size_t i = 0; i < 3; i++) {
        if (!ts[i]->b) continue;
        table_clear(ts[i]);
        free(ts[i]->b);
        ts[i]->b = NULL;
    }
}

uint64_t authcache_generation(void)
{
    return atomic_load(&generation);
}

void authcache_put_session(const struct store_session *s, uint64_t gen)
{
    pthread_rwlock_wrlock(&lock);
    if (gen == atomic_load(&generation)) {
        struct node *n = upsert(&sessions, s->id, strlen(s->id));
        if (n) {
            memcpy(n->v.sess.uid, s->user_id, sizeof n->v.sess.uid);
            n->v.sess.expires_at = s->expires_at;
            n->v.sess.live = s->revoked_at == 0;
            n->v.sess.restricted = s->restricted;
            n->v.sess.mfa_at = s->mfa_at;
        }
    }
    pthread_rwlock_unlock(&lock);
}

void authcache_put_user(const struct store_user *u, uint64_t gen)
{
    pthread_rwlock_wrlock(&lock);
    if (gen == atomic_load(&generation)) {
        struct node *n = upsert(&users, u->id, strlen(u->id));
        if (n) {
            memcpy(n->v.user.email, u->email, sizeof n->v.user.email);
            n->v.user.created_at = u->created_at;
            n->v.user.tia = u->tokens_invalidated_at;
            memcpy(n->v.user.role, u->role, sizeof n->v.user.role);
        }
    }
    pthread_rwlock_unlock(&lock);
}

void authcache_revoke_session(const char *sid)
{
    pthread_rwlock_wrlock(&lock);
    struct node *n = find(&sessions, sid, strlen(sid));
    if (n) n->v.sess.live = false;
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

void authcache_revoke_user_sessions(const char *uid, const char *except_sid)
{
    size_t el = except_sid ? strlen(except_sid) : 0;
    pthread_rwlock_wrlock(&lock);
    for (size_t i = 0; i < sessions.nb; i++)
        for (struct node *n = sessions.b[i]; n; n = n->next)
            if (strcmp(n->v.sess.uid, uid) == 0 &&
                !(except_sid && n->klen == el && memcmp(n->key, except_sid, el) == 0))
                n->v.sess.live = false;
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

void authcache_unrestrict_session(const char *sid)
{
    pthread_rwlock_wrlock(&lock);
    struct node *n = find(&sessions, sid, strlen(sid));
    if (n) n->v.sess.restricted = false;
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

void authcache_set_session_mfa(const char *sid, int64_t mfa_at)
{
    pthread_rwlock_wrlock(&lock);
    struct node *n = find(&sessions, sid, strlen(sid));
    if (n) n->v.sess.mfa_at = mfa_at;
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

void authcache_set_user_role(const char *uid, const char *role)
{
    pthread_rwlock_wrlock(&lock);
    struct node *n = find(&users, uid, strlen(uid));
    if (n) snprintf(n->v.user.role, sizeof n->v.user.role, "%s", role);
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

void authcache_set_user_tia(const char *uid, int64_t tia)
{
    pthread_rwlock_wrlock(&lock);
    struct node *n = find(&users, uid, strlen(uid));
    if (n) n->v.user.tia = tia;
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

void authcache_clear_tokens(void)
{
    pthread_rwlock_wrlock(&lock);
    table_clear(&tokens);
    pthread_rwlock_unlock(&lock);
}

/* Cookie tokens share the tokens table; their 33-byte key cannot meet a
 * JWT's 32-byte one. */
static void cookie_key(uint8_t k[33], const uint8_t hash[32])
{
    k[0] = 'C';
    memcpy(k + 1, hash, 32);
}

void authcache_put_cookie(const uint8_t hash[32], const char *uid, const char *sid,
                          int64_t created_at, int64_t expires_at, uint64_t gen)
{
    uint8_t k[33];
    cookie_key(k, hash);
    pthread_rwlock_wrlock(&lock);
    if (gen == atomic_load(&generation)) {
        struct node *n = upsert(&tokens, k, sizeof k);
        if (n) {
            snprintf(n->v.ck.uid, sizeof n->v.ck.uid, "%s", uid);
            snprintf(n->v.ck.sid, sizeof n->v.ck.sid, "%s", sid);
            n->v.ck.created_at = created_at;
            n->v.ck.expires_at = expires_at;
        }
    }
    pthread_rwlock_unlock(&lock);
}

void authcache_forget_cookie(const uint8_t hash[32])
{
    uint8_t k[33];
    cookie_key(k, hash);
    pthread_rwlock_wrlock(&lock);
    struct node *n = find(&tokens, k, sizeof k);
    if (n) n->v.ck.expires_at = 0; /* unlinking is not worth it: it is never OK again */
    atomic_fetch_add(&generation, 1);
    pthread_rwlock_unlock(&lock);
}

enum authcache_result authcache_check_cookie(const uint8_t hash[32], int64_t now,
                                             int64_t rotate_before, struct authcache_identity *out)
{
    uint8_t k[33];
    cookie_key(k, hash);
    enum authcache_result res = AUTHCACHE_MISS;
    pthread_rwlock_rdlock(&lock);
    struct node *t = find(&tokens, k, sizeof k);
    /* Spent, expired or due for rotation: the worker decides (store.h). */
    if (t && t->v.ck.expires_at > now && t->v.ck.created_at >= rotate_before) {
        struct node *s = find(&sessions, t->v.ck.sid, strlen(t->v.ck.sid));
        if (s) {
            if (!s->v.sess.live || strcmp(s->v.sess.uid, t->v.ck.uid) != 0) {
                res = AUTHCACHE_DENY;
            } else {
                struct node *u = find(&users, t->v.ck.uid, strlen(t->v.ck.uid));
                if (u) {
                    memcpy(out->user_id, t->v.ck.uid, sizeof out->user_id);
                    memcpy(out->session_id, t->v.ck.sid, sizeof out->session_id);
                    snprintf(out->email, sizeof out->email, "%s", u->v.user.email);
                    out->created_at = u->v.user.created_at;
                    out->iat = t->v.ck.created_at;
                    out->exp = t->v.ck.expires_at;
                    out->restricted = s->v.sess.restricted;
                    out->mfa_at = s->v.sess.mfa_at;
                    memcpy(out->role, u->v.user.role, sizeof out->role);
                    res = AUTHCACHE_OK;
                }
            }
        }
    }
    pthread_rwlock_unlock(&lock);
    return res;
}

/* Claims of a token: from the cache, or verified now and remembered. */
static enum gh_err token_claims(const char *token, size_t len, int64_t now, struct jwt_claims *out)
{
    uint8_t th[32];
    if (len > JWT_MAX_LEN || gh_sha256(th, token, len)) return GH_ERR_DENIED;
    bool hit = false;
    pthread_rwlock_rdlock(&lock);
    struct node *n = find(&tokens, th, sizeof th);
    if (n) {
        *out = n->v.tok;
        hit = true;
    }
    pthread_rwlock_unlock(&lock);
    if (!hit) {
        if (jwt_verify(token, len, now, out) != GH_OK) return GH_ERR_DENIED;
        pthread_rwlock_wrlock(&lock);
        n = upsert(&tokens, th, sizeof th);
        if (n) n->v.tok = *out;
        pthread_rwlock_unlock(&lock);
    }
    if (out->exp <= now) return GH_ERR_DENIED;
    return GH_OK;
}

static void fill(struct authcache_identity *out, const struct jwt_claims *c, const char *email,
                 int64_t created_at)
{
    memcpy(out->user_id, c->sub, sizeof out->user_id);
    memcpy(out->session_id, c->sid, sizeof out->session_id);
    snprintf(out->email, sizeof out->email, "%s", email);
    out->created_at = created_at;
    out->iat = c->iat;
    out->exp = c->exp;
}

enum authcache_result authcache_check(const char *token, size_t len, int64_t now,
                                      struct authcache_identity *out)
{
    struct jwt_claims c;
    if (token_claims(token, len, now, &c)) return AUTHCACHE_DENY;
    enum authcache_result res = AUTHCACHE_MISS;
    pthread_rwlock_rdlock(&lock);
    struct node *s = find(&sessions, c.sid, strlen(c.sid));
    if (s) {
        if (!s->v.sess.live || strcmp(s->v.sess.uid, c.sub) != 0) {
            res = AUTHCACHE_DENY;
        } else {
            struct node *u = find(&users, c.sub, strlen(c.sub));
            if (u) {
                if (!jwt_current(&c, u->v.user.tia)) {
                    res = AUTHCACHE_DENY;
                } else {
                    fill(out, &c, u->v.user.email, u->v.user.created_at);
                    out->restricted = s->v.sess.restricted;
                    out->mfa_at = s->v.sess.mfa_at;
                    memcpy(out->role, u->v.user.role, sizeof out->role);
                    res = AUTHCACHE_OK;
                }
            }
        }
    }
    pthread_rwlock_unlock(&lock);
    return res;
}

enum gh_err authcache_check_store(const struct store_ops *ops, struct store_conn *conn,
                                  const char *token, size_t len, int64_t now,
                                  struct authcache_identity *out)
{
    struct jwt_claims c;
    if (token_claims(token, len, now, &c)) return GH_ERR_DENIED;
    uint64_t gen = authcache_generation();
    struct store_session s;
    struct store_user u;
    enum gh_err rc = ops->sessions.get(conn, c.sid, &s);
    if (rc == GH_ERR_NOT_FOUND) return GH_ERR_DENIED;
    if (rc) return rc;
    rc = ops->users.by_id(conn, s.user_id, &u);
    if (rc == GH_ERR_NOT_FOUND) return GH_ERR_DENIED;
    if (rc) {
        gh_wipe(&u, sizeof u);
        return rc;
    }
    authcache_put_session(&s, gen);
    authcache_put_user(&u, gen);
    rc = GH_OK;
    if (s.revoked_at != 0 || strcmp(s.user_id, c.sub) != 0 ||
        !jwt_current(&c, u.tokens_invalidated_at))
        rc = GH_ERR_DENIED;
    else {
        fill(out, &c, u.email, u.created_at);
        out->restricted = s.restricted;
        out->mfa_at = s.mfa_at;
        memcpy(out->role, u.role, sizeof out->role);
    }
    gh_wipe(u.password_hash, sizeof u.password_hash);
    return rc;
}
