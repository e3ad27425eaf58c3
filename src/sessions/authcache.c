#include "sessions/authcache.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "sessions/authcache_table.h"
#include "sessions/jwt.h"

/* The shards: enough that two to a few dozen loops rarely meet on one
 * (decision 0029). */
#define SHARDS 64
_Static_assert(AUTHCACHE_MIN_BYTES == SHARDS * ACTAB_MIN_BYTES_PER_SHARD, "the smallest budget");

/* Entry bodies (authcache_table.h lays them in 56 bytes). Ids are kept as
 * the 16 bytes of their canonical UUID text; a token keyed by the first 16
 * bytes of its SHA-256 (see the header). */
struct tok_body {
    uint8_t sub[16], sid[16];
    int64_t iat, exp, rev;
};
struct cookie_body {
    uint8_t uid[16], sid[16];
    int64_t created_at, expires_at;
};
struct sess_body {
    uint8_t uid[16];
    int64_t mfa_at;
    uint8_t live, restricted;
};
struct user_body { /* extra: the email */
    int64_t created_at, tia;
    char role[STORE_ROLE_MAX + 1];
};
_Static_assert(sizeof(struct tok_body) <= ACTAB_BODY, "token body");
_Static_assert(sizeof(struct cookie_body) <= ACTAB_BODY, "cookie body");
_Static_assert(sizeof(struct sess_body) <= ACTAB_BODY, "session body");
_Static_assert(sizeof(struct user_body) <= ACTAB_BODY - 4, "user body");

static struct actab *cache;
static _Atomic uint64_t generation = 1;
/* Moved by authcache_clear_tokens: a token verified under the old keys is
 * not inserted after the clear. */
static _Atomic uint64_t token_epoch = 1;
/* authcache_set_trusted: false while the change feed cannot vouch for
 * what the tables hold (a miss then, whatever they hold). */
static _Atomic bool trusted = true;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Canonical UUID text (36 characters, lower-case hex, dashes at 8, 13, 18
 * and 23, as sessions_new_id writes) to its 16 bytes. Anything else is
 * never cached: such a token or session always goes to the store. */
static bool id_pack(uint8_t out[16], const char *id)
{
    if (strnlen(id, STORE_ID_LEN + 1) != STORE_ID_LEN) return false;
    size_t j = 0;
    for (size_t i = 0; i < STORE_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (id[i] != '-') return false;
            continue;
        }
        int v = hexval(id[i]);
        if (v < 0) return false;
        if (j % 2 == 0)
            out[j / 2] = (uint8_t)(v << 4);
        else
            out[j / 2] |= (uint8_t)v;
        j++;
    }
    return true;
}

/* On every hit, so no snprintf. */
static void id_unpack(char out[STORE_ID_LEN + 1], const uint8_t in[16])
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = digits[in[i] >> 4];
        out[o++] = digits[in[i] & 15];
    }
    out[o] = '\0';
}

enum gh_err authcache_init(size_t budget_bytes)
{
    actab_free(cache);
    cache = actab_new(budget_bytes, SHARDS);
    return cache ? GH_OK : budget_bytes < AUTHCACHE_MIN_BYTES ? GH_ERR_CONFIG : GH_ERR_NOMEM;
}

void authcache_shutdown(void)
{
    actab_free(cache);
    cache = NULL;
}

void authcache_set_trusted(bool t)
{
    atomic_store(&trusted, t);
}

bool authcache_trusted(void)
{
    return atomic_load_explicit(&trusted, memory_order_acquire);
}

uint64_t authcache_generation(void)
{
    return atomic_load(&generation);
}

void authcache_put_session(const struct store_session *s, uint64_t gen)
{
    uint8_t key[16];
    struct sess_body b;
    memset(&b, 0, sizeof b);
    if (!cache || !id_pack(key, s->id) || !id_pack(b.uid, s->user_id)) return;
    b.mfa_at = s->mfa_at;
    b.live = s->revoked_at == 0;
    b.restricted = s->restricted;
    actab_put(cache, ACTAB_SESSION, key, &b, sizeof b, NULL, 0, &generation, gen);
}

void authcache_put_user(const struct store_user *u, uint64_t gen)
{
    uint8_t key[16];
    struct user_body b;
    memset(&b, 0, sizeof b);
    if (!cache || !id_pack(key, u->id)) return;
    b.created_at = u->created_at;
    b.tia = u->tokens_invalidated_at;
    memcpy(b.role, u->role, sizeof b.role);
    b.role[sizeof b.role - 1] = '\0';
    actab_put(cache, ACTAB_USER, key, &b, sizeof b, u->email, strnlen(u->email, STORE_EMAIL_MAX),
              &generation, gen);
}

/* A change to one session or user, applied under its shard's lock after
 * the generation moved (so a read begun before it is never inserted). */
