/* The store: every read and write of persistent state goes through this
 * interface, so handlers hold no SQL and a PostgreSQL backend can implement
 * the same table of functions later (DESIGN.md, "Storage").
 *
 * A struct store_conn is one connection, used by one thread at a time (each
 * worker thread opens its own). Every function may block on disk: call them
 * only from worker threads, never from an event loop.
 *
 * Results: GH_OK; GH_ERR_NOT_FOUND when a lookup finds nothing;
 * GH_ERR_CONFLICT on a uniqueness clash or a lost race; GH_ERR_INTERNAL
 * when the backend fails (the caller answers 500 and denies). Output
 * structs are filled by value; nothing returned needs freeing unless said.
 * Times are Unix seconds (UTC). */
#ifndef GH_STORE_STORE_H
#define GH_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "core/err.h"

#define STORE_ID_LEN 36 /* canonical UUID text (random, not secret) */
#define STORE_EMAIL_MAX 254
#define STORE_HASH_MAX 1024 /* LEGACY_HASH_MAX: imported hashes (credentials/legacy_hash.h) */
#define STORE_IP_MAX 46
#define STORE_UA_MAX 256
#define STORE_BOX_MAX 4096 /* sealed successor pair, see sessions/refresh.h */

#define STORE_ROLE_MAX 15

/* A user's id and stored hash (users.other_hashes). */
struct store_hash_row {
    char id[STORE_ID_LEN + 1];
    char hash[STORE_HASH_MAX + 1];
};

struct store_user {
    char id[STORE_ID_LEN + 1];
    char email[STORE_EMAIL_MAX + 1];     /* as the user typed it, domain lower-cased */
    char email_key[STORE_EMAIL_MAX + 1]; /* lower-cased whole address: the unique key */
    char password_hash[STORE_HASH_MAX + 1];
    int64_t created_at;
    int64_t updated_at;
    /* Access tokens with iat < this are rejected. */
    int64_t tokens_invalidated_at;
    int64_t email_verified_at;     /* 0 = not verified */
    char role[STORE_ROLE_MAX + 1]; /* "user" or "admin" */
};

struct store_session {
    char id[STORE_ID_LEN + 1];
    char user_id[STORE_ID_LEN + 1];
    int64_t created_at;
    int64_t last_used_at;
    int64_t expires_at; /* expiry of its newest refresh token */
    int64_t revoked_at; /* 0 = live */
    char ip[STORE_IP_MAX + 1];
    char user_agent[STORE_UA_MAX + 1];
    bool restricted; /* may only enrol a second factor (GATEHOUSE_MFA_REQUIRED) */
    bool cookie;     /* a browser cookie session (mode 'cookie'), else bearer */
    int64_t mfa_at;  /* when its sign-in passed a second factor; 0 = it did not */
};

/* A refresh token row joined with its session and user. */
struct store_refresh {
    char session_id[STORE_ID_LEN + 1];
    char user_id[STORE_ID_LEN + 1];
    int64_t expires_at;
    int64_t rotated_at_us; /* 0 = current; else when it was spent (microseconds) */
    bool session_live;     /* session not revoked and not expired */
    bool session_restricted;
    bool session_cookie; /* the session's tokens travel in a cookie, not in /v1/token */
    int64_t created_at;  /* when this token was issued (cookie rotation age) */
    int64_t tokens_invalidated_at;
    /* when the session began (GATEHOUSE_SESSION_MAX_AGE) */
    int64_t session_created_at;
    uint8_t box[STORE_BOX_MAX]; /* successor pair sealed under the old token */
    size_t box_len;             /* 0 = none */
};

/* A data key of the vault, wrapped (sealed) under the master key. */
#define STORE_KID_MAX 64
struct store_vault_key {
    char kid[STORE_KID_MAX + 1];
    char wrapped[256];
    int64_t created_at; /* microseconds: the newest key seals */
};

/* An ES256 signing key; the private PEM is sealed by the vault. */
#define STORE_SEALED_MAX 2048
struct store_signing_key {
    char kid[STORE_KID_MAX + 1];
    char private_sealed[STORE_SEALED_MAX + 1];
    int64_t created_at;
    int64_t activates_at; /* signs from then on (until a newer key activates) */
};

/* Columns the vault seals, each with fixed statements (no SQL is built
 * from names). Rotation walks them all. */
