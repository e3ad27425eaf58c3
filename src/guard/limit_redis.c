#include "guard/limit_redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "vault/vault.h"

struct limit_redis_config limit_redis_cfg;

/* Must not use anything from guard/limit.c: its unit test includes that
 * file and links this one. */

/* ---- URL ---- */

/* Percent-decodes in[0..len) into out (cap bytes with the NUL). -1 on a bad
 * escape, a NUL byte or no room. */
static int pct_decode(char *out, size_t cap, const char *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            uint8_t b;
            if (i + 2 >= len || gh_unhex(&b, 1, in + i + 1, 2) != GH_OK) return -1;
            c = b;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

enum gh_err limit_redis_parse_url(const char *url, struct limit_redis_target *out, char **password,
                                  char *err, size_t errlen)
{
    static const char usage[] = "GATEHOUSE_REDIS_URL must be redis://[[user]:password@]host[:port]"
                                "[/db] (percent-encode special characters in the password)";
    memset(out, 0, sizeof *out);
    *password = NULL;
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen,
                 "GATEHOUSE_REDIS_URL: TLS (rediss://) is not supported; reach Redis over a "
                 "private network or a local TLS tunnel (redis://)");
        return GH_ERR_INVALID;
    }
    if (strncmp(url, "redis://", 8) != 0) goto bad;
    const char *p = url + 8, *at = strrchr(p, '@');
    char *pw = NULL;
    if (at) { /* the last '@': an unencoded one in the password still parses */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) {
            snprintf(err, errlen,
                     "GATEHOUSE_REDIS_URL: give the password as redis://:password@host or "
                     "redis://user:password@host");
            return GH_ERR_INVALID;
        }
        if (pct_decode(out->user, sizeof out->user, p, (size_t)(colon - p)) != 0) goto bad;
        size_t plen = (size_t)(at - colon - 1);
        pw = calloc(1, plen + 1); /* zeroed: a failed decode still ends in NUL */
        if (!pw) return GH_ERR_NOMEM;
        if (pct_decode(pw, plen + 1, colon + 1, plen) != 0 || !pw[0]) {
            gh_free_secret_str(pw);
            goto bad;
        }
        p = at + 1;
    }
    /* host: [v6] or up to ':' or '/' */
    const char *h = p, *he;
    if (*p == '[') {
        he = strchr(p, ']');
        if (!he) goto bad_pw;
        h = p + 1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/");
        p = he;
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0 || hl > LIMIT_REDIS_HOST_MAX) goto bad_pw;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c >= 0x7f || c == '@' || c == '[' || c == ']' || c == '?' || c == '#' ||
            c == '%')
            goto bad_pw;
    }
    memcpy(out->host, h, hl);
    out->host[hl] = '\0';
    out->port = 6379;
    int64_t v;
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/");
        char num[8];
        if (n == 0 || n >= sizeof num) goto bad_pw;
        memcpy(num, p + 1, n);
        num[n] = '\0';
        if (gh_parse_i64(num, 1, 65535, &v) != GH_OK) goto bad_pw;
        out->port = (int)v;
        p += 1 + n;
    }
    if (*p == '/' && p[1]) {
        if (gh_parse_i64(p + 1, 0, 2147483647, &v) != GH_OK) goto bad_pw;
        out->db = (int)v;
    } else if (*p && strcmp(p, "/") != 0) {
        goto bad_pw;
    }
    *password = pw;
    return GH_OK;
bad_pw:
    gh_free_secret_str(pw);
bad:
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "%s", usage);
    return GH_ERR_INVALID;
}

/* ---- the script ---- */

/* KEYS[1] the key; ARGV[1] the operation. Lua 5.1 numbers are doubles:
 * microseconds since 1970 (~2^51) are exact, and are written with %.0f
 * because tostring() would shorten them to 14 digits. */
