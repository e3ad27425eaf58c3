/* PostgreSQL backend: second factors (TOTP, backup codes, sign-in
 * challenges). The model is sqlite_mfa.c; where SQLite relied on its
 * single writer, each single-use step here is one conditional statement
 * (the condition in the UPDATE's WHERE, re-checked by PostgreSQL on the
 * newest row version once a concurrent writer commits), so of several
 * replicas spending the same code, step or attempt exactly one wins.
 * Lock order in every transaction: the mfa_totp row, then the codes. */
#include "store/pg_internal.h"

#include <string.h>

static const char SQL_TOTP_GET[] =
    "SELECT secret_sealed, created_at, COALESCE(confirmed_at, 0), last_step"
    " FROM mfa_totp WHERE user_id = $1";
/* Replaces only an unconfirmed enrolment: 0 rows when one is confirmed. */
static const char SQL_TOTP_BEGIN[] =
    "INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed,"
    " created_at = excluded.created_at, last_step = -1"
    " WHERE mfa_totp.confirmed_at IS NULL";
static const char SQL_TOTP_CONFIRM[] = "UPDATE mfa_totp SET confirmed_at = $3, last_step = $2"
                                       " WHERE user_id = $1 AND confirmed_at IS NULL";
/* Locks the confirmed factor for the rest of the transaction: a concurrent
 * totp.delete waits, then finds nothing (or runs first, and this finds
 * nothing). */
static const char SQL_TOTP_CONFIRMED[] =
    "SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL FOR UPDATE";
static const char SQL_TOTP_USE[] = "UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1"
                                   " AND last_step < $2 AND confirmed_at IS NOT NULL";
static const char SQL_TOTP_DELETE[] = "DELETE FROM mfa_totp WHERE user_id = $1";
static const char SQL_BACKUP_CLEAR[] = "DELETE FROM mfa_backup_codes WHERE user_id = $1";
/* All STORE_BACKUP_CODES (10) in one round trip. */
static const char SQL_BACKUP_INSERT[] =
    "INSERT INTO mfa_backup_codes (user_id, code_hash) VALUES ($1, $2), ($1, $3), ($1, $4),"
    " ($1, $5), ($1, $6), ($1, $7), ($1, $8), ($1, $9), ($1, $10), ($1, $11)";
static const char SQL_BACKUP_USE[] = "UPDATE mfa_backup_codes SET used_at = $3 WHERE user_id = $1"
                                     " AND code_hash = $2 AND used_at IS NULL";
static const char SQL_CH_INSERT[] =
    "INSERT INTO mfa_challenges (token_hash, user_id, tokens_invalidated_at,"
    " expires_at, first_factor) VALUES ($1, $2, $3, $4, $5)";
/* Counts the attempt and returns the row in one statement: the limit is in
 * the WHERE, so concurrent attempts never take the count past max. */
static const char SQL_CH_ATTEMPT[] =
    "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = $1"
    " AND used_at IS NULL AND expires_at > $3 AND attempts < $2"
    " RETURNING user_id, tokens_invalidated_at, expires_at, attempts,"
    " COALESCE(used_at, 0), first_factor";
static const char SQL_CH_CONSUME[] = "UPDATE mfa_challenges SET used_at = $2 WHERE token_hash = $1"
                                     " AND used_at IS NULL";

_Static_assert(STORE_BACKUP_CODES == 10, "SQL_BACKUP_INSERT binds ten codes");

/* ---- second factors ---- */

enum gh_err pg_totp_get(struct store_conn *c, const char *uid, struct store_totp *o)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_TOTP_GET, "totp get", &r, PG_TEXT(uid));
    if (rc) return rc;
    if (pg_rows(r) == 1) {
        pg_text(r, 0, 0, o->secret_sealed, sizeof o->secret_sealed);
        o->created_at = pg_int(r, 0, 1);
        o->confirmed_at = pg_int(r, 0, 2);
        o->last_step = pg_int(r, 0, 3);
    } else {
        rc = GH_ERR_NOT_FOUND;
    }
    PQclear(r);
    return rc;
}

enum gh_err pg_totp_begin(struct store_conn *c, const char *uid, const char *sealed, int64_t now)
{
    int64_t n = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_TOTP_BEGIN, "totp begin", &n, PG_TEXT(uid), PG_TEXT(sealed), PG_INT(now));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err insert_backup_codes(struct store_conn *c, const char *uid,
                                       const uint8_t hashes[STORE_BACKUP_CODES][32])
{
    enum gh_err rc = PG_RUN(c, SQL_BACKUP_CLEAR, "backup clear", PG_TEXT(uid));
    if (rc) return rc;
    return PG_RUN(c, SQL_BACKUP_INSERT, "backup insert", PG_TEXT(uid), PG_BYTEA(hashes[0], 32),
                  PG_BYTEA(hashes[1], 32), PG_BYTEA(hashes[2], 32), PG_BYTEA(hashes[3], 32),
                  PG_BYTEA(hashes[4], 32), PG_BYTEA(hashes[5], 32), PG_BYTEA(hashes[6], 32),
                  PG_BYTEA(hashes[7], 32), PG_BYTEA(hashes[8], 32), PG_BYTEA(hashes[9], 32));
}

struct totp_confirm_args {
    const char *uid;
    int64_t step;
    const uint8_t (*hashes)[32];
    const char *keep_sid;
    int64_t now;
};