enum store_sealed_field {
    STORE_SEALED_SIGNING_KEY,
    STORE_SEALED_TOTP,
    STORE_SEALED_MAIL,
    STORE_SEALED_IDEMPOTENCY,
    STORE_SEALED_PASSWORD_KEY, /* users.password_hash: the sealed part of a
                                * "{firebase_scrypt}<sealed>$..." hash */
    STORE_SEALED_COUNT
};

struct store_sealed {
    char id[STORE_KID_MAX + 1];
    char *value; /* heap (a queued email can be long): store_sealed_clear frees */
};

/* A claim still running after this long was left by a crash: taken over. */
#define STORE_IDEM_STALE_S 300

/* A stored idempotent request (see guard/idempotency.h). */
struct store_idem {
    uint8_t body_mac[32];
    int status;            /* 0: the first request is still running */
    char *response_sealed; /* heap or NULL; the caller frees */
};

/** Frees the values of rows[0..n) and sets them NULL. */
void store_sealed_clear(struct store_sealed *rows, size_t n);

/* An audit event to append in the same transaction as the change it
 * records (NULL: nothing is appended). Strings may be NULL (empty). */
struct store_audit {
    const char *actor;  /* user id, "system" or "anonymous" */
    const char *action; /* e.g. "signin.success" */
    const char *target;
    const char *ip;
    const char *user_agent;
    const char *request_id;
    const char *details; /* compact JSON object; NULL = "{}" */
};

/* An audit row as stored. Strings are heap copies owned by the row; free
 * with store_audit_row_clear(). */
struct store_audit_row {
    int64_t id;
    char *occurred_at, *actor, *action, *target, *ip, *user_agent, *request_id, *details;
    char prev_hash[65];
    char hash[65];
};
void store_audit_row_clear(struct store_audit_row *r);

/* Called for each row by audit.scan, in id order; return non-zero to stop.
 * The row's strings are valid only during the call. */
typedef int (*store_audit_scan_fn)(void *arg, const struct store_audit_row *row);

/* A user's TOTP factor; the secret is sealed by the vault (row id: user id). */
struct store_totp {
    char secret_sealed[STORE_SEALED_MAX + 1];
    int64_t created_at;
    int64_t confirmed_at; /* 0 = enrolment not confirmed yet */
    int64_t last_step;    /* newest step accepted (-1 none): codes work once */
};

/* A pending second-factor step of a sign-in (token stored as SHA-256). */
struct store_challenge {
    char user_id[STORE_ID_LEN + 1];
    int64_t tokens_invalidated_at; /* as seen when the password was checked */
    int64_t expires_at;
    int attempts;
    int64_t used_at;
    char first_factor[16]; /* "password" or "magic_link": for the audit row */
};

#define STORE_BACKUP_CODES 10

/* A queued email; the whole message (it may carry a sign-in link) is
 * sealed by the vault (row id: its random id). */
struct store_mail {
    char id[STORE_ID_LEN + 1];
    char to_addr[STORE_EMAIL_MAX + 1];
    char *message_sealed; /* heap, owned by the caller of mail.due; free() */
    int attempts;
};

/* A magic link: single use, stored by hash. */
struct store_magic {
    /* "signin", "reset", "verify" or "email_change": a link works only for
     * its own */
    char purpose[16];
    char email_key[STORE_EMAIL_MAX + 1]; /* the account's address (its key) */
    char email[STORE_EMAIL_MAX + 1];
    /* "email_change": the address the account changes to, normalised
     * (accounts/email.h); "" for the other purposes */
    char new_email[STORE_EMAIL_MAX + 1];
    int64_t expires_at;
    int64_t used_at;
};

/* A change to what a server's auth cache holds (sessions/changes.h),
 * recorded in the same transaction as the change so other processes (the
 * CLI's changes reaching a running server; later other replicas) apply it
 * too. The backend appends these itself in every write that changes such
 * state (listed at each kind); events.append records one a caller makes
 * outside those writes. Kinds are stored by name (store_event_kind_name):
 * a kind a newer version wrote reads as STORE_EV_UNKNOWN. */
