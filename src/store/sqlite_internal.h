/* Internal to the SQLite backend (src/store/sqlite*.c): the connection,
 * the statement ids, the statement helpers and the functions each
 * capability file contributes to the table in sqlite.c. Nothing outside
 * src/store/sqlite*.c includes it. */
#ifndef GH_STORE_SQLITE_INTERNAL_H
#define GH_STORE_SQLITE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/util.h"
#include "store/backend.h"
#include "store/health.h"
#include "store/store.h"

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_USER_INSERT,
    S_USER_BY_EMAIL,
    S_USER_BY_ID,
    S_USER_REHASH,
    S_USER_OTHER_HASHES,
    S_USER_VERIFY,
    S_USER_SET_ROLE,
    S_USER_SET_PASSWORD,
    S_USER_SET_EMAIL,
    S_SESS_REVOKE_OTHERS,
    S_SESS_INSERT,
    S_RT_INSERT,
    S_SESS_GET,
    S_SESS_LIST,
    S_SESS_REVOKE,
    S_SESS_REVOKE_USER,
    S_SESS_REVOKE_ALL,
    S_USER_INVALIDATE_ALL,
    S_EVENT_EVERY_USER,
    S_SESS_UNRESTRICT,
    S_SESS_SET_MFA_AT,
    S_RT_GET,
    S_RT_SPEND,
    S_RT_FORGET_ONE,
    S_RT_FORGET_ALL,
    S_SESS_TOUCH,
    S_VK_LIST,
    S_VK_INSERT,
    S_VK_DELETE,
    S_VK_REWRAP,
    S_SK_LIST,
    S_SK_INSERT,
    S_SK_DELETE,
    S_SEALED_SK_LIST,
    S_SEALED_SK_REPLACE,
    S_AUDIT_LAST,
    S_AUDIT_INSERT,
    S_AUDIT_LIST,
    S_AUDIT_SCAN,
    S_AUDIT_GATE,
    S_AUDIT_PRUNE_LAST,
    S_AUDIT_PRUNE,
    S_AUDIT_HASH_OF,
    S_AUDIT_BOUNDS,
    S_TOTP_GET,
    S_TOTP_BEGIN,
    S_TOTP_CONFIRM,
    S_BACKUP_CLEAR,
    S_BACKUP_INSERT,
    S_TOTP_USE,
    S_TOTP_CONFIRMED,
    S_TOTP_DELETE,
    S_BACKUP_USE,
    S_CH_INSERT,
    S_CH_ATTEMPT,
    S_CH_GET,
    S_CH_CONSUME,
    S_SEALED_TOTP_LIST,
    S_SEALED_TOTP_REPLACE,
    S_SEALED_MAIL_LIST,
    S_SEALED_MAIL_REPLACE,
    S_PRUNE_MAIL,
    S_PRUNE_MAGIC,
    S_PRUNE_CHALLENGES,
    S_PRUNE_IDEM,
    S_IDEM_INSERT,
    S_IDEM_GET,
    S_IDEM_COMPLETE,
    S_IDEM_DELETE,
    S_SEALED_IDEM_LIST,
    S_SEALED_IDEM_REPLACE,
    S_SEALED_PWKEY_LIST,
    S_SEALED_PWKEY_REPLACE,
    S_MAGIC_SUPERSEDE,
    S_MAGIC_REVOKE_ALL,
    S_MAIL_INSERT,
    S_MAIL_DUE,
    S_MAIL_SENT,
    S_MAIL_FAILED,
    S_MAGIC_INSERT,
    S_MAGIC_CONSUME,
    S_MAGIC_GET,
    S_PRUNE_RT,
    S_PRUNE_SESS,
    S_HEALTH_PROBE,
    S_EVENT_INSERT,
    S_EVENT_SINCE,
    S_EVENT_MAX,
    S_EVENT_PRUNE,
    S_IDENT_INSERT,
    S_IDENT_BY_SUBJECT,
    S_IDENT_LIST,
    S_IDENT_DELETE,
    S_IDENT_TOUCH,
    S_IDENT_DELETE_USER,
    S_NONCE_INSERT,
    S_NONCE_CONSUME,
    S_PRUNE_NONCES,
    S_CLEAR_LINKS,
    S_CLEAR_CHALLENGES,
    S_CLEAR_NONCES,
    S_CLEAR_IDEM,
    S_CLEAR_MAIL,
    S_IMPORT_USER,
    S_IMPORT_TOTP,
    S_COUNT
};

struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
};