static enum gh_err totp_confirm_fn(struct store_conn *c, const void *arg)
{
    const struct totp_confirm_args *a = arg;
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_TOTP_CONFIRM, "totp confirm", &n, PG_TEXT(a->uid),
                              PG_INT(a->step), PG_INT(a->now));
    if (rc) return rc;
    if (n != 1) return GH_ERR_CONFLICT; /* none pending, or a concurrent confirm won */
    if ((rc = insert_backup_codes(c, a->uid, a->hashes))) return rc;
    /* A new factor ends the sessions that never had to pass it. */
    return pg_revoke_others(c, a->uid, a->keep_sid, a->now);
}

/* Its own write transaction, or the caller's when one is open (confirming
 * from a restricted session also releases that session in the same one). */
enum gh_err pg_totp_confirm(struct store_conn *c, const char *uid, int64_t step,
                            const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid,
                            int64_t now, const struct store_audit *ev)
{
    struct totp_confirm_args a = {uid, step, hashes, keep_sid, now};
    return pg_in_tx(c, ev, totp_confirm_fn, &a);
}

struct backup_replace_args {
    const char *uid;
    const uint8_t (*hashes)[32];
};

static enum gh_err backup_replace_fn(struct store_conn *c, const void *arg)
{
    const struct backup_replace_args *a = arg;
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_TOTP_CONFIRMED, "totp confirmed", &r, PG_TEXT(a->uid));
    if (rc) return rc;
    bool confirmed = pg_rows(r) == 1;
    PQclear(r);
    if (!confirmed) return GH_ERR_NOT_FOUND;
    return insert_backup_codes(c, a->uid, a->hashes);
}

enum gh_err pg_backup_replace(struct store_conn *c, const char *uid,
                              const uint8_t hashes[STORE_BACKUP_CODES][32],
                              const struct store_audit *ev)
{
    struct backup_replace_args a = {uid, hashes};
    return pg_in_tx(c, ev, backup_replace_fn, &a);
}

enum gh_err pg_totp_use_step(struct store_conn *c, const char *uid, int64_t step)
{
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_TOTP_USE, "totp use", &n, PG_TEXT(uid), PG_INT(step));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_CONFLICT;
}

static enum gh_err totp_delete_fn(struct store_conn *c, const void *arg)
{
    const struct pg_revoke_args *a = arg;
    int64_t n = 0;
    /* The factor's row first (the lock order of confirm and replace). */
    enum gh_err rc = PG_COUNT(c, SQL_TOTP_DELETE, "totp delete", &n, PG_TEXT(a->uid));
    if (rc) return rc;
    if (n != 1) return GH_ERR_NOT_FOUND;
    if ((rc = PG_RUN(c, SQL_BACKUP_CLEAR, "backup clear", PG_TEXT(a->uid)))) return rc;
    return pg_revoke_others(c, a->uid, a->id, a->now);
}

enum gh_err pg_totp_delete(struct store_conn *c, const char *uid, const char *keep_sid, int64_t now,
                           const struct store_audit *ev)
{
    struct pg_revoke_args a = {keep_sid, uid, now};
    return pg_in_tx(c, ev, totp_delete_fn, &a);
}

enum gh_err pg_backup_use(struct store_conn *c, const char *uid, const uint8_t hash[32],
                          int64_t now)
{
    int64_t n = 0;
    enum gh_err rc = PG_COUNT(c, SQL_BACKUP_USE, "backup use", &n, PG_TEXT(uid), PG_BYTEA(hash, 32),
                              PG_INT(now));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_DENIED;
}

/* ---- sign-in challenges ---- */

enum gh_err pg_challenge_create(struct store_conn *c, const uint8_t hash[32],
                                const struct store_challenge *ch)
{
    return PG_RUN(c, SQL_CH_INSERT, "challenge insert", PG_BYTEA(hash, 32), PG_TEXT(ch->user_id),
                  PG_INT(ch->tokens_invalidated_at), PG_INT(ch->expires_at),
                  PG_TEXT(ch->first_factor[0] ? ch->first_factor : "password"));
}

enum gh_err pg_challenge_attempt(struct store_conn *c, const uint8_t hash[32], int max, int64_t now,
                                 struct store_challenge *o)
{
    PGresult *r = NULL;
    enum gh_err rc = PG_QUERY(c, SQL_CH_ATTEMPT, "challenge attempt", &r, PG_BYTEA(hash, 32),
                              PG_INT(max), PG_INT(now));
    if (rc) return rc;
    if (pg_rows(r) == 1) {
        pg_text(r, 0, 0, o->user_id, sizeof o->user_id);
        o->tokens_invalidated_at = pg_int(r, 0, 1);
        o->expires_at = pg_int(r, 0, 2);
        o->attempts = (int)pg_int(r, 0, 3);
        o->used_at = pg_int(r, 0, 4);
        pg_text(r, 0, 5, o->first_factor, sizeof o->first_factor);
    } else {
        rc = GH_ERR_DENIED; /* unknown, used, expired or out of attempts */
    }
    PQclear(r);
    return rc;
}

enum gh_err pg_challenge_consume(struct store_conn *c, const uint8_t hash[32], int64_t now)
{
    int64_t n = 0;
    enum gh_err rc =
        PG_COUNT(c, SQL_CH_CONSUME, "challenge consume", &n, PG_BYTEA(hash, 32), PG_INT(now));
    if (rc) return rc;
    return n == 1 ? GH_OK : GH_ERR_DENIED;
}