enum store_event_kind {
    STORE_EV_UNKNOWN = 0,
    STORE_EV_ROLE_CHANGED,          /* user_id, text: the new role (users.set_role) */
    STORE_EV_SESSION_REVOKED,       /* session_id, user_id (sessions.revoke) */
    STORE_EV_USER_SESSIONS_REVOKED, /* user_id, session_id: the one kept, "" none
                                     * (sessions.revoke_user, .revoke_others,
                                     * users.set_password,
                                     * users.reclaim, totp.confirm, totp.delete) */
    STORE_EV_TOKENS_INVALIDATED,    /* user_id, value: tokens_invalidated_at
                                     * (users.set_password, users.reclaim) */
    STORE_EV_SESSION_UNRESTRICTED,  /* session_id (sessions.unrestrict) */
    STORE_EV_SESSION_MFA,           /* session_id, value: mfa_at (a step-up) */
    STORE_EV_SIGNING_KEYS_CHANGED,  /* text: the kid (signing_keys.insert, .delete) */
    STORE_EV_USER_CHANGED,          /* user_id: the cached user row is stale, read it
                                     * again (users.set_email) */
    STORE_EV_KIND_COUNT
};

#define STORE_ORIGIN_LEN 16 /* hex: a random id per process */

struct store_event {
    int64_t seq; /* increasing, never reused; set by append */
    enum store_event_kind kind;
    char user_id[STORE_ID_LEN + 1];
    char session_id[STORE_ID_LEN + 1];
    char text[STORE_KID_MAX + 1]; /* a role or a kid */
    int64_t value;
    char origin[STORE_ORIGIN_LEN + 1]; /* the writing process (store_origin); set by append */
    int64_t created_at;                /* set by append */
};

/** The kind's stored name ("role_changed", ...); "unknown" for others. */
const char *store_event_kind_name(enum store_event_kind k);
/** The kind of a stored name; STORE_EV_UNKNOWN if none matches. */
enum store_event_kind store_event_kind_parse(const char *name);
/** This process's origin id (random, made on first use; static storage).
 *  A server skips the events of its own origin: it applied them to its
 *  cache right after their commit. */
const char *store_origin(void);

/* An account's identity at an OpenID provider (federation/federated.h). */
#define STORE_PROVIDER_MAX 32 /* provider name: [a-z0-9_], 1..32 */
#define STORE_SUBJECT_MAX 255 /* the provider's `sub` */
struct store_identity {
    char provider[STORE_PROVIDER_MAX + 1];
    char subject[STORE_SUBJECT_MAX + 1];
    char user_id[STORE_ID_LEN + 1];
    char email[STORE_EMAIL_MAX + 1]; /* as the provider said at link time ("" none) */
    int64_t created_at, last_used_at;
};

/* What upkeep.clear_single_use deleted, per kind of row. */
struct store_single_use_cleared {
    int64_t links;      /* magic_links: sign-in, verification, reset, change */
    int64_t challenges; /* mfa_challenges */
    int64_t nonces;     /* oauth_nonces */
    int64_t idem;       /* idempotency */
    int64_t mail;       /* mail_queue rows not yet sent */
};

struct store_conn;
struct store_schema; /* store/schema.h */

/* The table a backend fills. Members are grouped by capability, one nested
 * struct of plain function pointers per group, so a new capability adds a
 * group (and a wrapper such as a fault injector walks them regularly).
 * Every member must be set. */
struct store_ops {
    const char *name;
    /** Opens a connection. *out is freed by close(). */
    enum gh_err (*open)(const char *path, struct store_conn **out) GH_WUR;
    void (*close)(struct store_conn *c);
    /** Applies pending numbered migrations; idempotent. */
    enum gh_err (*migrate)(struct store_conn *c) GH_WUR;
    /** Number of known migrations not yet applied (0 = up to date).
     *  GH_ERR_CONFLICT (logged, naming the versions) when a migration this
     *  release does not know is applied and not marked compatible: the
     *  schema is newer than this release, which must not run on it
     *  (store/schema.h; every backend: store_schema_pending). */
    enum gh_err (*pending_migrations)(struct store_conn *c, int *n) GH_WUR;
    /** Every row of schema_migrations into out (store_schema_add), which
     *  the caller initialised; a database without the table adds none. */
    enum gh_err (*schema_read)(struct store_conn *c, struct store_schema *out) GH_WUR;