static const char script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local op, k = ARGV[1], KEYS[1]\n"
    "local function put_k(key, v, life) redis.call('SET', key, string.format('%.0f', v), 'PX',\n"
    "  math.max(1, math.ceil(life / 1000))) end\n"
    "local function put(v, life) put_k(k, v, life) end\n"
    "if op == 'batch' then\n"
    "  -- one GET and one SET per distinct key, however many requests share it\n"
    "  local out, ki, ai, cache, dirty = {}, 1, 3, {}, {}\n"
    "  local function tat_of(key)\n"
    "    local v = cache[key]\n"
    "    if v == nil then v = tonumber(redis.call('GET', key)) or false; cache[key] = v end\n"
    "    return v\n"
    "  end\n"
    "  for a = 1, tonumber(ARGV[2]) do\n"
    "    local n = tonumber(ARGV[ai])\n"
    "    ai = ai + 1\n"
    "    local tats, refused, rdelta = {}, 0, 0\n"
    "    for i = 1, n do\n"
    "      local step, period = tonumber(ARGV[ai]), tonumber(ARGV[ai + 1])\n"
    "      ai = ai + 2\n"
    "      if refused == 0 then\n"
    "        local tat = tat_of(KEYS[ki + i - 1]) or now\n"
    "        if tat < now then tat = now end\n"
    "        if tat + step - now > period then refused, rdelta = i, tat - now\n"
    "        else tats[i] = tat + step end\n"
    "      end\n"
    "    end\n"
    "    out[#out + 1] = refused == 0 and 1 or 0\n"
    "    out[#out + 1] = refused\n"
    "    for i = 1, n do\n"
    "      if refused == 0 then\n"
    "        cache[KEYS[ki + i - 1]] = tats[i]\n"
    "        dirty[KEYS[ki + i - 1]] = true\n"
    "        out[#out + 1] = tats[i] - now\n"
    "      else\n"
    "        out[#out + 1] = i == refused and rdelta or 0\n"
    "      end\n"
    "    end\n"
    "    ki = ki + n\n"
    "  end\n"
    "  for key in pairs(dirty) do put_k(key, cache[key], cache[key] - now) end\n"
    "  return out\n"
    "elseif op == 'take' then\n"
    "  local step, period = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "  local tat = tonumber(redis.call('GET', k)) or now\n"
    "  if tat < now then tat = now end\n"
    "  local nxt = tat + step\n"
    "  if nxt - now > period then return {0, tat - now} end\n"
    "  put(nxt, nxt - now)\n"
    "  return {1, nxt - now}\n"
    "elseif op == 'refund' then\n"
    "  local tat = tonumber(redis.call('GET', k))\n"
    "  if not tat then return 0 end\n"
    "  tat = tat - tonumber(ARGV[2])\n"
    "  if tat <= now then redis.call('DEL', k) else put(tat, tat - now) end\n"
    "  return 1\n"
    "elseif op == 'locked' then\n"
    "  local u = tonumber(redis.call('HGET', k, 'until'))\n"
    "  if u and u > now then return u - now end\n"
    "  return 0\n"
    "elseif op == 'fail' then\n"
    "  local threshold, maxd = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "  local f = redis.call('HINCRBY', k, 'failures', 1)\n"
    "  local locked, notify, over = 0, 0, f - threshold\n"
    "  if over >= 0 then\n"
    "    locked = maxd\n"
    "    if over < 30 and 2 ^ over < maxd then locked = 2 ^ over end\n"
    "    redis.call('HSET', k, 'until', string.format('%.0f', now + locked * 1000000))\n"
    "    local n = tonumber(redis.call('HGET', k, 'notified'))\n"
    "    if not n or now - n >= 3600000000 then\n"
    "      redis.call('HSET', k, 'notified', string.format('%.0f', now))\n"
    "      notify = 1\n"
    "    end\n"
    "  end\n"
    "  redis.call('PEXPIRE', k, ARGV[4])\n"
    "  return {f, locked, notify}\n"
    "end\n"
    "return redis.error_reply('gatehouse: unknown operation')\n";

