/* Internal to the PostgreSQL backend (src/store/pg*.c): the connection a
 * worker holds, the statement helpers every capability file uses and the
 * functions each capability file contributes to the table in pg.c.
 * Nothing outside src/store/pg*.c includes it.
 *
 * A struct store_conn here is a thread's handle, not a database
 * connection: it borrows one libpq connection (struct pg_link) from the
 * process's bounded pool (pg_pool.c, GATEHOUSE_DATABASE_POOL) for one
 * statement, or from begin to commit/rollback of a transaction, and gives
 * it back. So a replica never holds more connections than its pool size,
 * however many worker threads it runs.
 *
 * Statements: every statement is a static string whose address names it.
 * Each pooled connection prepares a statement (PQprepare, parameters $1..$n)
 * the first time it runs it and reuses it after; no SQL is ever built from
 * input. Values travel as text (integers as decimal) or binary (bytea). */
#ifndef GH_STORE_PG_INTERNAL_H
#define GH_STORE_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/log.h"
#include "core/util.h"
#include "store/backend.h"
#include "store/health.h"
#include "store/store.h"

struct pg_link; /* one pooled libpq connection (pg_pool.c) */
struct pg_tail; /* a write held back to the commit (pg_tail.c) */

struct store_conn {
    struct pg_link *link; /* held while a statement or a transaction runs */
    bool in_tx;           /* a transaction is open on link */
    struct pg_tail *tail; /* the open transaction's held-back writes, owned */
    size_t ntail, tail_cap;
};

/* Advisory lock keys (pg_advisory_xact_lock / pg_advisory_lock).
 * PG_LOCK_EVENTS and PG_LOCK_CHAIN are global: taken only by pg_tail_flush
 * (and pg_chain_head under it) right before COMMIT, after every row lock
 * of the transaction, never before one (pg_tail.c says why). */
#define PG_LOCK_MIGRATE 0x67680001LL /* session lock around migrate */
#define PG_LOCK_CHAIN 0x67680002LL   /* the audit chain head, per transaction */
#define PG_LOCK_EVENTS 0x67680003LL  /* change events commit in seq order */

/* A value to bind to $1, $2, ... in order. Text and bytea are not copied:
 * they must outlive the call. A NULL text pointer binds SQL NULL. */
enum pg_kind { PG_K_TEXT, PG_K_INT64, PG_K_BYTEA };
struct pg_val {
    enum pg_kind kind;
    const void *p;
    int64_t i;
    int n; /* bytea length */
};
#define PG_TEXT(v) ((struct pg_val){.kind = PG_K_TEXT, .p = (v)})
#define PG_INT(v) ((struct pg_val){.kind = PG_K_INT64, .i = (int64_t)(v)})
#define PG_BYTEA(v, len) ((struct pg_val){.kind = PG_K_BYTEA, .p = (v), .n = (int)(len)})
#define PG_VALS(...)                                                                               \
    (const struct pg_val[]){__VA_ARGS__},                                                          \
        sizeof((const struct pg_val[]){__VA_ARGS__}) / sizeof(struct pg_val)

/** Runs the static statement sql with vals bound. *res (when res is not
 *  NULL) receives the rows: PQclear it; *affected (when not NULL) the
 *  number of rows an INSERT/UPDATE/DELETE changed. Errors:
 *  GH_ERR_CONFLICT on a unique violation (23505), a serialization failure
 *  (40001) or a deadlock (40P01), not logged; GH_ERR_UNAVAILABLE when the
 *  database cannot be reached or the pool stays exhausted (the request
 *  answers 503); GH_ERR_INTERNAL for anything else (logged with `what`).
 *  On any error inside a transaction the transaction is failed: the caller
 *  returns the error and store_write rolls back. */
enum gh_err pg_exec(struct store_conn *c, const char *sql, const char *what,
                    const struct pg_val *vals, size_t n, PGresult **res, int64_t *affected) GH_WUR;