    /* A write transaction the caller groups several writes in. Each write
     * function below runs in its own transaction unless one is open. */
    struct {
        /** Begins a write transaction: from here until commit or rollback
         *  no other writer changes what this connection read (SQLite: it
         *  holds the single write lock; another backend may lock rows and
         *  answer GH_ERR_CONFLICT on a lost race instead). */
        enum gh_err (*begin_write)(struct store_conn *c) GH_WUR;
        /** Rolls back itself when it fails. */
        enum gh_err (*commit)(struct store_conn *c) GH_WUR;
        void (*rollback)(struct store_conn *c);
    } tx;

    struct {
        /** Inserts a user. GH_ERR_CONFLICT if email_key exists. */
        enum gh_err (*create)(struct store_conn *c, const struct store_user *u,
                              const struct store_audit *ev) GH_WUR;
        enum gh_err (*by_email_key)(struct store_conn *c, const char *email_key,
                                    struct store_user *out) GH_WUR;
        enum gh_err (*by_id)(struct store_conn *c, const char *id, struct store_user *out) GH_WUR;
        /** Sets the user's role ("user" or "admin") and appends ev, in one
         *  transaction (or the caller's). GH_ERR_NOT_FOUND if no such user. */
        enum gh_err (*set_role)(struct store_conn *c, const char *id, const char *role,
                                const struct store_audit *ev) GH_WUR;
        /** Marks the email verified (idempotent). */
        enum gh_err (*verify_email)(struct store_conn *c, const char *id, int64_t now,
                                    const struct store_audit *ev) GH_WUR;
        /** The owner of the address of a never-verified account just proved it
         *  (an emailed link): marks it verified, removes the password anyone
         *  may have set before and every provider identity linked to it
         *  (federation: linked by whoever held the account), and revokes
         *  every session (new
         *  tokens_invalidated_at), in one transaction. A second factor stays:
         *  it still guards the account against whoever holds the mailbox. */
        enum gh_err (*reclaim)(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                               const struct store_audit *ev) GH_WUR;
        /** Replaces the hash only (rehash on sign-in: raised parameters or an
         *  imported format) and appends ev, in one transaction (or the
         *  caller's), if the stored hash still equals old_hash: otherwise
         *  GH_ERR_CONFLICT and nothing changes (the password changed while
         *  it was being checked). */
        enum gh_err (*rehash)(struct store_conn *c, const char *id, const char *old_hash,
                              const char *hash, int64_t now, const struct store_audit *ev) GH_WUR;
        /** Password change, in one transaction: sets the hash and
         *  tokens_invalidated_at, and revokes every session of the user except
         *  keep_sid (NULL keeps none). */
        enum gh_err (*set_password)(struct store_conn *c, const char *id, const char *hash,
                                    int64_t tokens_invalidated_at, const char *keep_sid,
                                    int64_t now, const struct store_audit *ev) GH_WUR;
        /** Changes the account's address to email (key: its lookup key,
         *  accounts/email.h), marks it verified at now (the owner just proved
         *  it) and appends ev and a STORE_EV_USER_CHANGED event, in one
         *  transaction (or the caller's). GH_ERR_CONFLICT if another account
         *  has key (nothing changes); GH_ERR_NOT_FOUND if no such user. */
        enum gh_err (*set_email)(struct store_conn *c, const char *id, const char *email,
                                 const char *key, int64_t now, const struct store_audit *ev) GH_WUR;
        /** Up to max users (id and hash) whose password_hash is neither "!"
         *  nor starts with keep_prefix (the current Argon2id parameters), with
         *  id > after ("" from the start), in id order; *n the count. For
         *  timing the imported formats present (credentials/password.h). */
        enum gh_err (*other_hashes)(struct store_conn *c, const char *keep_prefix,
                                    const char *after, struct store_hash_row *out, size_t max,
                                    size_t *n) GH_WUR;
    } users;