static char script_sha[41];

/* ---- state shared by every thread ---- */

#define BACKOFF_MIN_US 250000LL
#define BACKOFF_MAX_US 5000000LL
#define KEY_PREFIX "gatehouse:limit:"
#define KEY_HASH_BYTES 16

static bool enabled;
static uint8_t hash_key[crypto_generichash_KEYBYTES];
static _Atomic bool down;
static _Atomic int64_t next_try_us; /* while down: the next call at or after this tries */
static _Atomic int64_t backoff_us;
static _Atomic int64_t down_since_us;

/* Each thread's connection; the key's destructor closes it at thread exit. */
static pthread_key_t conn_key;
static _Thread_local redisContext *tl_conn;

static void conn_close(void *p)
{
    if (p) redisFree(p);
}

static void set_conn(redisContext *c)
{
    if (tl_conn && tl_conn != c) redisFree(tl_conn);
    tl_conn = c;
    pthread_setspecific(conn_key, c);
}

bool limit_redis_enabled(void)
{
    return enabled;
}

int limit_redis_up(void)
{
    if (!limit_redis_enabled()) return -1;
    return atomic_load(&down) ? 0 : 1;
}

int64_t limit_redis_retry_after_s(void)
{
    int64_t left = atomic_load(&next_try_us) - gh_mono_us();
    return left <= 0 ? 1 : (left + 999999) / 1000000;
}

static const char *failure_rules(bool closed)
{
    return closed ? "fail closed (503)" : "use this process's own budgets";
}

/* The first failure of an outage logs; later ones only lengthen the wait. */
static void mark_down(const char *why)
{
    int64_t now = gh_mono_us();
    bool was = false;
    if (atomic_compare_exchange_strong(&down, &was, true)) {
        atomic_store(&backoff_us, BACKOFF_MIN_US);
        atomic_store(&next_try_us, now + BACKOFF_MIN_US);
        atomic_store(&down_since_us, now);
        gh_log(GH_LOG_ERROR,
               "redis %s:%d unavailable (%s): sign-in, sign-up, emailed links, second factors "
               "and lockout %s; API and refresh budgets %s; retrying with backoff up to %lld s",
               limit_redis_cfg.target.host, limit_redis_cfg.target.port, why,
               failure_rules(limit_redis_cfg.closed_signin),
               failure_rules(limit_redis_cfg.closed_api), BACKOFF_MAX_US / 1000000);
        return;
    }
    int64_t b = atomic_load(&backoff_us) * 2;
    if (b > BACKOFF_MAX_US) b = BACKOFF_MAX_US;
    atomic_store(&backoff_us, b);
    atomic_store(&next_try_us, now + b);
}

static void mark_up(void)
{
    bool was = true;
    if (atomic_compare_exchange_strong(&down, &was, false))
        gh_log(GH_LOG_INFO, "redis %s:%d reachable again after %.1f s: budgets are shared again",
               limit_redis_cfg.target.host, limit_redis_cfg.target.port,
               (double)(gh_mono_us() - atomic_load(&down_since_us)) / 1e6);
}

/* While down, only the call that moves next_try_us forward goes out. */
static bool may_try(void)
{
    if (!atomic_load(&down)) return true;
    int64_t now = gh_mono_us(), at = atomic_load(&next_try_us);
    if (now < at) return false;
    return atomic_compare_exchange_strong(&next_try_us, &at, now + atomic_load(&backoff_us));
}

static struct timeval timeout_tv(void)
{
    return (struct timeval){.tv_sec = limit_redis_cfg.timeout_ms / 1000,
                            .tv_usec = (limit_redis_cfg.timeout_ms % 1000) * 1000};
}

/* AUTH written to the socket by hand, from a buffer wiped afterwards:
 * hiredis would leave the password in its output buffer when it frees it. */