/* Usage: PG_RUN(c, SQL_X, "what", PG_TEXT(id), PG_INT(now)). */
#define PG_RUN(c, sql, what, ...) pg_exec((c), (sql), (what), PG_VALS(__VA_ARGS__), NULL, NULL)
/* Usage: PG_COUNT(c, SQL_X, "what", &n, PG_TEXT(id)): n rows changed. */
#define PG_COUNT(c, sql, what, aff, ...)                                                           \
    pg_exec((c), (sql), (what), PG_VALS(__VA_ARGS__), NULL, (aff))
/* Usage: PG_QUERY(c, SQL_X, "what", &res, PG_TEXT(id)); PQclear(res) after. */
#define PG_QUERY(c, sql, what, res, ...)                                                           \
    pg_exec((c), (sql), (what), PG_VALS(__VA_ARGS__), (res), NULL)

/* Reading a result (text format). NULL reads as "" / 0. */
int pg_rows(const PGresult *r);
bool pg_isnull(const PGresult *r, int row, int col);
const char *pg_str(const PGresult *r, int row, int col);
void pg_text(const PGresult *r, int row, int col, char *out, size_t cap);
int64_t pg_int(const PGresult *r, int row, int col);
/** A heap copy of the value (NULL on allocation failure): the caller frees. */
char *pg_strdup(const PGresult *r, int row, int col);
/** Decodes a bytea column into out; *len gets its length. GH_ERR_INTERNAL
 *  if it does not fit in cap or is malformed; NULL reads as length 0. */
enum gh_err pg_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t cap,
                     size_t *len) GH_WUR;

/** Runs fn (may be NULL) in a write transaction, its own unless one is
 *  open, with ev (may be NULL) appended to the audit chain in the same
 *  transaction (store_write with this backend's primitives; the append is
 *  held back to the commit, pg_append_audit). */
enum gh_err pg_in_tx(struct store_conn *c, const struct store_audit *ev, store_write_fn fn,
                     const void *arg) GH_WUR;
/** Appends ev to the chain now (store_chain_append): for pg_tail_flush
 *  only, which holds PG_LOCK_EVENTS. */
enum gh_err pg_chain_append(struct store_conn *c, const struct store_audit *ev) GH_WUR;
/** pg_advisory_xact_lock(key) inside the open transaction. */
enum gh_err pg_lock_xact(struct store_conn *c, int64_t key) GH_WUR;

/* ---- pg_pool.c, for pg.c (and tests) ---- */
/** Borrows a link for c until pg_release (a transaction, or migrate's
 *  session lock); holds nest: a link already held is held once more.
 *  GH_ERR_UNAVAILABLE as pg_exec. */
enum gh_err pg_hold(struct store_conn *c) GH_WUR;
/** Releases one hold; the last gives c's link back to the pool (a link
 *  left inside a transaction is closed instead of reused). */
void pg_release(struct store_conn *c);
/** Runs static multi-statement text without parameters (PQexec) on the
 *  link c holds: migration scripts only. Errors as pg_exec. */
enum gh_err pg_exec_script(struct store_conn *c, const char *sql, const char *what) GH_WUR;
/** The first error of the transaction c holds (a failed statement aborts
 *  a PostgreSQL transaction: its COMMIT would silently roll back). */
enum gh_err pg_tx_error(const struct store_conn *c);
/** A new connection outside the pool, to the current URL with the pool's
 *  settings (the LISTEN connection): PQfinish it. NULL with why set (no
 *  secret in it) when it cannot connect. */
PGconn *pg_connect_new(char *why, size_t whylen);

/* Who and when, for the revoking steps run inside a write transaction. */
struct pg_revoke_args {
    const char *id, *uid;
    int64_t now;
};

/* ---- pg_tail.c: writes held back to the commit ---- */
/** Records ev (copied) to append to the audit chain at the commit of the
 *  open write transaction. GH_ERR_INTERNAL outside one, GH_ERR_NOMEM. */
