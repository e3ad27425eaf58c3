/* Unit tests for src/store/pg_mfa.c, pg_links.c and pg_identities.c,
 * through the store_ops table on a fresh PostgreSQL database (made and
 * migrated here, dropped at the end): each function's happy path and
 * refusal, and races of 8 threads on one pooled backend (as several
 * replicas would race): one link, backup code, nonce, TOTP step or
 * idempotency id is spent or claimed exactly once, a challenge never
 * counts past its limit, and mail is handed out once.
 *
 * Runs when GATEHOUSE_TEST_PG holds a superuser URL
 * (scripts/pg_cluster.sh start DIR PORT prints one); skipped (exit 77)
 * otherwise. */
#include "testutil.h"

#include <pthread.h>

#include <libpq-fe.h>

#include "core/util.h"
#include "store/pg.h"
#include "store/store.h"

static const struct store_ops *ops = &store_pg;
static char admin_url[1024], db_url[1200], db_name[64];
static PGconn *db; /* the test's own look at the rows */
static int uid_seq;

#define THREADS 8

/* ---- the database ---- */

/* The superuser URL with its database name replaced by name. */
static int url_with_db(const char *url, const char *name, char *out, size_t cap)
{
    const char *host = strstr(url, "://");
    if (!host) return -1;
    const char *slash = strchr(host + 3, '/');
    const char *query = strchr(host + 3, '?');
    size_t head = slash && (!query || slash < query) ? (size_t)(slash - url)
                  : query                            ? (size_t)(query - url)
                                                     : strlen(url);
    int n = snprintf(out, cap, "%.*s/%s%s", (int)head, url, name, query ? query : "");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int admin_exec(const char *sql)
{
    PGconn *a = PQconnectdb(admin_url);
    int ok = PQstatus(a) == CONNECTION_OK;
    PGresult *r = ok ? PQexec(a, sql) : NULL;
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "test_pg_mfa: %s: %s\n", sql, PQerrorMessage(a));
    PQclear(r);
    PQfinish(a);
    return ok ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    snprintf(admin_url, sizeof admin_url, "%s", getenv("GATEHOUSE_TEST_PG"));
    snprintf(db_name, sizeof db_name, "gh_unit_pg_mfa_%d", (int)getpid());
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db_name);
    if (admin_exec(sql)) return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    if (admin_exec(sql)) return -1;
    if (url_with_db(admin_url, db_name, db_url, sizeof db_url)) return -1;
    if (store_pg_use(db_url, THREADS + 2) != GH_OK) return -1;
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return -1;
    enum gh_err rc = ops->migrate(c);
    ops->close(c);
    if (rc) return -1;
    db = PQconnectdb(db_url);
    return PQstatus(db) == CONNECTION_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(db);
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    return admin_exec(sql);
}