static enum gh_err send_auth(redisContext *c, const char *user, const char *pw)
{
    size_t ul = strlen(user), pl = strlen(pw), cap = ul + pl + 80;
    char *buf = malloc(cap);
    if (!buf) return GH_ERR_NOMEM;
    int n = ul ? snprintf(buf, cap, "*3\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", ul, user,
                          pl, pw)
               : snprintf(buf, cap, "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n", pl, pw);
    enum gh_err rc = GH_OK;
    for (size_t off = 0; rc == GH_OK && n > 0 && off < (size_t)n;) {
        ssize_t w = write(c->fd, buf + off, (size_t)n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            rc = GH_ERR_INTERNAL;
        else
            off += (size_t)w;
    }
    gh_wipe(buf, cap);
    free(buf);
    return rc;
}

enum dial_rc { DIAL_OK, DIAL_UNREACHABLE, DIAL_REFUSED };

/* A new connection, authenticated and on the right database. why gets the
 * reason on failure (Redis's own words, which never hold our password). */
static enum dial_rc dial(redisContext **out, char *why, size_t whylen)
{
    *out = NULL;
    redisContext *c = redisConnectWithTimeout(limit_redis_cfg.target.host,
                                              limit_redis_cfg.target.port, timeout_tv());
    if (!c || c->err) {
        snprintf(why, whylen, "connect: %s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return DIAL_UNREACHABLE;
    }
    if (redisSetTimeout(c, timeout_tv()) != REDIS_OK) {
        snprintf(why, whylen, "cannot set the timeout");
        redisFree(c);
        return DIAL_UNREACHABLE;
    }
    redisReply *r = NULL;
    enum dial_rc rc = DIAL_OK;
    if (limit_redis_cfg.password) {
        void *v = NULL;
        if (send_auth(c, limit_redis_cfg.target.user, limit_redis_cfg.password) != GH_OK ||
            redisGetReply(c, &v) != REDIS_OK) {
            snprintf(why, whylen, "AUTH: %s", c->err ? c->errstr : "write failed");
            rc = DIAL_UNREACHABLE;
            goto out;
        }
        r = v;
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "AUTH refused: %.*s", (int)r->len, r->str);
            rc = DIAL_REFUSED;
            goto out;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (limit_redis_cfg.target.db) {
        r = redisCommand(c, "SELECT %d", limit_redis_cfg.target.db);
        if (!r) {
            snprintf(why, whylen, "SELECT: %s", c->errstr);
            rc = DIAL_UNREACHABLE;
            goto out;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "SELECT %d refused: %.*s", limit_redis_cfg.target.db, (int)r->len,
                     r->str);
            rc = DIAL_REFUSED;
            goto out;
        }
    }
out:
    if (r) freeReplyObject(r);
    if (rc != DIAL_OK) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return DIAL_OK;
}

static void key_of(unsigned rule, const char *subject, char out[sizeof KEY_PREFIX + 32])
{
    uint8_t h[KEY_HASH_BYTES], r = (uint8_t)rule;
    crypto_generichash_state st;
    crypto_generichash_init(&st, hash_key, sizeof hash_key, sizeof h);
    crypto_generichash_update(&st, &r, 1);
    crypto_generichash_update(&st, (const uint8_t *)subject, strlen(subject));
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(out, KEY_PREFIX, sizeof KEY_PREFIX - 1);
    gh_hex(out + sizeof KEY_PREFIX - 1, h, sizeof h);
}

#define MAX_ARGS 6

/* Sends one command on this thread's connection (EVALSHA falls back to
 * EVAL on NOSCRIPT). A stale connection (Redis restarted, idle close) gets
 * one fresh retry; a timeout, a failed fresh connection or an error reply
 * marks Redis down. NULL: unavailable. */
static redisReply *call(int argc, const char **argv, size_t *argl)
{
    char why[256] = "";
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && !r; attempt++) {
        bool fresh = !tl_conn;
        if (fresh) {
            redisContext *c;
            if (dial(&c, why, sizeof why) != DIAL_OK) break;
            set_conn(c);
        }
        r = redisCommandArgv(tl_conn, argc, argv, argl);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            argv[0] = "EVAL", argl[0] = 4;
            argv[1] = script, argl[1] = sizeof script - 1;
            r = redisCommandArgv(tl_conn, argc, argv, argl);
        }
        if (r) break;
        bool timed_out = tl_conn->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        snprintf(why, sizeof why, "%s", tl_conn->errstr[0] ? tl_conn->errstr : "no reply");
        set_conn(NULL);
        if (fresh || timed_out) break;
    }
    if (r && r->type == REDIS_REPLY_ERROR) { /* OOM, NOPERM, a script error: an outage too */
        snprintf(why, sizeof why, "%.*s", (int)(r->len < 200 ? r->len : 200), r->str);
        freeReplyObject(r);
        r = NULL;
    }
    if (!r) {
        mark_down(why);
        return NULL;
    }
    mark_up();
    return r;
}