static void update(enum actab_kind kind, const char *id, void (*fn)(uint8_t *, void *), void *arg)
{
    uint8_t key[16];
    if (cache && id_pack(key, id))
        actab_update(cache, kind, key, fn, arg, &generation);
    else
        atomic_fetch_add(&generation, 1); /* an id never cached: nothing to change */
}

static void sess_dead(uint8_t *body, void *arg)
{
    (void)arg;
    struct sess_body b;
    memcpy(&b, body, sizeof b);
    b.live = 0;
    memcpy(body, &b, sizeof b);
}

void authcache_revoke_session(const char *sid)
{
    update(ACTAB_SESSION, sid, sess_dead, NULL);
}

struct revoke_arg {
    uint8_t uid[16], except[16];
    bool has_except;
};

static enum actab_visit revoke_visit(const uint8_t *key, uint8_t *body, void *arg)
{
    const struct revoke_arg *a = arg;
    struct sess_body b;
    memcpy(&b, body, sizeof b);
    if (memcmp(b.uid, a->uid, 16) == 0 && !(a->has_except && memcmp(key, a->except, 16) == 0))
        sess_dead(body, NULL);
    return ACTAB_KEEP;
}

void authcache_revoke_user_sessions(const char *uid, const char *except_sid)
{
    /* First the generation, then shard by shard: a put that checked the
     * old generation did so under a shard lock the scan takes after it. */
    atomic_fetch_add(&generation, 1);
    struct revoke_arg a;
    if (!cache || !id_pack(a.uid, uid)) return; /* no cached session names it */
    a.has_except = except_sid && id_pack(a.except, except_sid);
    actab_scan(cache, 1u << ACTAB_SESSION, revoke_visit, &a);
}

static void sess_unrestrict(uint8_t *body, void *arg)
{
    (void)arg;
    struct sess_body b;
    memcpy(&b, body, sizeof b);
    b.restricted = 0;
    memcpy(body, &b, sizeof b);
}

void authcache_unrestrict_session(const char *sid)
{
    update(ACTAB_SESSION, sid, sess_unrestrict, NULL);
}

static void sess_mfa(uint8_t *body, void *arg)
{
    struct sess_body b;
    memcpy(&b, body, sizeof b);
    b.mfa_at = *(const int64_t *)arg;
    memcpy(body, &b, sizeof b);
}

void authcache_set_session_mfa(const char *sid, int64_t mfa_at)
{
    update(ACTAB_SESSION, sid, sess_mfa, &mfa_at);
}

static void user_role(uint8_t *body, void *arg)
{
    struct user_body b;
    memcpy(&b, body, sizeof b);
    snprintf(b.role, sizeof b.role, "%s", (const char *)arg);
    memcpy(body, &b, sizeof b);
}

void authcache_set_user_role(const char *uid, const char *role)
{
    update(ACTAB_USER, uid, user_role, (void *)role);
}

static void user_tia(uint8_t *body, void *arg)
{
    struct user_body b;
    memcpy(&b, body, sizeof b);
    b.tia = *(const int64_t *)arg;
    memcpy(body, &b, sizeof b);
}

void authcache_set_user_tia(const char *uid, int64_t tia)
{
    update(ACTAB_USER, uid, user_tia, &tia);
}

void authcache_forget_user(const char *uid)
{
    /* The generation first: a worker's read begun before it is dropped. */
    atomic_fetch_add(&generation, 1);
    uint8_t key[16];
    if (cache && id_pack(key, uid)) actab_delete(cache, ACTAB_USER, key);
}

static enum actab_visit remove_visit(const uint8_t *key, uint8_t *body, void *arg)
{
    (void)key, (void)body, (void)arg;
    return ACTAB_REMOVE;
}

void authcache_clear_tokens(void)
{
    atomic_fetch_add(&token_epoch, 1);
    if (cache) actab_scan(cache, 1u << ACTAB_TOKEN | 1u << ACTAB_COOKIE, remove_visit, NULL);
}

void authcache_put_cookie(const uint8_t hash[32], const char *uid, const char *sid,
                          int64_t created_at, int64_t expires_at, uint64_t gen)
{
    struct cookie_body b;
    memset(&b, 0, sizeof b);
    if (!cache || !id_pack(b.uid, uid) || !id_pack(b.sid, sid)) return;
    b.created_at = created_at;
    b.expires_at = expires_at;
    actab_put(cache, ACTAB_COOKIE, hash, &b, sizeof b, NULL, 0, &generation, gen);
}

void authcache_forget_cookie(const uint8_t hash[32])
{
    /* The generation first: a put that read it before is dropped, one that
     * checked it earlier is in the table and removed here. */
    atomic_fetch_add(&generation, 1);
    if (cache) actab_delete(cache, ACTAB_COOKIE, hash);
}