static int setup(void **state)
{
    struct store_conn *c = NULL;
    if (ops->open("", &c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    return 0;
}

/* The one value the query returns, as an integer (-1: no row). */
static int64_t q_int(const char *sql, const char *p1)
{
    const char *params[1] = {p1};
    PGresult *r = PQexecParams(db, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

static void q_run(const char *sql, const char *p1, const char *p2)
{
    const char *params[2] = {p1, p2};
    PGresult *r = PQexecParams(db, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

/* A new account (import.user: this group's own insert), id into uid. */
static void new_user(struct store_conn *c, char uid[STORE_ID_LEN + 1], const char *totp_sealed)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    int n = ++uid_seq;
    snprintf(u.id, sizeof u.id, "00000000-0000-4000-8000-%012d", n);
    snprintf(u.email, sizeof u.email, "u%d@example.com", n);
    snprintf(u.email_key, sizeof u.email_key, "u%d@example.com", n);
    snprintf(u.password_hash, sizeof u.password_hash, "!");
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = gh_now_s();
    assert_int_equal(ops->import.user(c, &u, "", totp_sealed, NULL), GH_OK);
    memcpy(uid, u.id, STORE_ID_LEN + 1);
}

static void add_session(const char *uid, const char *sid)
{
    q_run("INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)"
          " VALUES ($1, $2, 1, 1, 9999999999)",
          sid, uid);
}

static void fill(uint8_t h[32], uint8_t tag)
{
    memset(h, tag, 32);
}

/* ---- TOTP and backup codes ---- */

static void test_totp(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    struct store_totp t;
    assert_int_equal(ops->totp.get(c, uid, &t), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->totp.begin(c, uid, "sealed-1", 100), GH_OK);
    assert_int_equal(ops->totp.begin(c, uid, "sealed-2", 101), GH_OK); /* restart */
    assert_int_equal(ops->totp.get(c, uid, &t), GH_OK);
    assert_string_equal(t.secret_sealed, "sealed-2");
    assert_int_equal(t.created_at, 101);
    assert_int_equal(t.confirmed_at, 0);
    assert_int_equal(t.last_step, -1);
    assert_int_equal(ops->totp.use_step(c, uid, 5), GH_ERR_CONFLICT); /* not confirmed */

    const char *keep = "10000000-0000-4000-8000-000000000001";
    const char *other = "10000000-0000-4000-8000-000000000002";
    add_session(uid, keep);
    add_session(uid, other);
    uint8_t codes[STORE_BACKUP_CODES][32];
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        fill(codes[i], (uint8_t)(i + 1));
    int64_t events = q_int("SELECT COUNT(*) FROM change_events", NULL);
    assert_int_equal(ops->totp.confirm(c, uid, 7, codes, keep, 200, NULL), GH_OK);
    assert_int_equal(ops->totp.confirm(c, uid, 8, codes, keep, 201, NULL), GH_ERR_CONFLICT);
    assert_int_equal(ops->totp.begin(c, uid, "sealed-3", 202), GH_ERR_CONFLICT);
    assert_int_equal(ops->totp.get(c, uid, &t), GH_OK);
    assert_int_equal(t.confirmed_at, 200);
    assert_int_equal(t.last_step, 7);
    assert_string_equal(t.secret_sealed, "sealed-2");
    /* The other session is revoked, the kept one is not, with its event. */
    assert_int_equal(q_int("SELECT revoked_at FROM sessions WHERE id = $1", other), 200);
    assert_int_equal(
        q_int("SELECT COUNT(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL", keep), 1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM change_events", NULL), events + 1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM change_events WHERE kind ="
                           " 'user_sessions_revoked' AND user_id = $1",
                           uid),
                     1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = $1", uid), 10);

    assert_int_equal(ops->totp.use_step(c, uid, 7), GH_ERR_CONFLICT); /* the confirming code */
    assert_int_equal(ops->totp.use_step(c, uid, 9), GH_OK);
    assert_int_equal(ops->totp.use_step(c, uid, 9), GH_ERR_CONFLICT);
    assert_int_equal(ops->totp.use_step(c, uid, 8), GH_ERR_CONFLICT);

    /* Delete: the factor, its codes, and every session but the kept one. */
    q_run("UPDATE sessions SET revoked_at = NULL WHERE id = $1 AND user_id = $2", other, uid);
    assert_int_equal(ops->totp.delete(c, uid, keep, 300, NULL), GH_OK);
    assert_int_equal(ops->totp.get(c, uid, &t), GH_ERR_NOT_FOUND);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = $1", uid), 0);
    assert_int_equal(q_int("SELECT revoked_at FROM sessions WHERE id = $1", other), 300);
    assert_int_equal(
        q_int("SELECT COUNT(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL", keep), 1);
    assert_int_equal(ops->totp.delete(c, uid, keep, 301, NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(q_int("SELECT COUNT(*) FROM change_events WHERE kind ="
                           " 'user_sessions_revoked' AND user_id = $1",
                           uid),
                     2);
}

/* A refused step changes nothing, its audit row included. */
static void test_totp_audit_same_tx(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    uint8_t codes[STORE_BACKUP_CODES][32];
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        fill(codes[i], (uint8_t)(0x40 + i));
    struct store_audit ev = {.actor = uid, .action = "mfa.enabled", .target = uid};
    int64_t rows = q_int("SELECT COUNT(*) FROM audit_log", NULL);
    assert_int_equal(ops->totp.confirm(c, uid, 1, codes, NULL, 10, &ev), GH_ERR_CONFLICT);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log", NULL), rows);
    assert_int_equal(ops->totp.begin(c, uid, "s", 10), GH_OK);
    assert_int_equal(ops->totp.confirm(c, uid, 1, codes, NULL, 10, &ev), GH_OK);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log WHERE action = 'mfa.enabled'"
                           " AND target = $1",
                           uid),
                     1);
    ev.action = "mfa.disabled";
    assert_int_equal(ops->totp.delete(c, uid, NULL, 20, &ev), GH_OK);
    assert_int_equal(ops->totp.delete(c, uid, NULL, 21, &ev), GH_ERR_NOT_FOUND);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log WHERE action = 'mfa.disabled'"
                           " AND target = $1",
                           uid),
                     1);
}

static void test_backup_codes(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    uint8_t codes[STORE_BACKUP_CODES][32], fresh[STORE_BACKUP_CODES][32], h[32];
    for (int i = 0; i < STORE_BACKUP_CODES; i++) {
        fill(codes[i], (uint8_t)(0x10 + i));
        fill(fresh[i], (uint8_t)(0x80 + i));
    }
    assert_int_equal(ops->backup_codes.replace(c, uid, codes, NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->totp.begin(c, uid, "s", 1), GH_OK);
    assert_int_equal(ops->backup_codes.replace(c, uid, codes, NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->totp.confirm(c, uid, 1, codes, NULL, 2, NULL), GH_OK);
    fill(h, 0x7f);
    assert_int_equal(ops->backup_codes.use(c, uid, h, 3), GH_ERR_DENIED);
    assert_int_equal(ops->backup_codes.use(c, uid, codes[3], 3), GH_OK);
    assert_int_equal(ops->backup_codes.use(c, uid, codes[3], 4), GH_ERR_DENIED);
    assert_int_equal(ops->backup_codes.use(c, "nobody", codes[4], 4), GH_ERR_DENIED);
    assert_int_equal(ops->backup_codes.replace(c, uid, fresh, NULL), GH_OK);
    assert_int_equal(ops->backup_codes.use(c, uid, codes[4], 5), GH_ERR_DENIED);
    assert_int_equal(ops->backup_codes.use(c, uid, fresh[4], 5), GH_OK);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = $1", uid), 10);
}

static void test_challenges(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    struct store_challenge ch, o;
    memset(&ch, 0, sizeof ch);
    memcpy(ch.user_id, uid, sizeof ch.user_id);
    ch.tokens_invalidated_at = 42;
    ch.expires_at = 1000;
    uint8_t h[32], h2[32];
    fill(h, 0xc1);
    fill(h2, 0xc2);
    assert_int_equal(ops->challenges.create(c, h, &ch), GH_OK);
    snprintf(ch.first_factor, sizeof ch.first_factor, "magic_link");
    assert_int_equal(ops->challenges.create(c, h2, &ch), GH_OK);
    for (int i = 1; i <= 3; i++) {
        memset(&o, 0, sizeof o);
        assert_int_equal(ops->challenges.attempt(c, h, 3, 500, &o), GH_OK);
        assert_int_equal(o.attempts, i);
        assert_string_equal(o.user_id, uid);
        assert_int_equal(o.tokens_invalidated_at, 42);
        assert_int_equal(o.expires_at, 1000);
        assert_int_equal(o.used_at, 0);
        assert_string_equal(o.first_factor, "password");
    }
    assert_int_equal(ops->challenges.attempt(c, h, 3, 500, &o), GH_ERR_DENIED);   /* spent */
    assert_int_equal(ops->challenges.attempt(c, h2, 3, 1000, &o), GH_ERR_DENIED); /* expired */
    assert_int_equal(ops->challenges.attempt(c, h2, 3, 999, &o), GH_OK);
    assert_string_equal(o.first_factor, "magic_link");
    assert_int_equal(ops->challenges.consume(c, h2, 999), GH_OK);
    assert_int_equal(ops->challenges.consume(c, h2, 999), GH_ERR_DENIED);
    assert_int_equal(ops->challenges.attempt(c, h2, 3, 999, &o), GH_ERR_DENIED); /* used */
    uint8_t unknown[32];
    fill(unknown, 0xc3);
    assert_int_equal(ops->challenges.attempt(c, unknown, 3, 1, &o), GH_ERR_DENIED);
    assert_int_equal(ops->challenges.consume(c, unknown, 1), GH_ERR_DENIED);
}

/* ---- links, mail, idempotency ---- */

static struct store_magic magic(const char *key, const char *purpose, int64_t expires)
{
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.email_key, sizeof m.email_key, "%s", key);
    snprintf(m.email, sizeof m.email, "%s", key);
    snprintf(m.purpose, sizeof m.purpose, "%s", purpose);
    m.expires_at = expires;
    return m;
}

static void test_magic_links(void **state)
{
    struct store_conn *c = *state;
    uint8_t a[32], b[32], d[32], e[32];
    fill(a, 0xa1);
    fill(b, 0xa2);
    fill(d, 0xa3);
    fill(e, 0xa4);
    struct store_magic m = magic("m@example.com", "signin", 900), o;
    assert_int_equal(ops->links.get(c, a, &o), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->links.create(c, a, &m, 100), GH_OK);
    struct store_magic ch = magic("m@example.com", "email_change", 900);
    snprintf(ch.new_email, sizeof ch.new_email, "new@example.com");
    assert_int_equal(ops->links.create(c, d, &ch, 100), GH_OK);
    assert_int_equal(ops->links.get(c, a, &o), GH_OK);
    assert_string_equal(o.purpose, "signin");
    assert_int_equal(o.used_at, 0);
    assert_int_equal(o.expires_at, 900);
    /* Only the newest link of a purpose works; other purposes stay. */
    assert_int_equal(ops->links.create(c, b, &m, 110), GH_OK);
    assert_int_equal(ops->links.get(c, a, &o), GH_OK);
    assert_int_equal(o.used_at, 110);
    assert_int_equal(ops->links.consume(c, a, "signin", 120, &o), GH_ERR_DENIED);
    assert_int_equal(ops->links.consume(c, b, "reset", 120, &o), GH_ERR_DENIED);
    memset(&o, 0, sizeof o);
    assert_int_equal(ops->links.consume(c, b, "signin", 120, &o), GH_OK);
    assert_string_equal(o.email_key, "m@example.com");
    assert_string_equal(o.purpose, "signin");
    assert_int_equal(o.used_at, 120);
    assert_int_equal(ops->links.consume(c, b, "signin", 121, &o), GH_ERR_DENIED);
    /* An expired link is still spent and returned: the caller tells. */
    struct store_magic old = magic("n@example.com", "reset", 50);
    assert_int_equal(ops->links.create(c, e, &old, 10), GH_OK);
    assert_int_equal(ops->links.consume(c, e, "reset", 60, &o), GH_OK);
    assert_int_equal(o.expires_at, 50);
    /* revoke_all spends every unused link of the account. */
    assert_int_equal(ops->links.revoke_all(c, "m@example.com", 130), GH_OK);
    assert_int_equal(ops->links.get(c, d, &o), GH_OK);
    assert_int_equal(o.used_at, 130);
    assert_string_equal(o.new_email, "new@example.com");
    assert_int_equal(ops->links.consume(c, d, "email_change", 131, &o), GH_ERR_DENIED);
}

static void test_mail(void **state)
{
    struct store_conn *c = *state;
    q_run("DELETE FROM mail_queue", NULL, NULL);
    assert_int_equal(ops->mail.insert(c, "mail-b", "b@example.com", "sealed-b", 20), GH_OK);
    assert_int_equal(ops->mail.insert(c, "mail-a", "a@example.com", "sealed-a", 10), GH_OK);
    assert_int_equal(ops->mail.insert(c, "mail-c", "c@example.com", "sealed-c", 30), GH_OK);
    struct store_mail due[4];
    size_t n = 9;
    assert_int_equal(ops->mail.due(c, 5, due, 4, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ops->mail.due(c, 25, due, 4, &n), GH_OK);
    assert_int_equal(n, 2); /* oldest first */
    assert_string_equal(due[0].id, "mail-a");
    assert_string_equal(due[0].to_addr, "a@example.com");
    assert_string_equal(due[0].message_sealed, "sealed-a");
    assert_int_equal(due[0].attempts, 0);
    assert_string_equal(due[1].id, "mail-b");
    free(due[0].message_sealed);
    free(due[1].message_sealed);
    /* Handed out: not due to anyone else while a sender has them. */
    assert_int_equal(ops->mail.due(c, 30, due, 4, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].id, "mail-c");
    free(due[0].message_sealed);
    assert_int_equal(ops->mail.result(c, "mail-a", true, NULL, 0), GH_OK);
    assert_int_equal(ops->mail.result(c, "mail-b", false, "refused", 40), GH_OK);
    assert_int_equal(ops->mail.due(c, 40, due, 4, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].id, "mail-b");
    assert_int_equal(due[0].attempts, 1);
    free(due[0].message_sealed);
    assert_int_equal(q_int("SELECT attempts FROM mail_queue WHERE id = $1 AND sent_at IS NOT NULL"
                           " AND last_error = ''",
                           "mail-a"),
                     1);
    /* A sender that never reported: due again once its lease ends. */
    assert_int_equal(ops->mail.due(c, 30 + 599, due, 4, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ops->mail.due(c, 30 + 600, due, 4, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].id, "mail-c");
    free(due[0].message_sealed);
}

static void test_idempotency(void **state)
{
    struct store_conn *c = *state;
    uint8_t mac[32], mac2[32];
    fill(mac, 0x11);
    fill(mac2, 0x22);
    struct store_idem o;
    assert_int_equal(ops->idem.claim(c, "idem-1", mac, 1000, &o), GH_OK);
    memset(&o, 0, sizeof o);
    assert_int_equal(ops->idem.claim(c, "idem-1", mac2, 1001, &o), GH_ERR_CONFLICT);
    assert_memory_equal(o.body_mac, mac, 32);
    assert_int_equal(o.status, 0);
    assert_null(o.response_sealed);
    assert_int_equal(ops->idem.complete(c, "idem-1", 201, "sealed-response"), GH_OK);
    assert_int_equal(ops->idem.claim(c, "idem-1", mac, 1002, &o), GH_ERR_CONFLICT);
    assert_int_equal(o.status, 201);
    assert_string_equal(o.response_sealed, "sealed-response");
    free(o.response_sealed);
    /* Completed: never taken over, however old. */
    assert_int_equal(ops->idem.claim(c, "idem-1", mac2, 1000 + STORE_IDEM_STALE_S + 5, &o),
                     GH_ERR_CONFLICT);
    free(o.response_sealed);
    assert_int_equal(ops->idem.release(c, "idem-1"), GH_OK);
    assert_int_equal(ops->idem.claim(c, "idem-1", mac2, 2000, &o), GH_OK);
    /* A running claim is taken over only once stale. */
    assert_int_equal(ops->idem.claim(c, "idem-1", mac, 2000 + STORE_IDEM_STALE_S, &o),
                     GH_ERR_CONFLICT);
    assert_memory_equal(o.body_mac, mac2, 32);
    assert_int_equal(ops->idem.claim(c, "idem-1", mac, 2001 + STORE_IDEM_STALE_S, &o), GH_OK);
    assert_int_equal(ops->idem.claim(c, "idem-1", mac2, 2002 + STORE_IDEM_STALE_S, &o),
                     GH_ERR_CONFLICT);
    assert_memory_equal(o.body_mac, mac, 32);
}

/* ---- identities, nonces, import ---- */

static struct store_identity ident(const char *provider, const char *subject, const char *uid,
                                   int64_t at)
{
    struct store_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.provider, sizeof id.provider, "%s", provider);
    snprintf(id.subject, sizeof id.subject, "%s", subject);
    snprintf(id.user_id, sizeof id.user_id, "%s", uid);
    snprintf(id.email, sizeof id.email, "%s@provider.example", subject);
    id.created_at = id.last_used_at = at;
    return id;
}

static void test_identities(void **state)
{
    struct store_conn *c = *state;
    char u1[STORE_ID_LEN + 1], u2[STORE_ID_LEN + 1];
    new_user(c, u1, NULL);
    new_user(c, u2, NULL);
    struct store_identity g = ident("google", "g-1", u1, 10), a = ident("apple", "a-1", u1, 20);
    struct store_identity clash = ident("google", "g-1", u2, 30), o, list[4];
    assert_int_equal(ops->identities.link(c, &g, NULL), GH_OK);
    assert_int_equal(ops->identities.link(c, &a, NULL), GH_OK);
    assert_int_equal(ops->identities.link(c, &clash, NULL), GH_ERR_CONFLICT);
    /* A clash inside the caller's transaction leaves it usable (and
     * nothing of the clash is written). */
    assert_int_equal(ops->tx.begin_write(c), GH_OK);
    assert_int_equal(ops->identities.link(c, &clash, NULL), GH_ERR_CONFLICT);
    struct store_identity m = ident("microsoft", "m-1", u2, 40);
    assert_int_equal(ops->identities.link(c, &m, NULL), GH_OK);
    assert_int_equal(ops->tx.commit(c), GH_OK);
    assert_int_equal(ops->identities.by_subject(c, "google", "g-1", &o), GH_OK);
    assert_string_equal(o.user_id, u1);
    assert_string_equal(o.email, "g-1@provider.example");
    assert_int_equal(o.created_at, 10);
    assert_int_equal(ops->identities.by_subject(c, "google", "nope", &o), GH_ERR_NOT_FOUND);
    size_t n = 9;
    assert_int_equal(ops->identities.list(c, u1, list, 4, &n), GH_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].provider, "google"); /* oldest first */
    assert_string_equal(list[1].provider, "apple");
    assert_int_equal(ops->identities.list(c, u1, list, 1, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ops->identities.touch(c, "apple", "a-1", 99), GH_OK);
    assert_int_equal(ops->identities.by_subject(c, "apple", "a-1", &o), GH_OK);
    assert_int_equal(o.last_used_at, 99);
    assert_int_equal(ops->identities.touch(c, "apple", "a-2", 99), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->identities.unlink(c, u2, "google", "g-1", NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->identities.unlink(c, u1, "google", "g-1", NULL), GH_OK);
    assert_int_equal(ops->identities.unlink(c, u1, "google", "g-1", NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->identities.list(c, u1, list, 4, &n), GH_OK);
    assert_int_equal(n, 1);
}

static void test_nonces(void **state)
{
    struct store_conn *c = *state;
    uint8_t h[32], h2[32];
    fill(h, 0xe1);
    fill(h2, 0xe2);
    assert_int_equal(ops->oauth_nonces.create(c, h, "apple", 100), GH_OK);
    assert_int_equal(ops->oauth_nonces.create(c, h, "apple", 100), GH_ERR_CONFLICT);
    assert_int_equal(ops->oauth_nonces.create(c, h2, "apple", 100), GH_OK);
    assert_int_equal(ops->oauth_nonces.consume(c, h, "google", 50), GH_ERR_DENIED);
    assert_int_equal(ops->oauth_nonces.consume(c, h, "apple", 50), GH_OK);
    assert_int_equal(ops->oauth_nonces.consume(c, h, "apple", 50), GH_ERR_DENIED);
    assert_int_equal(ops->oauth_nonces.consume(c, h2, "apple", 100), GH_ERR_DENIED); /* expired */
    uint8_t unknown[32];
    fill(unknown, 0xe3);
    assert_int_equal(ops->oauth_nonces.consume(c, unknown, "apple", 1), GH_ERR_DENIED);
}

static void test_import(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, "sealed-totp");
    struct store_totp t;
    assert_int_equal(ops->totp.get(c, uid, &t), GH_OK);
    assert_string_equal(t.secret_sealed, "sealed-totp");
    assert_true(t.confirmed_at > 0);
    assert_int_equal(t.last_step, -1);
    assert_int_equal(
        q_int("SELECT COUNT(*) FROM users WHERE id = $1 AND email_verified_at IS NULL", uid), 1);
    /* The same address under another id: nothing written, factor included. */
    struct store_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "20000000-0000-4000-8000-000000000001");
    snprintf(u.email_key, sizeof u.email_key, "u%d@example.com", uid_seq);
    snprintf(u.email, sizeof u.email, "Ann@example.com");
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$x");
    snprintf(u.role, sizeof u.role, "admin");
    u.created_at = 5;
    u.email_verified_at = 6;
    struct store_audit ev = {.actor = "system", .action = "user.imported", .target = u.id};
    assert_int_equal(ops->import.user(c, &u, "Ann", "sealed-2", &ev), GH_ERR_CONFLICT);
    assert_int_equal(ops->totp.get(c, u.id, &t), GH_ERR_NOT_FOUND);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log WHERE target = $1", u.id), 0);
    snprintf(u.email_key, sizeof u.email_key, "ann@example.com");
    assert_int_equal(ops->import.user(c, &u, "Ann", NULL, &ev), GH_OK);
    assert_int_equal(q_int("SELECT COUNT(*) FROM users WHERE id = $1 AND email_verified_at = 6"
                           " AND created_at = 5 AND updated_at = 5 AND role = 'admin'"
                           " AND password_hash = '$argon2id$x' AND tokens_invalidated_at = 0",
                           u.id),
                     1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM users WHERE id = $1 AND name = 'Ann'", u.id), 1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM audit_log WHERE target = $1", u.id), 1);
    assert_int_equal(ops->totp.get(c, u.id, &t), GH_ERR_NOT_FOUND);
}

/* ---- races: THREADS connections at once, as several replicas ---- */

struct race;
typedef enum gh_err (*race_fn)(struct store_conn *c, int i, struct race *r);

struct race {
    race_fn fn;
    int rounds; /* calls per thread */
    pthread_barrier_t bar;
    uint8_t hash[32];
    const char *uid;
    enum gh_err rc[THREADS][4];
    struct store_idem idem[THREADS];
    int handed[64]; /* mail: how often message i was handed out */
    int mail_errors;
};

struct worker {
    struct race *r;
    int i;
};

static void *race_worker(void *arg)
{
    struct worker *w = arg;
    struct store_conn *c = NULL;
    enum gh_err open_rc = ops->open("", &c);
    pthread_barrier_wait(&w->r->bar);
    for (int k = 0; k < w->r->rounds; k++)
        w->r->rc[w->i][k] = open_rc ? open_rc : w->r->fn(c, w->i, w->r);
    if (!open_rc) ops->close(c);
    return NULL;
}

/* Runs fn on THREADS threads released together; counts the answers. */
static void race_run(struct race *r, int rounds, int *ok, int *refused, enum gh_err refusal)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    r->rounds = rounds;
    assert_int_equal(pthread_barrier_init(&r->bar, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){r, i};
        assert_int_equal(pthread_create(&t[i], NULL, race_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&r->bar);
    *ok = *refused = 0;
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < rounds; k++) {
            if (r->rc[i][k] == GH_OK)
                ++*ok;
            else if (r->rc[i][k] == refusal)
                ++*refused;
        }
}

static enum gh_err race_magic(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    struct store_magic o;
    return ops->links.consume(c, r->hash, "signin", 100, &o);
}

static void test_race_magic_consume(void **state)
{
    struct store_conn *c = *state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_magic;
    fill(r.hash, 0x51);
    struct store_magic m = magic("race@example.com", "signin", 900);
    assert_int_equal(ops->links.create(c, r.hash, &m, 90), GH_OK);
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
}

static enum gh_err race_magic_create(struct store_conn *c, int i, struct race *r)
{
    (void)r;
    uint8_t h[32];
    fill(h, (uint8_t)(0x60 + i));
    struct store_magic m = magic("newest@example.com", "reset", 900);
    return ops->links.create(c, h, &m, 100);
}

/* Links created at once for one account: exactly one stays usable. */
static void test_race_magic_create(void **state)
{
    (void)state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_magic_create;
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, THREADS);
    assert_int_equal(q_int("SELECT COUNT(*) FROM magic_links WHERE email_key = $1"
                           " AND used_at IS NULL",
                           "newest@example.com"),
                     1);
}

static enum gh_err race_backup(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    return ops->backup_codes.use(c, r->uid, r->hash, 100);
}

static void test_race_backup_code(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    uint8_t codes[STORE_BACKUP_CODES][32];
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        fill(codes[i], (uint8_t)(0x90 + i));
    assert_int_equal(ops->totp.begin(c, uid, "s", 1), GH_OK);
    assert_int_equal(ops->totp.confirm(c, uid, 1, codes, NULL, 2, NULL), GH_OK);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_backup;
    r.uid = uid;
    memcpy(r.hash, codes[2], 32);
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
}

static enum gh_err race_step(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    return ops->totp.use_step(c, r->uid, 1000);
}

static enum gh_err race_confirm(struct store_conn *c, int i, struct race *r)
{
    uint8_t codes[STORE_BACKUP_CODES][32];
    for (int k = 0; k < STORE_BACKUP_CODES; k++)
        fill(codes[k], (uint8_t)(16 * i + k));
    return ops->totp.confirm(c, r->uid, 5, codes, NULL, 10, NULL);
}

/* One confirmation of an enrolment, then one use of a step. */
static void test_race_totp(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    assert_int_equal(ops->totp.begin(c, uid, "s", 1), GH_OK);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_confirm;
    r.uid = uid;
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = $1", uid), 10);
    r.fn = race_step;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
    assert_int_equal(q_int("SELECT last_step FROM mfa_totp WHERE user_id = $1", uid), 1000);
}

static enum gh_err race_nonce(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    return ops->oauth_nonces.consume(c, r->hash, "apple", 100);
}

static void test_race_nonce(void **state)
{
    struct store_conn *c = *state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_nonce;
    fill(r.hash, 0x52);
    assert_int_equal(ops->oauth_nonces.create(c, r.hash, "apple", 1000), GH_OK);
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
}

static enum gh_err race_idem(struct store_conn *c, int i, struct race *r)
{
    uint8_t mac[32];
    fill(mac, (uint8_t)(0xa0 + i));
    return ops->idem.claim(c, (const char *)r->hash, mac, 5000, &r->idem[i]);
}

/* One claimant; the others get the winner's row. */
static void check_idem_race(struct race *r, int ok, int refused)
{
    assert_int_equal(ok, 1);
    assert_int_equal(refused, THREADS - 1);
    int winner = -1;
    for (int i = 0; i < THREADS; i++)
        if (r->rc[i][0] == GH_OK) winner = i;
    uint8_t mac[32];
    fill(mac, (uint8_t)(0xa0 + winner));
    for (int i = 0; i < THREADS; i++) {
        if (i == winner) continue;
        assert_memory_equal(r->idem[i].body_mac, mac, 32);
        assert_int_equal(r->idem[i].status, 0);
        assert_null(r->idem[i].response_sealed);
    }
}

static void test_race_idem_claim(void **state)
{
    struct store_conn *c = *state;
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_idem;
    snprintf((char *)r.hash, sizeof r.hash, "race-idem");
    int ok, refused;
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    check_idem_race(&r, ok, refused);
    /* A stale claim (the first request's process died): one taker-over. */
    uint8_t mac[32];
    fill(mac, 0x01);
    snprintf((char *)r.hash, sizeof r.hash, "race-stale");
    struct store_idem o;
    assert_int_equal(ops->idem.claim(c, "race-stale", mac, 5000 - STORE_IDEM_STALE_S - 1, &o),
                     GH_OK);
    memset(r.idem, 0, sizeof r.idem);
    race_run(&r, 1, &ok, &refused, GH_ERR_CONFLICT);
    check_idem_race(&r, ok, refused);
}

static enum gh_err race_attempt(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    struct store_challenge o;
    return ops->challenges.attempt(c, r->hash, 3, 100, &o);
}

static void test_race_challenge_attempts(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_attempt;
    fill(r.hash, 0x53);
    struct store_challenge ch;
    memset(&ch, 0, sizeof ch);
    memcpy(ch.user_id, uid, sizeof ch.user_id);
    ch.expires_at = 1000;
    assert_int_equal(ops->challenges.create(c, r.hash, &ch), GH_OK);
    int ok, refused;
    race_run(&r, 4, &ok, &refused, GH_ERR_DENIED);
    assert_int_equal(ok, 3);
    assert_int_equal(refused, 4 * THREADS - 3);
    assert_int_equal(q_int("SELECT attempts FROM mfa_challenges WHERE user_id = $1", uid), 3);
}

static enum gh_err race_mail(struct store_conn *c, int i, struct race *r)
{
    (void)i;
    struct store_mail due[4];
    size_t n = 0;
    enum gh_err rc = ops->mail.due(c, 1000, due, 4, &n);
    for (size_t k = 0; k < n; k++) {
        int id = atoi(due[k].id + 5);
        if (id >= 0 && id < 64)
            __atomic_add_fetch(&r->handed[id], 1, __ATOMIC_SEQ_CST);
        else
            __atomic_add_fetch(&r->mail_errors, 1, __ATOMIC_SEQ_CST);
        free(due[k].message_sealed);
    }
    return rc;
}

/* Senders of several replicas polling at once: each message once. */
static void test_race_mail_due(void **state)
{
    struct store_conn *c = *state;
    q_run("DELETE FROM mail_queue", NULL, NULL);
    char id[16];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "race-%d", i);
        assert_int_equal(ops->mail.insert(c, id, "r@example.com", "sealed", 900 + i), GH_OK);
    }
    static struct race r;
    memset(&r, 0, sizeof r);
    r.fn = race_mail;
    int ok, refused;
    race_run(&r, 4, &ok, &refused, GH_ERR_CONFLICT);
    assert_int_equal(ok, 4 * THREADS);
    assert_int_equal(r.mail_errors, 0);
    /* What no round got (every one may have skipped rows another held). */
    struct store_mail due[40];
    size_t n = 0;
    assert_int_equal(ops->mail.due(c, 1000, due, 40, &n), GH_OK);
    for (size_t k = 0; k < n; k++) {
        r.handed[atoi(due[k].id + 5)]++;
        free(due[k].message_sealed);
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(r.handed[i], 1);
}

#define RACE_TESTS                                                                                 \
    cmocka_unit_test_setup_teardown(test_race_magic_consume, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_race_magic_create, setup, teardown),                  \
        cmocka_unit_test_setup_teardown(test_race_backup_code, setup, teardown),                   \
        cmocka_unit_test_setup_teardown(test_race_totp, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_race_nonce, setup, teardown),                         \
        cmocka_unit_test_setup_teardown(test_race_idem_claim, setup, teardown),                    \
        cmocka_unit_test_setup_teardown(test_race_challenge_attempts, setup, teardown),            \
        cmocka_unit_test_setup_teardown(test_race_mail_due, setup, teardown)

int main(void)
{
    if (!getenv("GATEHOUSE_TEST_PG") || !*getenv("GATEHOUSE_TEST_PG")) {
        printf("test_pg_mfa: GATEHOUSE_TEST_PG is not set: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totp_audit_same_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_magic_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        RACE_TESTS,
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
