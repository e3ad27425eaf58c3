/* PostgreSQL backend: emailed links (sign-in, reset, verification, email
 * change), the outgoing mail queue and idempotent requests. The model is
 * sqlite_links.c, sqlite_mail.c and sqlite_idem.c; what SQLite's single
 * writer (and single process) gave for free is made explicit here, since
 * several replicas write at once:
 *  - spending a link is one UPDATE ... WHERE used_at IS NULL RETURNING:
 *    of concurrent spends exactly one gets the row;
 *  - creating a link serialises on the account and purpose (an advisory
 *    lock), so "only the newest works" holds between replicas too;
 *  - mail.due leases what it hands out (next_attempt_at moves a lease
 *    ahead, rows locked by another replica's hand-out are skipped), so two
 *    replicas' senders never get the same message at once;
 *  - an idempotency id is claimed by INSERT ... ON CONFLICT DO UPDATE
 *    WHERE <stale>, which PostgreSQL evaluates on the newest row under its
 *    lock: one claimant, and one taker-over of a stale claim. */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* Account and purpose of a new link: the (int4, int4) advisory key space,
 * apart from the bigint keys of pg_internal.h (PostgreSQL keeps the two
 * apart). A hash collision only makes two accounts wait on each other. */
static const char SQL_MAGIC_LOCK[] =
    "SELECT pg_advisory_xact_lock(26471, hashtext($1::text || '/' || $2::text))";
static const char SQL_MAGIC_SUPERSEDE[] = "UPDATE magic_links SET used_at = $3 WHERE email_key = $1"
                                          " AND purpose = $2 AND used_at IS NULL";
static const char SQL_MAGIC_INSERT[] =
    "INSERT INTO magic_links (token_hash, email_key, email, created_at,"
    " expires_at, purpose, new_email) VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_MAGIC_REVOKE_ALL[] =
    "UPDATE magic_links SET used_at = $2 WHERE email_key = $1"
    " AND used_at IS NULL";
static const char SQL_MAGIC_GET[] = "SELECT email_key, email, expires_at, COALESCE(used_at, 0),"
                                    " purpose, new_email FROM magic_links WHERE token_hash = $1";
static const char SQL_MAGIC_CONSUME[] =
    "UPDATE magic_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
    " AND purpose = $3 RETURNING email_key, email, expires_at, used_at, purpose, new_email";

static const char SQL_MAIL_INSERT[] =
    "INSERT INTO mail_queue (id, to_addr, message_sealed, created_at,"
    " next_attempt_at) VALUES ($1, $2, $3, $4, $4)";
/* Hands out due messages, oldest first, and leases them: next_attempt_at
 * moves to now + $3 in the same statement, so they are no longer due to
 * anyone else; mail.result then sets the real next attempt (or sent_at).
 * A sender that dies holding a lease leaves the message due again when
 * the lease ends. SKIP LOCKED: another replica's hand-out in progress is
 * not waited for, its rows are simply not ours. */
static const char SQL_MAIL_DUE[] =
    "WITH due AS (SELECT id, next_attempt_at AS due_at, created_at FROM mail_queue"
    " WHERE sent_at IS NULL AND next_attempt_at <= $1::bigint"
    " ORDER BY next_attempt_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
    " leased AS (UPDATE mail_queue m SET next_attempt_at = $1::bigint + $3::bigint FROM due"
    " WHERE m.id = due.id RETURNING m.id, m.to_addr, m.message_sealed, m.attempts,"
    " due.due_at, due.created_at)"
    " SELECT id, to_addr, message_sealed, attempts FROM leased ORDER BY due_at, created_at";
static const char SQL_MAIL_SENT[] = "UPDATE mail_queue SET sent_at = $2, attempts = attempts + 1,"
                                    " last_error = '' WHERE id = $1";
static const char SQL_MAIL_FAILED[] = "UPDATE mail_queue SET attempts = attempts + 1,"
                                      " last_error = $2, next_attempt_at = $3 WHERE id = $1";

/* A claim left running by a crash is taken over after STORE_IDEM_STALE_S. */
static const char SQL_IDEM_INSERT[] =
    "INSERT INTO idempotency (id, body_mac, created_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (id) DO UPDATE SET body_mac = excluded.body_mac,"
    " created_at = excluded.created_at"
    " WHERE idempotency.status = 0 AND idempotency.created_at < $4";