/* The session and user of a token (packed ids), as the cache holds them:
 * MISS when either is not cached, DENY when the session is dead or not
 * uid's, or when the access token c (NULL for a cookie) was issued before
 * the user's tokens_invalidated_at; else (only then) fills the identity's
 * session and user fields. */
static enum authcache_result session_user(const uint8_t sid[16], const uint8_t uid[16],
                                          const struct jwt_claims *c,
                                          struct authcache_identity *out)
{
    struct sess_body s;
    struct user_body u;
    char email[STORE_EMAIL_MAX + 1];
    size_t elen = 0;
    if (!actab_get(cache, ACTAB_SESSION, sid, &s, sizeof s, NULL, 0, NULL)) return AUTHCACHE_MISS;
    if (!s.live || memcmp(s.uid, uid, 16) != 0) return AUTHCACHE_DENY;
    if (!actab_get(cache, ACTAB_USER, uid, &u, sizeof u, email, STORE_EMAIL_MAX, &elen))
        return AUTHCACHE_MISS;
    if (c && !jwt_current(c, u.tia)) return AUTHCACHE_DENY;
    email[elen] = '\0';
    id_unpack(out->user_id, uid);
    id_unpack(out->session_id, sid);
    memcpy(out->email, email, elen + 1);
    out->created_at = u.created_at;
    out->restricted = s.restricted;
    out->mfa_at = s.mfa_at;
    memcpy(out->role, u.role, sizeof out->role);
    return AUTHCACHE_OK;
}

enum authcache_result authcache_check_cookie(const uint8_t hash[32], int64_t now,
                                             int64_t rotate_before, struct authcache_identity *out)
{
    struct cookie_body c;
    if (!cache || !authcache_trusted() ||
        !actab_get(cache, ACTAB_COOKIE, hash, &c, sizeof c, NULL, 0, NULL))
        return AUTHCACHE_MISS;
    /* Spent, expired or due for rotation: the worker decides (store.h).
     * Due means at or before rotate_before, the worker's own rule: an
     * entry of exactly that age answered OK here would not rotate. */
    if (c.expires_at <= now || c.created_at <= rotate_before) return AUTHCACHE_MISS;
    enum authcache_result res = session_user(c.sid, c.uid, NULL, out);
    if (res == AUTHCACHE_OK) {
        out->iat = c.created_at;
        out->exp = c.expires_at;
    }
    return res;
}

/* Claims of a token: from the cache, or verified now (outside any lock)
 * and remembered. *packed: the claims' ids in cache form (false when they
 * are not canonical: then nothing about this token is cached). From the
 * cache, out's sub and sid are filled only when ids asks for them (the
 * hot path reads the packed ones). */