static inline void done(sqlite3_stmt *s)
{
    if (s) sqlite3_reset(s);
}

static inline int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static inline void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(s, i) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(out, t, n);
    out[n] = '\0';
}

static inline const char *ctext(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

extern const char *const stmt_sql[S_COUNT];

/* Who and when, for the revoking steps run inside a write transaction. */
struct revoke_args {
    const char *id, *uid; /* id: the session (to revoke or to keep) */
    int64_t now;
};

/* ---- helpers (sqlite.c) ---- */
enum gh_err sq_fail(struct store_conn *c, const char *what);
sqlite3_stmt *sq_stmt(struct store_conn *c, enum stmt_id id);
enum gh_err sq_exec(struct store_conn *c, sqlite3_stmt *s, const char *what);
enum gh_err sq_tx(struct store_conn *c, enum stmt_id id);
void sq_rollback(struct store_conn *c);
enum gh_err sq_append_audit(struct store_conn *c, const struct store_audit *ev);
enum gh_err sq_in_tx(struct store_conn *c, const struct store_audit *ev, store_write_fn fn,
                     const void *arg);

/* A value to bind. The run helpers bind a list of them to ?1, ?2, ... in
 * order (text and blobs are not copied: they must outlive the step). */
enum sq_kind { SQ_K_TEXT, SQ_K_INT64, SQ_K_BLOB };
struct sq_val {
    enum sq_kind kind;
    const void *p; /* text (NUL-terminated) or blob; NULL binds NULL */
    int64_t i;
    int n; /* blob length */
};
#define SQ_TEXT(v) ((struct sq_val){.kind = SQ_K_TEXT, .p = (v)})
#define SQ_INT(v) ((struct sq_val){.kind = SQ_K_INT64, .i = (int64_t)(v)})
#define SQ_BLOB(v, len) ((struct sq_val){.kind = SQ_K_BLOB, .p = (v), .n = (int)(len)})
#define SQ_VALS(...)                                                                               \
    (const struct sq_val[]){__VA_ARGS__},                                                          \
        sizeof((const struct sq_val[]){__VA_ARGS__}) / sizeof(struct sq_val)

/** The statement id with vals bound, ready to step; NULL on failure
 *  (logged, and reported to store/health.h when disk-class). */
sqlite3_stmt *sq_query(struct store_conn *c, enum stmt_id id, const struct sq_val *vals, size_t n);
/** Prepares id, binds vals, steps once (a statement that returns no rows)
 *  and resets it. Any failure is GH_ERR_INTERNAL (sq_fail). */
enum gh_err sq_run(struct store_conn *c, enum stmt_id id, const char *what,
                   const struct sq_val *vals, size_t n);
/** The same for an insert whose key may clash: a uniqueness or primary-key
 *  violation is GH_ERR_CONFLICT, logged as nothing. */
enum gh_err sq_insert(struct store_conn *c, enum stmt_id id, const char *what,
                      const struct sq_val *vals, size_t n);
/* Usage: SQ_RUN(c, S_X, "what", SQ_TEXT(id), SQ_INT(now)). */
#define SQ_RUN(c, id, what, ...) sq_run((c), (id), (what), SQ_VALS(__VA_ARGS__))
#define SQ_INSERT(c, id, what, ...) sq_insert((c), (id), (what), SQ_VALS(__VA_ARGS__))
#define SQ_QUERY(c, id, ...) sq_query((c), (id), SQ_VALS(__VA_ARGS__))
enum gh_err sq_delete_by_id(struct store_conn *c, enum stmt_id id, const char *key);

/* ---- sqlite_users.c ---- */
enum gh_err sq_user_create(struct store_conn *c, const struct store_user *u,
                           const struct store_audit *ev);
enum gh_err sq_user_set_role(struct store_conn *c, const char *id, const char *role,
                             const struct store_audit *ev);
enum gh_err sq_user_by_email_key(struct store_conn *c, const char *key, struct store_user *out);
enum gh_err sq_user_by_id(struct store_conn *c, const char *id, struct store_user *out);
enum gh_err sq_user_verify_email(struct store_conn *c, const char *id, int64_t now,
                                 const struct store_audit *ev);
enum gh_err sq_user_rehash(struct store_conn *c, const char *id, const char *old_hash,
                           const char *hash, int64_t now, const struct store_audit *ev);
enum gh_err sq_user_other_hashes(struct store_conn *c, const char *keep_prefix, const char *after,
                                 struct store_hash_row *out, size_t max, size_t *n);
enum gh_err sq_user_set_password(struct store_conn *c, const char *id, const char *hash,
                                 int64_t tia, const char *keep_sid, int64_t now,
                                 const struct store_audit *ev);
enum gh_err sq_user_set_email(struct store_conn *c, const char *id, const char *email,
                              const char *key, int64_t now, const struct store_audit *ev);
enum gh_err sq_user_reclaim(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                            const struct store_audit *ev);

/* ---- sqlite_sessions.c ---- */
enum gh_err sq_session_create(struct store_conn *c, const struct store_session *ss,
                              const uint8_t token_hash[32], int64_t expect_tia,
                              const struct store_audit *ev);
enum gh_err sq_session_get(struct store_conn *c, const char *id, struct store_session *out);
enum gh_err sq_session_list(struct store_conn *c, const char *uid, int64_t now,
                            struct store_session *out, size_t max, size_t *n);
enum gh_err sq_session_revoke(struct store_conn *c, const char *id, const char *uid, int64_t now,
                              const struct store_audit *ev);
enum gh_err sq_session_unrestrict(struct store_conn *c, const char *id);
enum gh_err sq_session_set_mfa_at(struct store_conn *c, const char *id, int64_t at,
                                  const struct store_audit *ev);
enum gh_err sq_sessions_revoke_user(struct store_conn *c, const char *uid, int64_t now,
                                    const struct store_audit *ev);
enum gh_err sq_sessions_revoke_all(struct store_conn *c, int64_t tia, int64_t now,
                                   const struct store_audit *ev, int64_t *n);
enum gh_err sq_sessions_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                                      int64_t now, size_t *n);
enum gh_err sq_refresh_get(struct store_conn *c, const uint8_t hash[32], struct store_refresh *o);
enum gh_err sq_refresh_forget_successors(struct store_conn *c, const uint8_t *token_hash,
                                         int64_t rotated_before_us);