    struct {
        /** Creates a session and its first refresh token (by hash) atomically.
         *  When expect_tia >= 0, only if the user's tokens_invalidated_at still
         *  equals it (no password change since the caller checked the password):
         *  otherwise GH_ERR_CONFLICT and nothing is written. */
        enum gh_err (*create)(struct store_conn *c, const struct store_session *s,
                              const uint8_t token_hash[32], int64_t expect_tia,
                              const struct store_audit *ev) GH_WUR;
        enum gh_err (*get)(struct store_conn *c, const char *id, struct store_session *out) GH_WUR;
        /** Live sessions of a user, newest first, at most max. *n receives the count. */
        enum gh_err (*list)(struct store_conn *c, const char *user_id, int64_t now,
                            struct store_session *out, size_t max, size_t *n) GH_WUR;
        /** Revokes one live session owned by user_id. GH_ERR_NOT_FOUND if there
         *  is no such live session for that user. */
        enum gh_err (*revoke)(struct store_conn *c, const char *id, const char *user_id,
                              int64_t now, const struct store_audit *ev) GH_WUR;
        /** Lifts a session's restriction (its user just enrolled a factor). */
        enum gh_err (*unrestrict)(struct store_conn *c, const char *id) GH_WUR;
        /** A step-up: the live session id passed a second factor at `at`
         *  (sessions.mfa_at), with the audit row ev (`mfa.step_up`), in one
         *  transaction. GH_ERR_NOT_FOUND if the session is not live. */
        enum gh_err (*set_mfa_at)(struct store_conn *c, const char *id, int64_t at,
                                  const struct store_audit *ev) GH_WUR;
        /** Revokes every live session of a user. */
        enum gh_err (*revoke_user)(struct store_conn *c, const char *user_id, int64_t now,
                                   const struct store_audit *ev) GH_WUR;
        /** Revokes every session of user_id not yet revoked except keep_sid,
         *  with its change event (STORE_EV_USER_SESSIONS_REVOKED), in its own
         *  transaction or the caller's (which appends the audit row: it names
         *  the count). *n: how many were revoked (0 is not an error). */
        enum gh_err (*revoke_others)(struct store_conn *c, const char *user_id,
                                     const char *keep_sid, int64_t now, size_t *n) GH_WUR;
        /** Every account at once (gatehouse restore): revokes every live
         *  session, raises every user's tokens_invalidated_at to tia (access
         *  tokens issued before stop working) and appends, per user, a
         *  STORE_EV_USER_SESSIONS_REVOKED and a STORE_EV_TOKENS_INVALIDATED
         *  event (value tia) and ev, in one transaction (or the caller's).
         *  *n: how many sessions were revoked. */
        enum gh_err (*revoke_all)(struct store_conn *c, int64_t tia, int64_t now,
                                  const struct store_audit *ev, int64_t *n) GH_WUR;
    } sessions;

    struct {
        /** Looks a refresh token up by hash. GH_ERR_NOT_FOUND if unknown. */
        enum gh_err (*get)(struct store_conn *c, const uint8_t token_hash[32],
                           struct store_refresh *out) GH_WUR;
        /** Spends old_hash and stores new_hash in its session, atomically, only
         *  if old_hash is still current, unexpired and its session live;
         *  otherwise GH_ERR_CONFLICT and nothing changes (exactly one of several
         *  concurrent rotations wins). box is kept with the spent row. */
        enum gh_err (*rotate)(struct store_conn *c, const uint8_t old_hash[32],
                              const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                              int64_t now_us, int64_t new_expires) GH_WUR;
        /** Drops the sealed successor pair of spent tokens rotated before
         *  rotated_before_us: of token_hash alone, or of every token if it is
         *  NULL. Once the reuse grace has passed the pair is never opened again,
         *  and a copy of live tokens should not outlast its use. */
        enum gh_err (*forget_successors)(struct store_conn *c, const uint8_t *token_hash,
                                         int64_t rotated_before_us) GH_WUR;
    } refresh;

    struct {
        /** Every data key of the vault, oldest first. */
        enum gh_err (*list)(struct store_conn *c, struct store_vault_key *out, size_t max,
                            size_t *n) GH_WUR;
        enum gh_err (*insert)(struct store_conn *c, const struct store_vault_key *k) GH_WUR;
        /** Replaces a data key's wrapping (master-key rotation). */
        enum gh_err (*rewrap)(struct store_conn *c, const char *kid, const char *wrapped) GH_WUR;
        /** Deletes a data key (after no sealed value uses it any more). */
        enum gh_err (*delete)(struct store_conn *c, const char *kid) GH_WUR;
    } vault_keys;

    struct {
        /** Signing keys, oldest first. */
        enum gh_err (*list)(struct store_conn *c, struct store_signing_key *out, size_t max,
                            size_t *n) GH_WUR;
        /** GH_ERR_CONFLICT if the kid exists. */
        enum gh_err (*insert)(struct store_conn *c, const struct store_signing_key *k) GH_WUR;
        enum gh_err (*delete)(struct store_conn *c, const char *kid) GH_WUR;
    } signing_keys;