/* The script for (rule, subject): op and up to MAX_ARGS integers. */
static redisReply *run(unsigned rule, const char *subject, const char *op, int nargs,
                       const int64_t *args)
{
    if (!enabled || !may_try()) return NULL;
    char key[sizeof KEY_PREFIX + 32], nums[MAX_ARGS][24];
    key_of(rule, subject, key);
    const char *argv[5 + MAX_ARGS];
    size_t argl[5 + MAX_ARGS];
    argv[0] = "EVALSHA", argv[1] = script_sha, argv[2] = "1", argv[3] = key, argv[4] = op;
    int argc = 5;
    for (int i = 0; i < nargs && i < MAX_ARGS; i++) {
        snprintf(nums[i], sizeof nums[i], "%lld", (long long)args[i]);
        argv[argc++] = nums[i];
    }
    for (int i = 0; i < argc; i++)
        argl[i] = strlen(argv[i]);
    return call(argc, argv, argl);
}

static bool int_at(const redisReply *r, size_t i, long long *v)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements <= i || !r->element[i] ||
        r->element[i]->type != REDIS_REPLY_INTEGER)
        return false;
    *v = r->element[i]->integer;
    return true;
}

/* A reply of the wrong shape (a foreign script under our name?) is an
 * outage, not a verdict. */
static enum gh_err bad_reply(redisReply *r)
{
    freeReplyObject(r);
    mark_down("unexpected reply from the script");
    return GH_ERR_INTERNAL;
}

enum gh_err limit_redis_take(unsigned rule, const char *subject, int64_t step_us, int64_t period_us,
                             bool *allowed, int64_t *delta_us)
{
    const int64_t a[] = {step_us, period_us};
    redisReply *r = run(rule, subject, "take", 2, a);
    if (!r) return GH_ERR_INTERNAL;
    long long ok, d;
    if (!int_at(r, 0, &ok) || !int_at(r, 1, &d) || d < 0) return bad_reply(r);
    freeReplyObject(r);
    *allowed = ok == 1;
    *delta_us = d;
    return GH_OK;
}

enum gh_err limit_redis_refund(unsigned rule, const char *subject, int64_t step_us)
{
    const int64_t a[] = {step_us};
    redisReply *r = run(rule, subject, "refund", 1, a);
    if (!r) return GH_ERR_INTERNAL;
    freeReplyObject(r);
    return GH_OK;
}

enum gh_err limit_redis_clear(unsigned rule, const char *subject)
{
    if (!enabled || !may_try()) return GH_ERR_INTERNAL;
    char key[sizeof KEY_PREFIX + 32];
    key_of(rule, subject, key);
    const char *argv[] = {"DEL", key};
    size_t argl[] = {3, strlen(key)};
    redisReply *r = call(2, argv, argl);
    if (!r) return GH_ERR_INTERNAL;
    freeReplyObject(r);
    return GH_OK;
}