enum gh_err pg_append_audit(struct store_conn *c, const struct store_audit *ev) GH_WUR;
/** Records a change event (strings copied, NULL reads as "") to insert at
 *  the commit of the open write transaction, under PG_LOCK_EVENTS so
 *  events commit in seq order, with a notify on "gatehouse_changes".
 *  Errors as pg_append_audit. */
enum gh_err pg_event_add(struct store_conn *c, enum store_event_kind kind, const char *uid,
                         const char *sid, const char *text, int64_t value) GH_WUR;
/** Records one change event of kind per account (value, created at now),
 *  written at the commit like pg_event_add's. */
enum gh_err pg_event_add_every_user(struct store_conn *c, enum store_event_kind kind, int64_t value,
                                    int64_t now) GH_WUR;
/** Takes PG_LOCK_EVENTS (and, for audit rows, PG_LOCK_CHAIN) and writes
 *  the records in the order they were made; then forgets them. tx_commit
 *  runs it right before COMMIT. Errors as pg_exec. */
enum gh_err pg_tail_flush(struct store_conn *c) GH_WUR;
/** Forgets the records (a rollback, or a handle closed). */
void pg_tail_clear(struct store_conn *c);

/* ---- pg_events.c ---- */
enum gh_err pg_event_append(struct store_conn *c, const struct store_event *e);
enum gh_err pg_events_since(struct store_conn *c, int64_t after, struct store_event *out,
                            size_t max, size_t *n);
enum gh_err pg_events_max_seq(struct store_conn *c, int64_t *seq);
enum gh_err pg_events_prune(struct store_conn *c, int64_t before);

/* ---- pg_keys.c ---- */
enum gh_err pg_vault_keys_list(struct store_conn *c, struct store_vault_key *out, size_t max,
                               size_t *n);
enum gh_err pg_vault_key_insert(struct store_conn *c, const struct store_vault_key *k);
enum gh_err pg_vault_key_rewrap(struct store_conn *c, const char *kid, const char *wrapped);
enum gh_err pg_vault_key_delete(struct store_conn *c, const char *kid);
enum gh_err pg_signing_keys_list(struct store_conn *c, struct store_signing_key *out, size_t max,
                                 size_t *n);
enum gh_err pg_signing_key_insert(struct store_conn *c, const struct store_signing_key *k);
enum gh_err pg_signing_key_delete(struct store_conn *c, const char *kid);
enum gh_err pg_sealed_list(struct store_conn *c, enum store_sealed_field f, const char *after,
                           struct store_sealed *out, size_t max, size_t *n);
enum gh_err pg_sealed_replace(struct store_conn *c, enum store_sealed_field f, const char *id,
                              const char *old, const char *value);

/* ---- pg_upkeep.c ---- */
enum gh_err pg_health_probe(struct store_conn *c, int64_t now);
enum gh_err pg_prune(struct store_conn *c, int64_t before);
enum gh_err pg_audit_extend(struct store_conn *c, int *created);
enum gh_err pg_clear_single_use(struct store_conn *c, struct store_single_use_cleared *out);

/* ---- pg_users.c ---- */
enum gh_err pg_user_create(struct store_conn *c, const struct store_user *u,
                           const struct store_audit *ev);
enum gh_err pg_user_set_role(struct store_conn *c, const char *id, const char *role,
                             const struct store_audit *ev);
enum gh_err pg_user_by_email_key(struct store_conn *c, const char *key, struct store_user *out);
enum gh_err pg_user_by_id(struct store_conn *c, const char *id, struct store_user *out);
enum gh_err pg_user_verify_email(struct store_conn *c, const char *id, int64_t now,
                                 const struct store_audit *ev);
enum gh_err pg_user_rehash(struct store_conn *c, const char *id, const char *old_hash,
                           const char *hash, int64_t now, const struct store_audit *ev);