    struct {
        /** Up to max sealed values of field f with id > after (id order). */
        enum gh_err (*list)(struct store_conn *c, enum store_sealed_field f, const char *after,
                            struct store_sealed *out, size_t max, size_t *n) GH_WUR;
        /** Replaces one sealed value if it still equals old (a concurrent writer
         *  wins: GH_ERR_CONFLICT). */
        enum gh_err (*replace)(struct store_conn *c, enum store_sealed_field f, const char *id,
                               const char *old, const char *value) GH_WUR;
    } sealed;

    struct {
        /** Appends one audit row in its own transaction (or the caller's, if
         *  one is open). */
        enum gh_err (*append)(struct store_conn *c, const struct store_audit *ev) GH_WUR;
        /** Rows where actor or target is subject, id < before (0 = newest), newest
         *  first, at most max. Clear each row. */
        enum gh_err (*list)(struct store_conn *c, const char *subject, int64_t before,
                            struct store_audit_row *out, size_t max, size_t *n) GH_WUR;
        /** Calls fn for every row with after < id <= upto (upto 0: no bound), in
         *  id order. */
        enum gh_err (*scan)(struct store_conn *c, int64_t after, int64_t upto,
                            store_audit_scan_fn fn, void *arg) GH_WUR;
        /** Prepares a connection for long sequential reads (the audit verifier
         *  command): memory-mapped reads, a larger page cache. Best effort. */
        void (*tune_for_scan)(struct store_conn *c);
        /** Smallest and largest row id and the number of rows. */
        enum gh_err (*bounds)(struct store_conn *c, int64_t *min, int64_t *max,
                              int64_t *count) GH_WUR;
        /** Retention: deletes rows with occurred_at < before from the oldest
         *  end (never a row after a kept one) and appends a checkpoint row
         *  ("audit.checkpoint", details with the hash the log continues from).
         *  *deleted gets the count. */
        enum gh_err (*prune)(struct store_conn *c, const char *before, const struct store_audit *ev,
                             int64_t *deleted) GH_WUR;
        /** Makes sure the log can take the next rows: on PostgreSQL, creates
         *  the partitions of audit_log up to two blocks of ids beyond the
         *  newest row (audit_log_extend(), docs/audit.md); SQLite has nothing
         *  to do. *created gets how many partitions were made. Fails when the
         *  database does (an INSERT beyond the last partition then fails:
         *  the audited action with it). */
        enum gh_err (*extend)(struct store_conn *c, int *created) GH_WUR;
    } audit;

    struct {
        /** TOTP of a user. GH_ERR_NOT_FOUND if none. */
        enum gh_err (*get)(struct store_conn *c, const char *user_id,
                           struct store_totp *out) GH_WUR;
        /** Starts (or restarts) an unconfirmed enrolment. GH_ERR_CONFLICT if a
         *  confirmed factor exists. */
        enum gh_err (*begin)(struct store_conn *c, const char *user_id, const char *sealed,
                             int64_t now) GH_WUR;
        /** Confirms the enrolment at step, replaces the backup codes (hashes)
         *  and revokes every session of the user but keep_sid (NULL: all),
         *  atomically. GH_ERR_CONFLICT if there is no unconfirmed enrolment. */
        enum gh_err (*confirm)(struct store_conn *c, const char *user_id, int64_t step,
                               const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid,
                               int64_t now, const struct store_audit *ev) GH_WUR;
        /** Records step as used if it is newer than the last used one;
         *  GH_ERR_CONFLICT otherwise (a replay that raced). */
        enum gh_err (*use_step)(struct store_conn *c, const char *user_id, int64_t step) GH_WUR;
        /** Removes the factor and its backup codes and revokes every session of
         *  the user but keep_sid (NULL: all), in one transaction.
         *  GH_ERR_NOT_FOUND (nothing changed) if there was no factor. */
        enum gh_err (*delete)(struct store_conn *c, const char *user_id, const char *keep_sid,
                              int64_t now, const struct store_audit *ev) GH_WUR;
    } totp;