static const char SQL_IDEM_GET[] =
    "SELECT body_mac, status, response_sealed FROM idempotency WHERE id = $1";
static const char SQL_IDEM_COMPLETE[] =
    "UPDATE idempotency SET status = $2, response_sealed = $3 WHERE id = $1";
static const char SQL_IDEM_DELETE[] = "DELETE FROM idempotency WHERE id = $1";

/* How long a handed-out message is not due to anyone else: longer than a
 * whole batch of mail_deliver can take (16 messages, each at most 30 s of
 * SMTP: mail/mail.c), so a message still waiting in a slow batch is never
 * handed to a second replica. */
#define PG_MAIL_LEASE_S 600

/* ---- magic links ---- */

struct magic_args {
    const uint8_t *hash;
    const struct store_magic *m;
    int64_t now;
};

/* A new link replaces the account's unused ones of the same purpose: only
 * the newest email works. */
static enum gh_err magic_create_fn(struct store_conn *c, const void *arg)
{
    const struct magic_args *a = arg;
    const char *purpose = a->m->purpose[0] ? a->m->purpose : "signin";
    enum gh_err rc =
        PG_RUN(c, SQL_MAGIC_LOCK, "magic lock", PG_TEXT(a->m->email_key), PG_TEXT(purpose));
    if (rc) return rc;
    rc = PG_RUN(c, SQL_MAGIC_SUPERSEDE, "magic supersede", PG_TEXT(a->m->email_key),
                PG_TEXT(purpose), PG_INT(a->now));
    if (rc) return rc;
    return PG_RUN(c, SQL_MAGIC_INSERT, "magic insert", PG_BYTEA(a->hash, 32),
                  PG_TEXT(a->m->email_key), PG_TEXT(a->m->email), PG_INT(a->now),
                  PG_INT(a->m->expires_at), PG_TEXT(purpose), PG_TEXT(a->m->new_email));
}

enum gh_err pg_magic_create(struct store_conn *c, const uint8_t hash[32],
                            const struct store_magic *m, int64_t now)
{
    struct magic_args a = {hash, m, now};
    return pg_in_tx(c, NULL, magic_create_fn, &a);
}

enum gh_err pg_magic_revoke_all(struct store_conn *c, const char *email_key, int64_t now)
{
    return PG_RUN(c, SQL_MAGIC_REVOKE_ALL, "magic revoke all", PG_TEXT(email_key), PG_INT(now));
}

static void read_magic(const PGresult *r, struct store_magic *out)
{
    pg_text(r, 0, 0, out->email_key, sizeof out->email_key);
    pg_text(r, 0, 1, out->email, sizeof out->email);
    out->expires_at = pg_int(r, 0, 2);
    out->used_at = pg_int(r, 0, 3);
    pg_text(r, 0, 4, out->purpose, sizeof out->purpose);
    pg_text(r, 0, 5, out->new_email, sizeof out->new_email);
}

enum gh_err pg_magic_get(struct store_conn *c, const uint8_t hash[32], struct store_magic *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_MAGIC_GET, "magic get", &r, PG_BYTEA(hash, 32));
    if (rc) return rc;
    if (pg_rows(r) == 1)
        read_magic(r, out);
    else
        rc = GH_ERR_NOT_FOUND;
    PQclear(r);
    return rc;
}

enum gh_err pg_magic_consume(struct store_conn *c, const uint8_t hash[32], const char *purpose,
                             int64_t now, struct store_magic *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_MAGIC_CONSUME, "magic consume", &r, PG_BYTEA(hash, 32),
                              PG_INT(now), PG_TEXT(purpose));
    if (rc) return rc;
    if (pg_rows(r) == 1)
        read_magic(r, out);
    else
        rc = GH_ERR_DENIED; /* unknown, of another purpose or used: one winner */
    PQclear(r);
    return rc;
}

/* ---- the mail queue ---- */

