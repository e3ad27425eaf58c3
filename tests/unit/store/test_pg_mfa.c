/* Unit tests for src/store/pg_mfa.c, pg_links.c and pg_identities.c,
 * through the store_ops table on a fresh PostgreSQL database: each
 * function's happy path and refusal, the revocation and change event of
 * totp.confirm and totp.delete, audit rows in the same transaction, the
 * mail lease. The races are in test_pg_mfa_races.c.
 *
 * Runs when GATEHOUSE_TEST_PG holds a superuser URL
 * (scripts/pg_cluster.sh start DIR PORT prints one); skipped (exit 77)
 * otherwise. */
#include "testutil.h"

#include "test_pg_mfa.h"

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

/* upkeep.clear_single_use (gatehouse restore): every link, challenge,
 * nonce, idempotency record and unsent mail goes, spent or not, counted;
 * backup codes and sent mail stay. */
static void test_clear_single_use(void **state)
{
    struct store_conn *c = *state;
    char uid[STORE_ID_LEN + 1];
    new_user(c, uid, NULL);
    uint8_t h[32], h2[32], mac[32];
    fill(h, 0xd1);
    fill(h2, 0xd2);
    fill(mac, 0xd3);
    struct store_magic m = magic("clear@example.com", "reset", 900);
    assert_int_equal(ops->links.create(c, h, &m, 100), GH_OK);
    struct store_challenge ch;
    memset(&ch, 0, sizeof ch);
    memcpy(ch.user_id, uid, sizeof ch.user_id);
    ch.expires_at = 1000;
    assert_int_equal(ops->challenges.create(c, h, &ch), GH_OK);
    assert_int_equal(ops->oauth_nonces.create(c, h2, "prov", 1000), GH_OK);
    struct store_idem io;
    assert_int_equal(ops->idem.claim(c, "idem-clear", mac, 1000, &io), GH_OK);
    assert_int_equal(ops->mail.insert(c, "mail-unsent", "u@example.com", "sealed-u", 10), GH_OK);
    assert_int_equal(ops->mail.insert(c, "mail-sent", "s@example.com", "sealed-s", 10), GH_OK);
    assert_int_equal(ops->mail.result(c, "mail-sent", true, NULL, 0), GH_OK);
    q_run("INSERT INTO mfa_backup_codes (user_id, code_hash) VALUES ($1, '\\x01')", uid, NULL);
    int64_t links = q_int("SELECT COUNT(*) FROM magic_links", NULL),
            chals = q_int("SELECT COUNT(*) FROM mfa_challenges", NULL),
            nonces = q_int("SELECT COUNT(*) FROM oauth_nonces", NULL),
            idem = q_int("SELECT COUNT(*) FROM idempotency", NULL),
            unsent = q_int("SELECT COUNT(*) FROM mail_queue WHERE sent_at IS NULL", NULL),
            sent = q_int("SELECT COUNT(*) FROM mail_queue WHERE sent_at IS NOT NULL", NULL),
            codes = q_int("SELECT COUNT(*) FROM mfa_backup_codes", NULL);
    assert_true(links >= 1 && chals >= 1 && nonces >= 1 && idem >= 1 && unsent >= 1 && sent >= 1);
    struct store_single_use_cleared o;
    memset(&o, 0xff, sizeof o);
    assert_int_equal(ops->tx.begin_write(c), GH_OK); /* as restore does: the caller's */
    assert_int_equal(ops->upkeep.clear_single_use(c, &o), GH_OK);
    assert_int_equal(ops->tx.commit(c), GH_OK);
    assert_int_equal(o.links, links);
    assert_int_equal(o.challenges, chals);
    assert_int_equal(o.nonces, nonces);
    assert_int_equal(o.idem, idem);
    assert_int_equal(o.mail, unsent);
    assert_int_equal(q_int("SELECT COUNT(*) FROM magic_links", NULL), 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_challenges", NULL), 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM oauth_nonces", NULL), 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM idempotency", NULL), 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mail_queue WHERE sent_at IS NULL", NULL), 0);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mail_queue", NULL), sent);
    assert_int_equal(q_int("SELECT COUNT(*) FROM mfa_backup_codes", NULL), codes);
    struct store_magic lo;
    assert_int_equal(ops->links.consume(c, h, "reset", 120, &lo), GH_ERR_DENIED);
    /* Its own transaction when none is open; nothing left: zeros. */
    assert_int_equal(ops->upkeep.clear_single_use(c, &o), GH_OK);
    assert_int_equal(o.links + o.challenges + o.nonces + o.idem + o.mail, 0);
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

int main(void)
{
    pg_testdb_require("test_pg_mfa");
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
        cmocka_unit_test_setup_teardown(test_clear_single_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