    struct {
        /** Replaces the backup codes of a confirmed factor (regeneration).
         *  GH_ERR_NOT_FOUND if there is no confirmed factor. */
        enum gh_err (*replace)(struct store_conn *c, const char *user_id,
                               const uint8_t hashes[STORE_BACKUP_CODES][32],
                               const struct store_audit *ev) GH_WUR;
        /** Spends an unused backup code. GH_ERR_DENIED if unknown or spent. */
        enum gh_err (*use)(struct store_conn *c, const char *user_id, const uint8_t hash[32],
                           int64_t now) GH_WUR;
    } backup_codes;

    /* Pending second-factor steps of sign-ins. */
    struct {
        enum gh_err (*create)(struct store_conn *c, const uint8_t hash[32],
                              const struct store_challenge *ch) GH_WUR;
        /** Counts an attempt on a live challenge (not used, not expired, fewer
         *  than max attempts) and returns it. GH_ERR_DENIED otherwise. */
        enum gh_err (*attempt)(struct store_conn *c, const uint8_t hash[32], int max, int64_t now,
                               struct store_challenge *out) GH_WUR;
        /** Marks a challenge used; GH_ERR_DENIED if it already was. */
        enum gh_err (*consume)(struct store_conn *c, const uint8_t hash[32], int64_t now) GH_WUR;
    } challenges;

    /* Emailed links (sign-in, reset, verification, email change). */
    struct {
        /** Stores a link; the account's unused links of the same purpose are
         *  spent (only the newest works). */
        enum gh_err (*create)(struct store_conn *c, const uint8_t hash[32],
                              const struct store_magic *m, int64_t now) GH_WUR;
        /** Spends every unused link of the account (after a password reset). */
        enum gh_err (*revoke_all)(struct store_conn *c, const char *email_key, int64_t now) GH_WUR;
        /** Spends a link of the given purpose: GH_OK with *out if it was unused
         *  (expired ones are returned too: the caller tells them apart),
         *  GH_ERR_DENIED if unknown, of another purpose, or already used. */
        enum gh_err (*consume)(struct store_conn *c, const uint8_t hash[32], const char *purpose,
                               int64_t now, struct store_magic *out) GH_WUR;
        /** Reads a link without spending it. GH_ERR_NOT_FOUND if unknown. */
        enum gh_err (*get)(struct store_conn *c, const uint8_t hash[32],
                           struct store_magic *out) GH_WUR;
    } links;

    /* The outgoing mail queue. */
    struct {
        /** Queues a sealed message under a fresh random id. */
        enum gh_err (*insert)(struct store_conn *c, const char *id, const char *to_addr,
                              const char *message_sealed, int64_t now) GH_WUR;
        /** Up to max unsent messages due at now, oldest first. */
        enum gh_err (*due)(struct store_conn *c, int64_t now, struct store_mail *out, size_t max,
                           size_t *n) GH_WUR;
        /** Marks a message sent, or records a failure and the next attempt. */
        enum gh_err (*result)(struct store_conn *c, const char *id, bool sent, const char *error,
                              int64_t next_attempt_at) GH_WUR;
    } mail;

    /* Idempotent requests. */
    struct {
        /** Claims id for a first request (GH_OK), or fills *out with the one
         *  already there (GH_ERR_CONFLICT). A claim older than
         *  STORE_IDEM_STALE_S that never completed is claimed anew. */
        enum gh_err (*claim)(struct store_conn *c, const char *id, const uint8_t body_mac[32],
                             int64_t now, struct store_idem *out) GH_WUR;
        /** Stores the first request's response. */
        enum gh_err (*complete)(struct store_conn *c, const char *id, int status,
                                const char *response_sealed) GH_WUR;
        /** Forgets a claim (the first request failed: a retry may run again). */
        enum gh_err (*release)(struct store_conn *c, const char *id) GH_WUR;
    } idem;

    /* Change events (see struct store_event): the feed a server's auth
     * cache follows. */
    struct {
        /** Appends e (kind, subjects and value; seq, origin and created_at
         *  are set here) in its own transaction or the caller's. */
        enum gh_err (*append)(struct store_conn *c, const struct store_event *e) GH_WUR;
        /** Up to max events with seq > after, in seq order; *n the count. */
        enum gh_err (*since)(struct store_conn *c, int64_t after, struct store_event *out,
                             size_t max, size_t *n) GH_WUR;
        /** The newest seq (0: no event yet, or all pruned). */
        enum gh_err (*max_seq)(struct store_conn *c, int64_t *seq) GH_WUR;
        /** Deletes events created before `before` (seqs are never reused). */
        enum gh_err (*prune)(struct store_conn *c, int64_t before) GH_WUR;
    } events;