enum gh_err pg_mail_insert(struct store_conn *c, const char *id, const char *to, const char *sealed,
                           int64_t now)
{
    return PG_RUN(c, SQL_MAIL_INSERT, "mail insert", PG_TEXT(id), PG_TEXT(to), PG_TEXT(sealed),
                  PG_INT(now));
}

enum gh_err pg_mail_due(struct store_conn *c, int64_t now, struct store_mail *out, size_t max,
                        size_t *n)
{
    *n = 0;
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_MAIL_DUE, "mail due", &r, PG_INT(now), PG_INT(max),
                              PG_INT(PG_MAIL_LEASE_S));
    if (rc) return rc;
    size_t rows = (size_t)pg_rows(r), i = 0;
    for (; i < rows && i < max; i++) {
        memset(&out[i], 0, sizeof out[i]);
        pg_text(r, (int)i, 0, out[i].id, sizeof out[i].id);
        pg_text(r, (int)i, 1, out[i].to_addr, sizeof out[i].to_addr);
        out[i].attempts = (int)pg_int(r, (int)i, 3);
        if (!(out[i].message_sealed = pg_strdup(r, (int)i, 2))) {
            rc = GH_ERR_NOMEM;
            break;
        }
    }
    PQclear(r);
    if (rc) {
        /* Leased but not handed out: due again when the lease ends. */
        for (size_t j = 0; j < i; j++)
            free(out[j].message_sealed);
        return rc;
    }
    *n = i;
    return GH_OK;
}

enum gh_err pg_mail_result(struct store_conn *c, const char *id, bool sent, const char *error,
                           int64_t next_attempt_at)
{
    if (sent) return PG_RUN(c, SQL_MAIL_SENT, "mail result", PG_TEXT(id), PG_INT(gh_now_s()));
    return PG_RUN(c, SQL_MAIL_FAILED, "mail result", PG_TEXT(id), PG_TEXT(error ? error : ""),
                  PG_INT(next_attempt_at));
}

/* ---- idempotent requests ---- */

/* The row already there. GH_ERR_NOT_FOUND: it went meanwhile (released by
 * a first request that failed, or pruned). */
static enum gh_err idem_read(struct store_conn *c, const char *id, struct store_idem *out)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_IDEM_GET, "idempotency get", &r, PG_TEXT(id));
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if (pg_rows(r) != 1) {
        PQclear(r);
        return GH_ERR_NOT_FOUND;
    }
    size_t len = 0;
    uint8_t mac[32];
    if (pg_bytea(r, 0, 0, mac, sizeof mac, &len) == GH_OK && len == 32)
        memcpy(out->body_mac, mac, 32); /* else all zero: matches no request's mac */
    out->status = (int)pg_int(r, 0, 1);
    rc = GH_ERR_CONFLICT;
    if (!pg_isnull(r, 0, 2) && !(out->response_sealed = pg_strdup(r, 0, 2))) rc = GH_ERR_NOMEM;
    PQclear(r);
    return rc;
}

enum gh_err pg_idem_claim(struct store_conn *c, const char *id, const uint8_t mac[32], int64_t now,
                          struct store_idem *out)
{
    /* A row that vanishes between the claim and the read was released: the
     * id is free again, so claim it again (a few times, then answer 500). */
    for (int tries = 0; tries < 3; tries++) {
        int64_t n = 0;
        enum gh_err rc = PG_COUNT(c, SQL_IDEM_INSERT, "idempotency claim", &n, PG_TEXT(id),
                                  PG_BYTEA(mac, 32), PG_INT(now), PG_INT(now - STORE_IDEM_STALE_S));
        if (rc) return rc;
        if (n == 1) return GH_OK;
        rc = idem_read(c, id, out);
        if (rc != GH_ERR_NOT_FOUND) return rc;
    }
    return GH_ERR_INTERNAL;
}

enum gh_err pg_idem_complete(struct store_conn *c, const char *id, int status, const char *sealed)
{
    return PG_RUN(c, SQL_IDEM_COMPLETE, "idempotency complete", PG_TEXT(id), PG_INT(status),
                  PG_TEXT(sealed));
}

enum gh_err pg_idem_release(struct store_conn *c, const char *id)
{
    return PG_RUN(c, SQL_IDEM_DELETE, "idempotency release", PG_TEXT(id));
}