enum gh_err sq_refresh_rotate(struct store_conn *c, const uint8_t old_hash[32],
                              const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                              int64_t now_us, int64_t new_expires);

/** Revokes every live session of a->uid (a store_write_fn). */
enum gh_err sq_revoke_user_fn(struct store_conn *c, const void *arg);
/** Revokes every live session of uid but keep_sid (NULL: none), with its
 *  change event; inside an open write transaction. */
enum gh_err sq_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                             int64_t now);

/* ---- sqlite_keys.c ---- */
enum gh_err sq_vault_keys_list(struct store_conn *c, struct store_vault_key *out, size_t max,
                               size_t *n);
enum gh_err sq_vault_key_insert(struct store_conn *c, const struct store_vault_key *k);
enum gh_err sq_vault_key_rewrap(struct store_conn *c, const char *kid, const char *wrapped);
enum gh_err sq_vault_key_delete(struct store_conn *c, const char *kid);
enum gh_err sq_signing_keys_list(struct store_conn *c, struct store_signing_key *out, size_t max,
                                 size_t *n);
enum gh_err sq_signing_key_insert(struct store_conn *c, const struct store_signing_key *k);
enum gh_err sq_signing_key_delete(struct store_conn *c, const char *kid);
enum gh_err sq_sealed_list(struct store_conn *c, enum store_sealed_field f, const char *after,
                           struct store_sealed *out, size_t max, size_t *n);
enum gh_err sq_sealed_replace(struct store_conn *c, enum store_sealed_field f, const char *id,
                              const char *old, const char *value);

/* ---- sqlite_audit.c ---- */
enum gh_err sq_audit_append(struct store_conn *c, const struct store_audit *ev);
enum gh_err sq_audit_list(struct store_conn *c, const char *subject, int64_t before,
                          struct store_audit_row *out, size_t max, size_t *n);
enum gh_err sq_audit_scan(struct store_conn *c, int64_t after, int64_t upto, store_audit_scan_fn fn,
                          void *arg);
void sq_tune_for_scan(struct store_conn *c);
enum gh_err sq_audit_extend(struct store_conn *c, int *created);
enum gh_err sq_audit_bounds(struct store_conn *c, int64_t *min, int64_t *max, int64_t *count);
enum gh_err sq_audit_prune(struct store_conn *c, const char *before, const struct store_audit *ev,
                           int64_t *deleted);

/* ---- sqlite_mfa.c ---- */
enum gh_err sq_totp_get(struct store_conn *c, const char *uid, struct store_totp *o);
enum gh_err sq_totp_begin(struct store_conn *c, const char *uid, const char *sealed, int64_t now);
enum gh_err sq_totp_confirm(struct store_conn *c, const char *uid, int64_t step,
                            const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid,
                            int64_t now, const struct store_audit *ev);