static enum gh_err token_claims(const char *token, size_t len, int64_t now, bool ids,
                                struct jwt_claims *out, struct tok_body *tb, bool *packed)
{
    uint8_t th[32];
    if (len > JWT_MAX_LEN || gh_sha256(th, token, len)) return GH_ERR_DENIED;
    /* Untrusted: the signature again, against the keys now (a key retired
     * meanwhile must not keep its tokens good from memory). */
    if (cache && authcache_trusted() &&
        actab_get(cache, ACTAB_TOKEN, th, tb, sizeof *tb, NULL, 0, NULL)) {
        out->sub[0] = out->sid[0] = out->jti[0] = '\0';
        out->restricted = false;
        if (ids) {
            id_unpack(out->sub, tb->sub);
            id_unpack(out->sid, tb->sid);
        }
        out->iat = tb->iat;
        out->exp = tb->exp;
        out->rev = tb->rev;
        *packed = true;
    } else {
        uint64_t epoch = atomic_load(&token_epoch);
        if (jwt_verify(token, len, now, out) != GH_OK) return GH_ERR_DENIED;
        *packed = id_pack(tb->sub, out->sub) && id_pack(tb->sid, out->sid);
        tb->iat = out->iat;
        tb->exp = out->exp;
        tb->rev = out->rev;
        if (*packed && cache)
            actab_put(cache, ACTAB_TOKEN, th, tb, sizeof *tb, NULL, 0, &token_epoch, epoch);
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
    struct tok_body tb;
    bool packed;
    /* Untrusted: straight to the worker (no signature check on the loop
     * that the worker would repeat). */
    if (!authcache_trusted()) return AUTHCACHE_MISS;
    if (token_claims(token, len, now, false, &c, &tb, &packed)) return AUTHCACHE_DENY;
    if (!packed || !cache) return AUTHCACHE_MISS;
    enum authcache_result res = session_user(tb.sid, tb.sub, &c, out);
    if (res != AUTHCACHE_OK) return res;
    out->iat = c.iat;
    out->exp = c.exp;
    return AUTHCACHE_OK;
}

enum gh_err authcache_check_store(const struct store_ops *ops, struct store_conn *conn,
                                  const char *token, size_t len, int64_t now,
                                  struct authcache_identity *out)
{
    struct jwt_claims c;
    struct tok_body tb;
    bool packed;
    if (token_claims(token, len, now, true, &c, &tb, &packed)) return GH_ERR_DENIED;
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

/* Table order of struct authcache_stats. */
static const enum actab_kind table_kind[AUTHCACHE_TABLES] = {ACTAB_TOKEN, ACTAB_COOKIE,
                                                             ACTAB_SESSION, ACTAB_USER};
static const char *const table_name[AUTHCACHE_TABLES] = {"tokens", "cookies", "sessions", "users"};

void authcache_stats(struct authcache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!cache) return;
    struct actab_stats st;
    actab_stats(cache, &st);
    for (int i = 0; i < AUTHCACHE_TABLES; i++) {
        enum actab_kind k = table_kind[i];
        out->entries[i] = st.entries[k];
        out->hits[i] = st.hits[k];
        out->misses[i] = st.misses[k];
        out->evictions[i] = st.evictions[k];
    }
    out->email_slots = st.entries[ACTAB_EXT];
    out->bytes = st.bytes;
    out->budget = st.budget;
}

/* One labelled line per table. */
static size_t series(char *buf, size_t cap, const char *name, const uint64_t v[AUTHCACHE_TABLES])
{
    size_t o = 0;
    for (int i = 0; i < AUTHCACHE_TABLES && o < cap; i++) {
        int n = snprintf(buf + o, cap - o, "%s{table=\"%s\"} %llu\n", name, table_name[i],
                         (unsigned long long)v[i]);
        if (n < 0 || (size_t)n >= cap - o) return cap - 1; /* truncated */
        o += (size_t)n;
    }
    return o;
}

size_t authcache_metrics(char *buf, size_t cap)
{
    if (cap == 0) return 0;
    struct authcache_stats st;
    authcache_stats(&st);
    uint64_t entries[AUTHCACHE_TABLES];
    for (int i = 0; i < AUTHCACHE_TABLES; i++)
        entries[i] = st.entries[i];
    static const char *const head[] = {
        "# HELP gatehouse_authcache_entries Entries in the auth cache, by table.\n"
        "# TYPE gatehouse_authcache_entries gauge\n",
        "# HELP gatehouse_authcache_hits_total Lookups that found their entry, by table.\n"
        "# TYPE gatehouse_authcache_hits_total counter\n",
        "# HELP gatehouse_authcache_misses_total Lookups that did not (a token then has its "
        "signature verified, a session or user is read by a worker), by table.\n"
        "# TYPE gatehouse_authcache_misses_total counter\n",
        "# HELP gatehouse_authcache_evictions_total Entries evicted to stay inside the budget, by "
        "table.\n"
        "# TYPE gatehouse_authcache_evictions_total counter\n",
    };
    const uint64_t *vals[] = {entries, st.hits, st.misses, st.evictions};
    const char *names[] = {"gatehouse_authcache_entries", "gatehouse_authcache_hits_total",
                           "gatehouse_authcache_misses_total",
                           "gatehouse_authcache_evictions_total"};
    size_t o = 0;
    for (int i = 0; i < 4 && o + 1 < cap; i++) {
        int n = snprintf(buf + o, cap - o, "%s", head[i]);
        o = n < 0 || (size_t)n >= cap - o ? cap - 1 : o + (size_t)n;
        if (o + 1 < cap) o += series(buf + o, cap - o, names[i], vals[i]);
    }
    if (o + 1 < cap) {
        int n = snprintf(buf + o, cap - o,
                         "# HELP gatehouse_authcache_bytes Memory the auth cache holds (slot "
                         "pages and buckets, all tables).\n"
                         "# TYPE gatehouse_authcache_bytes gauge\n"
                         "gatehouse_authcache_bytes %zu\n"
                         "# HELP gatehouse_authcache_budget_bytes Its ceiling "
                         "(GATEHOUSE_AUTH_CACHE_MB).\n"
                         "# TYPE gatehouse_authcache_budget_bytes gauge\n"
                         "gatehouse_authcache_budget_bytes %zu\n"
                         "# HELP gatehouse_authcache_trusted 1 while hits answer, 0 while the "
                         "change feed cannot vouch for them and every check reads the database.\n"
                         "# TYPE gatehouse_authcache_trusted gauge\n"
                         "gatehouse_authcache_trusted %d\n",
                         st.bytes, st.budget, authcache_trusted() ? 1 : 0);
        o = n < 0 || (size_t)n >= cap - o ? cap - 1 : o + (size_t)n;
    }
    buf[o < cap ? o : cap - 1] = '\0';
    return o;
}