enum gh_err limit_redis_locked(unsigned rule, const char *subject, int64_t *left_us)
{
    redisReply *r = run(rule, subject, "locked", 0, NULL);
    *left_us = 0;
    if (!r) return GH_ERR_INTERNAL;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0) return bad_reply(r);
    *left_us = r->integer;
    freeReplyObject(r);
    return GH_OK;
}

enum gh_err limit_redis_failure(unsigned rule, const char *subject, int threshold,
                                int64_t max_delay_s, int64_t memory_us, int *failures,
                                int64_t *locked_s, bool *notify)
{
    const int64_t a[] = {threshold, max_delay_s, (memory_us + 999) / 1000};
    redisReply *r = run(rule, subject, "fail", 3, a);
    *failures = 0, *locked_s = 0, *notify = false;
    if (!r) return GH_ERR_INTERNAL;
    long long f, l, n;
    if (!int_at(r, 0, &f) || !int_at(r, 1, &l) || !int_at(r, 2, &n) || f < 0 || l < 0)
        return bad_reply(r);
    freeReplyObject(r);
    *failures = f > 1000000000 ? 1000000000 : (int)f;
    *locked_s = l;
    *notify = n == 1;
    return GH_OK;
}

enum gh_err limit_redis_take_multi(struct limit_redis_multi *items, int n)
{
    if (n <= 0) return GH_OK;
    if (n > LIMIT_REDIS_BATCH_MAX || !enabled || !may_try()) return GH_ERR_INTERNAL;
    enum { MAXK = LIMIT_REDIS_BATCH_MAX * LIMIT_REDIS_MULTI_MAX };
    /* EVALSHA sha nkeys key... batch nasks (n (step period)...)... */
    char keys[MAXK][sizeof KEY_PREFIX + 32], nums[2 * MAXK][24],
        counts[LIMIT_REDIS_BATCH_MAX + 2][12];
    const char *argv[5 + LIMIT_REDIS_BATCH_MAX + 3 * MAXK];
    size_t argl[5 + LIMIT_REDIS_BATCH_MAX + 3 * MAXK];
    int nk = 0, c = 3;
    for (int i = 0; i < n; i++) {
        if (items[i].n < 1 || items[i].n > LIMIT_REDIS_MULTI_MAX) return GH_ERR_INTERNAL;
        for (int k = 0; k < items[i].n; k++) {
            key_of(items[i].rules[k], items[i].subjects[k], keys[nk]);
            argv[c++] = keys[nk++];
        }
    }
    snprintf(counts[0], sizeof counts[0], "%d", nk);
    snprintf(counts[1], sizeof counts[1], "%d", n);
    argv[0] = "EVALSHA", argv[1] = script_sha, argv[2] = counts[0];
    argv[c++] = "batch", argv[c++] = counts[1];
    int nn = 0;
    for (int i = 0; i < n; i++) {
        snprintf(counts[i + 2], sizeof counts[0], "%d", items[i].n);
        argv[c++] = counts[i + 2];
        for (int k = 0; k < items[i].n; k++) {
            snprintf(nums[nn], sizeof nums[0], "%lld", (long long)items[i].step_us[k]);
            argv[c++] = nums[nn++];
            snprintf(nums[nn], sizeof nums[0], "%lld", (long long)items[i].period_us[k]);
            argv[c++] = nums[nn++];
        }
    }
    for (int k = 0; k < c; k++)
        argl[k] = strlen(argv[k]);
    redisReply *r = call(c, argv, argl);
    if (!r) return GH_ERR_INTERNAL;
    /* per request: ok, refused (1-based, 0 if none), one delta per rule */
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        struct limit_redis_multi *it = &items[i];
        long long ok, f, d;
        if (!int_at(r, at, &ok) || !int_at(r, at + 1, &f) || (ok != 0 && ok != 1) || f < 0 ||
            f > it->n || (ok == 1) != (f == 0))
            return bad_reply(r);
        for (int k = 0; k < it->n; k++) {
            if (!int_at(r, at + 2 + (size_t)k, &d) || d < 0) return bad_reply(r);
            it->delta_us[k] = d;
        }
        it->allowed = ok == 1;
        it->refused = (int)f - 1;
        at += 2 + (size_t)it->n;
    }
    if (r->elements != at) return bad_reply(r);
    freeReplyObject(r);
    return GH_OK;
}