enum gh_err pg_user_other_hashes(struct store_conn *c, const char *keep_prefix, const char *after,
                                 struct store_hash_row *out, size_t max, size_t *n);
enum gh_err pg_user_set_password(struct store_conn *c, const char *id, const char *hash,
                                 int64_t tia, const char *keep_sid, int64_t now,
                                 const struct store_audit *ev);
enum gh_err pg_user_set_email(struct store_conn *c, const char *id, const char *email,
                              const char *key, int64_t now, const struct store_audit *ev);
enum gh_err pg_user_reclaim(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                            const struct store_audit *ev);

/* ---- pg_sessions.c ---- */
enum gh_err pg_session_create(struct store_conn *c, const struct store_session *ss,
                              const uint8_t token_hash[32], int64_t expect_tia,
                              const struct store_audit *ev);
enum gh_err pg_session_get(struct store_conn *c, const char *id, struct store_session *out);
enum gh_err pg_session_list(struct store_conn *c, const char *uid, int64_t now,
                            struct store_session *out, size_t max, size_t *n);
enum gh_err pg_session_revoke(struct store_conn *c, const char *id, const char *uid, int64_t now,
                              const struct store_audit *ev);
enum gh_err pg_session_unrestrict(struct store_conn *c, const char *id);
enum gh_err pg_session_set_mfa_at(struct store_conn *c, const char *id, int64_t at,
                                  const struct store_audit *ev);
enum gh_err pg_sessions_revoke_user(struct store_conn *c, const char *uid, int64_t now,
                                    const struct store_audit *ev);
enum gh_err pg_sessions_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                                      int64_t now, size_t *n);
/* pg_revoke_all.c: every session of everyone (gatehouse restore --in-place) */
enum gh_err pg_sessions_revoke_all(struct store_conn *c, int64_t tia, int64_t now,
                                   const struct store_audit *ev, int64_t *n) GH_WUR;
/** Revokes every live session of uid but keep_sid (NULL: none), with its
 *  change event; inside an open write transaction (users, mfa use it). */
enum gh_err pg_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                             int64_t now);
enum gh_err pg_refresh_get(struct store_conn *c, const uint8_t hash[32], struct store_refresh *o);
enum gh_err pg_refresh_forget_successors(struct store_conn *c, const uint8_t *token_hash,
                                         int64_t rotated_before_us);
enum gh_err pg_refresh_rotate(struct store_conn *c, const uint8_t old_hash[32],
                              const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                              int64_t now_us, int64_t new_expires);

/* ---- pg_audit.c ---- */
/** The chain primitives of store_prims (pg.c builds the table). */
enum gh_err pg_chain_head(struct store_conn *c, struct store_chain_head *out);
enum gh_err pg_chain_insert(struct store_conn *c, const struct audit_row *row, const char *prev,
                            const char *hash);
enum gh_err pg_audit_append(struct store_conn *c, const struct store_audit *ev);
enum gh_err pg_audit_list(struct store_conn *c, const char *subject, int64_t before,
                          struct store_audit_row *out, size_t max, size_t *n);
enum gh_err pg_audit_scan(struct store_conn *c, int64_t after, int64_t upto, store_audit_scan_fn fn,
                          void *arg);
void pg_tune_for_scan(struct store_conn *c);
enum gh_err pg_audit_bounds(struct store_conn *c, int64_t *min, int64_t *max, int64_t *count);
enum gh_err pg_audit_prune(struct store_conn *c, const char *before, const struct store_audit *ev,
                           int64_t *deleted);

/* ---- pg_roles.c ---- */
/** The privileges of the group roles gatehouse_runtime and
 *  gatehouse_retention on every table (docs/postgresql.md, "Roles"): static
 *  REVOKE/GRANT statements, idempotent, run by migrate after the migrations
 *  as the owner. A group role that does not exist is skipped with a
 *  warning. */