    /* Identities at OpenID providers linked to accounts. */
    struct {
        /** Links (provider, subject) to user_id with ev, in its own transaction or the
         *  caller's. GH_ERR_CONFLICT if (provider, subject) is linked already. */
        enum gh_err (*link)(struct store_conn *c, const struct store_identity *id,
                            const struct store_audit *ev) GH_WUR;
        /** GH_ERR_NOT_FOUND if not linked. */
        enum gh_err (*by_subject)(struct store_conn *c, const char *provider, const char *subject,
                                  struct store_identity *out) GH_WUR;
        /** A user's identities, oldest first, at most max; *n the count. */
        enum gh_err (*list)(struct store_conn *c, const char *user_id, struct store_identity *out,
                            size_t max, size_t *n) GH_WUR;
        /** Removes one of user_id's identities with ev. GH_ERR_NOT_FOUND if none. */
        enum gh_err (*unlink)(struct store_conn *c, const char *user_id, const char *provider,
                              const char *subject, const struct store_audit *ev) GH_WUR;
        /** Sets last_used_at (a sign-in with it). GH_ERR_NOT_FOUND if not linked. */
        enum gh_err (*touch)(struct store_conn *c, const char *provider, const char *subject,
                             int64_t now) GH_WUR;
    } identities;

    /* Single-use nonces for the native-app flow, stored by SHA-256. */
    struct {
        /** GH_ERR_CONFLICT if hash exists (never, for a random nonce). */
        enum gh_err (*create)(struct store_conn *c, const uint8_t hash[32], const char *provider,
                              int64_t expires_at) GH_WUR;
        /** Spends a live nonce of provider: GH_OK once; GH_ERR_DENIED if unknown, of
         *  another provider, expired or spent. */
        enum gh_err (*consume)(struct store_conn *c, const uint8_t hash[32], const char *provider,
                               int64_t now) GH_WUR;
    } oauth_nonces;

    struct {
        /** Deletes refresh tokens, sessions, links and sign-in challenges that
         *  expired before `before`, idempotency records older, and old mail;
         *  and native-flow nonces expired before `before`. */
        enum gh_err (*prune)(struct store_conn *c, int64_t before) GH_WUR;
        /** gatehouse restore: deletes every row of the short-lived
         *  single-use items, spent or not (a restored copy would accept
         *  again one spent since the backup): links of every purpose,
         *  sign-in challenges, native-flow nonces, idempotency records, and
         *  the mail not yet sent (it carries such links), in one
         *  transaction (or the caller's). *out: how many of each. Backup
         *  codes are kept (docs/backups.md). */
        enum gh_err (*clear_single_use)(struct store_conn *c,
                                        struct store_single_use_cleared *out) GH_WUR;
    } upkeep;

    struct {
        /** One small real write that reaches the disk (store/health.h). */
        enum gh_err (*probe)(struct store_conn *c, int64_t now) GH_WUR;
    } health;

    /* Accounts brought from another system (gatehouse import, import/), and
     * a provider's first sign-in (federation/federated.c: the name it gave). */
    struct {
        /** Inserts an imported account as it was: u's id, email, email_key,
         *  password_hash ("!": none), created_at (also its updated_at),
         *  email_verified_at (0: not verified) and role, with its display
         *  name (users.name, "" none) and, when totp_sealed is not NULL, a
         *  confirmed TOTP factor (sealed for u->id; no backup codes), and
         *  ev, in its own transaction or the caller's. GH_ERR_CONFLICT if
         *  email_key exists (nothing is written). */
        enum gh_err (*user)(struct store_conn *c, const struct store_user *u, const char *name,
                            const char *totp_sealed, const struct store_audit *ev) GH_WUR;
    } import;
};

/** The SQLite backend. */
extern const struct store_ops store_sqlite;
/** The PostgreSQL backend (store/pg.h). */
extern const struct store_ops store_pg;

/** The backend chosen by configuration: PostgreSQL when
 *  GATEHOUSE_DATABASE_URL is set (store/pg.h), else SQLite. */
const struct store_ops *store_backend(void);

#endif