/* ---- start and stop ---- */

static enum gh_err sha1_hex(const char *s, size_t len, char out[41])
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    if (EVP_Digest(s, len, d, &dl, EVP_sha1(), NULL) != 1 || dl != 20) return GH_ERR_INTERNAL;
    gh_hex(out, d, 20);
    return GH_OK;
}

enum gh_err limit_redis_init(void)
{
    if (!limit_redis_cfg.target.host[0]) return GH_OK;
    if (pthread_key_create(&conn_key, conn_close) != 0) return GH_ERR_NOMEM;
    /* Every replica derives the same key from the master key, so they all
     * name a subject's bucket alike. */
    if (vault_derive("gatehouse rate limit keys v1", hash_key) != GH_OK ||
        sha1_hex(script, sizeof script - 1, script_sha) != GH_OK) {
        pthread_key_delete(conn_key);
        return GH_ERR_INTERNAL;
    }
    enabled = true;
    atomic_store(&down, false);
    /* One probe: reachable, authenticated, on its database, running scripts. */
    char why[256] = "";
    redisContext *c;
    enum dial_rc d = dial(&c, why, sizeof why);
    if (d == DIAL_REFUSED) {
        gh_log(GH_LOG_CRIT, "redis %s:%d: %s; fix GATEHOUSE_REDIS_URL / GATEHOUSE_REDIS_PASSWORD",
               limit_redis_cfg.target.host, limit_redis_cfg.target.port, why);
        limit_redis_shutdown();
        return GH_ERR_CONFIG;
    }
    if (d == DIAL_OK) {
        set_conn(c);
        redisReply *r = NULL;
        const char *argv[] = {"EVAL", script, "1", KEY_PREFIX "probe", "locked"};
        size_t argl[] = {4, sizeof script - 1, 1, sizeof KEY_PREFIX + 4, 6};
        r = redisCommandArgv(tl_conn, 5, argv, argl);
        if (r && r->type == REDIS_REPLY_ERROR) {
            gh_log(GH_LOG_CRIT,
                   "redis %s:%d refused gatehouse's script (%.*s): check the password "
                   "(GATEHOUSE_REDIS_URL / GATEHOUSE_REDIS_PASSWORD), that the ACL allows EVAL, "
                   "EVALSHA and DEL, and that Redis is 5 or newer",
                   limit_redis_cfg.target.host, limit_redis_cfg.target.port,
                   (int)(r->len < 200 ? r->len : 200), r->str);
            freeReplyObject(r);
            limit_redis_shutdown();
            return GH_ERR_CONFIG;
        }
        if (r) {
            freeReplyObject(r);
            gh_log(GH_LOG_INFO, "rate limits shared through redis %s:%d db %d",
                   limit_redis_cfg.target.host, limit_redis_cfg.target.port,
                   limit_redis_cfg.target.db);
            return GH_OK;
        }
        snprintf(why, sizeof why, "%s", tl_conn->errstr);
        set_conn(NULL);
    }
    if (gh_cfg.production) {
        gh_log(GH_LOG_CRIT,
               "redis %s:%d unreachable at start (%s): not serving without the shared rate "
               "limits (production); start Redis first",
               limit_redis_cfg.target.host, limit_redis_cfg.target.port, why);
        limit_redis_shutdown();
        return GH_ERR_CONFIG;
    }
    mark_down(why);
    return GH_OK;
}

void limit_redis_shutdown(void)
{
    if (!enabled) return;
    set_conn(NULL);
    pthread_key_delete(conn_key);
    sodium_memzero(hash_key, sizeof hash_key);
    enabled = false;
}