enum gh_err sq_backup_replace(struct store_conn *c, const char *uid,
                              const uint8_t hashes[STORE_BACKUP_CODES][32],
                              const struct store_audit *ev);
enum gh_err sq_totp_use_step(struct store_conn *c, const char *uid, int64_t step);
enum gh_err sq_totp_delete(struct store_conn *c, const char *uid, const char *keep_sid, int64_t now,
                           const struct store_audit *ev);
enum gh_err sq_backup_use(struct store_conn *c, const char *uid, const uint8_t hash[32],
                          int64_t now);
enum gh_err sq_challenge_create(struct store_conn *c, const uint8_t hash[32],
                                const struct store_challenge *ch);
enum gh_err sq_challenge_attempt(struct store_conn *c, const uint8_t hash[32], int max, int64_t now,
                                 struct store_challenge *o);
enum gh_err sq_challenge_consume(struct store_conn *c, const uint8_t hash[32], int64_t now);

/* ---- sqlite_mail.c ---- */
enum gh_err sq_mail_insert(struct store_conn *c, const char *id, const char *to, const char *sealed,
                           int64_t now);
enum gh_err sq_mail_due(struct store_conn *c, int64_t now, struct store_mail *out, size_t max,
                        size_t *n);
enum gh_err sq_mail_result(struct store_conn *c, const char *id, bool sent, const char *error,
                           int64_t next_attempt_at);

/* ---- sqlite_links.c ---- */
enum gh_err sq_magic_create(struct store_conn *c, const uint8_t hash[32],
                            const struct store_magic *m, int64_t now);
enum gh_err sq_magic_revoke_all(struct store_conn *c, const char *email_key, int64_t now);
enum gh_err sq_magic_get(struct store_conn *c, const uint8_t hash[32], struct store_magic *out);
enum gh_err sq_magic_consume(struct store_conn *c, const uint8_t hash[32], const char *purpose,
                             int64_t now, struct store_magic *out);

/* ---- sqlite_events.c ---- */
/** Appends e inside the open write transaction (the writes that change
 *  what an auth cache holds call it before their commit). */
enum gh_err sq_event_add(struct store_conn *c, enum store_event_kind kind, const char *uid,
                         const char *sid, const char *text, int64_t value);
enum gh_err sq_event_append(struct store_conn *c, const struct store_event *e);
enum gh_err sq_events_since(struct store_conn *c, int64_t after, struct store_event *out,
                            size_t max, size_t *n);
enum gh_err sq_events_max_seq(struct store_conn *c, int64_t *seq);
enum gh_err sq_events_prune(struct store_conn *c, int64_t before);

/* sqlite_import.c */
enum gh_err sq_import_user(struct store_conn *c, const struct store_user *u, const char *name,
                           const char *totp_sealed, const struct store_audit *ev);

/* ---- sqlite_idem.c ---- */
enum gh_err sq_health_probe(struct store_conn *c, int64_t now);
enum gh_err sq_prune(struct store_conn *c, int64_t before);
enum gh_err sq_clear_single_use(struct store_conn *c, struct store_single_use_cleared *out);
enum gh_err sq_idem_claim(struct store_conn *c, const char *id, const uint8_t mac[32], int64_t now,
                          struct store_idem *out);
enum gh_err sq_idem_complete(struct store_conn *c, const char *id, int status, const char *sealed);
enum gh_err sq_idem_release(struct store_conn *c, const char *id);

/* ---- sqlite_identities.c ---- */
enum gh_err sq_identity_link(struct store_conn *c, const struct store_identity *id,
                             const struct store_audit *ev);
enum gh_err sq_identity_by_subject(struct store_conn *c, const char *provider, const char *subject,
                                   struct store_identity *out);
enum gh_err sq_identity_list(struct store_conn *c, const char *user_id, struct store_identity *out,
                             size_t max, size_t *n);
enum gh_err sq_identity_unlink(struct store_conn *c, const char *user_id, const char *provider,
                               const char *subject, const struct store_audit *ev);
enum gh_err sq_identity_touch(struct store_conn *c, const char *provider, const char *subject,
                              int64_t now);
enum gh_err sq_nonce_create(struct store_conn *c, const uint8_t hash[32], const char *provider,
                            int64_t expires_at);
enum gh_err sq_nonce_consume(struct store_conn *c, const uint8_t hash[32], const char *provider,
                             int64_t now);

#endif