enum gh_err pg_grant_roles(struct store_conn *c) GH_WUR;

/* ---- pg_mfa.c ---- */
enum gh_err pg_totp_get(struct store_conn *c, const char *uid, struct store_totp *o);
enum gh_err pg_totp_begin(struct store_conn *c, const char *uid, const char *sealed, int64_t now);
enum gh_err pg_totp_confirm(struct store_conn *c, const char *uid, int64_t step,
                            const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid,
                            int64_t now, const struct store_audit *ev);
enum gh_err pg_backup_replace(struct store_conn *c, const char *uid,
                              const uint8_t hashes[STORE_BACKUP_CODES][32],
                              const struct store_audit *ev);
enum gh_err pg_totp_use_step(struct store_conn *c, const char *uid, int64_t step);
enum gh_err pg_totp_delete(struct store_conn *c, const char *uid, const char *keep_sid, int64_t now,
                           const struct store_audit *ev);
enum gh_err pg_backup_use(struct store_conn *c, const char *uid, const uint8_t hash[32],
                          int64_t now);
enum gh_err pg_challenge_create(struct store_conn *c, const uint8_t hash[32],
                                const struct store_challenge *ch);
enum gh_err pg_challenge_attempt(struct store_conn *c, const uint8_t hash[32], int max, int64_t now,
                                 struct store_challenge *o);
enum gh_err pg_challenge_consume(struct store_conn *c, const uint8_t hash[32], int64_t now);

/* ---- pg_links.c (links, mail, idempotency) ---- */
enum gh_err pg_magic_create(struct store_conn *c, const uint8_t hash[32],
                            const struct store_magic *m, int64_t now);
enum gh_err pg_magic_revoke_all(struct store_conn *c, const char *email_key, int64_t now);
enum gh_err pg_magic_get(struct store_conn *c, const uint8_t hash[32], struct store_magic *out);
enum gh_err pg_magic_consume(struct store_conn *c, const uint8_t hash[32], const char *purpose,
                             int64_t now, struct store_magic *out);
enum gh_err pg_mail_insert(struct store_conn *c, const char *id, const char *to, const char *sealed,
                           int64_t now);
enum gh_err pg_mail_due(struct store_conn *c, int64_t now, struct store_mail *out, size_t max,
                        size_t *n);
enum gh_err pg_mail_result(struct store_conn *c, const char *id, bool sent, const char *error,
                           int64_t next_attempt_at);
enum gh_err pg_idem_claim(struct store_conn *c, const char *id, const uint8_t mac[32], int64_t now,
                          struct store_idem *out);
enum gh_err pg_idem_complete(struct store_conn *c, const char *id, int status, const char *sealed);
enum gh_err pg_idem_release(struct store_conn *c, const char *id);

/* ---- pg_identities.c (identities, oauth nonces, import) ---- */
enum gh_err pg_identity_link(struct store_conn *c, const struct store_identity *id,
                             const struct store_audit *ev);
enum gh_err pg_identity_by_subject(struct store_conn *c, const char *provider, const char *subject,
                                   struct store_identity *out);
enum gh_err pg_identity_list(struct store_conn *c, const char *user_id, struct store_identity *out,
                             size_t max, size_t *n);
enum gh_err pg_identity_unlink(struct store_conn *c, const char *user_id, const char *provider,
                               const char *subject, const struct store_audit *ev);
enum gh_err pg_identity_touch(struct store_conn *c, const char *provider, const char *subject,
                              int64_t now);
enum gh_err pg_nonce_create(struct store_conn *c, const uint8_t hash[32], const char *provider,
                            int64_t expires_at);
enum gh_err pg_nonce_consume(struct store_conn *c, const uint8_t hash[32], const char *provider,
                             int64_t now);
enum gh_err pg_import_user(struct store_conn *c, const struct store_user *u, const char *name,
                           const char *totp_sealed, const struct store_audit *ev);

#endif
