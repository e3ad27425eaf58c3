#include "store/fault.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Every operation of struct store_ops that the wrapper counts, in one list:
 * X(id, member, parameters, arguments, on_fail) for those returning enum
 * gh_err, V(...) for those that cannot fail (passed through uncounted).
 * id names the wrapper function; member is the field in struct store_ops
 * (a path such as users.create once the table is grouped) and, as text,
 * the name store_fault_fail_name matches; on_fail runs before an injected
 * failure returns (what the real operation does when it fails).
 * All operation-specific code is here: adapting the wrapper to a changed
 * struct store_ops means editing this list only. */
#define STORE_FAULT_OPS(X, V)                                                                      \
    X(pending_migrations, pending_migrations, (struct store_conn * c, int *n), (c, n), (void)0)    \
    X(schema_read, schema_read, (struct store_conn * c, struct store_schema * out), (c, out),      \
      (void)0)                                                                                     \
    X(user_create, users.create,                                                                   \
      (struct store_conn * c, const struct store_user *u, const struct store_audit *ev),           \
      (c, u, ev), (void)0)                                                                         \
    X(user_by_email_key, users.by_email_key,                                                       \
      (struct store_conn * c, const char *email_key, struct store_user *out), (c, email_key, out), \
      (void)0)                                                                                     \
    X(user_by_id, users.by_id, (struct store_conn * c, const char *id, struct store_user *out),    \
      (c, id, out), (void)0)                                                                       \
    X(user_set_role, users.set_role,                                                               \
      (struct store_conn * c, const char *id, const char *role, const struct store_audit *ev),     \
      (c, id, role, ev), (void)0)                                                                  \
    X(user_verify_email, users.verify_email,                                                       \
      (struct store_conn * c, const char *id, int64_t now, const struct store_audit *ev),          \
      (c, id, now, ev), (void)0)                                                                   \
    X(user_reclaim, users.reclaim,                                                                 \
      (struct store_conn * c, const char *id, int64_t tia, int64_t now,                            \
       const struct store_audit *ev),                                                              \
      (c, id, tia, now, ev), (void)0)                                                              \
    X(user_rehash, users.rehash,                                                                   \
      (struct store_conn * c, const char *id, const char *old_hash, const char *hash, int64_t now, \
       const struct store_audit *ev),                                                              \
      (c, id, old_hash, hash, now, ev), (void)0)                                                   \
    X(user_set_password, users.set_password,                                                       \
      (struct store_conn * c, const char *id, const char *hash, int64_t tia, const char *keep_sid, \
       int64_t now, const struct store_audit *ev),                                                 \
      (c, id, hash, tia, keep_sid, now, ev), (void)0)                                              \
    X(user_set_email, users.set_email,                                                             \
      (struct store_conn * c, const char *id, const char *email, const char *key, int64_t now,     \
       const struct store_audit *ev),                                                              \
      (c, id, email, key, now, ev), (void)0)                                                       \
    X(user_other_hashes, users.other_hashes,                                                       \
      (struct store_conn * c, const char *keep_prefix, const char *after,                          \
       struct store_hash_row *out, size_t max, size_t *n),                                         \
      (c, keep_prefix, after, out, max, n), (void)0)                                               \
    X(session_create, sessions.create,                                                             \
      (struct store_conn * c, const struct store_session *s, const uint8_t token_hash[32],         \
       int64_t expect_tia, const struct store_audit *ev),                                          \
      (c, s, token_hash, expect_tia, ev), (void)0)                                                 \
    X(session_get, sessions.get,                                                                   \
      (struct store_conn * c, const char *id, struct store_session *out), (c, id, out), (void)0)   \
    X(session_list, sessions.list,                                                                 \
      (struct store_conn * c, const char *user_id, int64_t now, struct store_session *out,         \
       size_t max, size_t *n),                                                                     \
      (c, user_id, now, out, max, n), (void)0)                                                     \
    X(session_revoke, sessions.revoke,                                                             \
      (struct store_conn * c, const char *id, const char *user_id, int64_t now,                    \
       const struct store_audit *ev),                                                              \
      (c, id, user_id, now, ev), (void)0)                                                          \
    X(session_unrestrict, sessions.unrestrict, (struct store_conn * c, const char *id), (c, id),   \
      (void)0)                                                                                     \
    X(session_set_mfa_at, sessions.set_mfa_at,                                                     \
      (struct store_conn * c, const char *id, int64_t at, const struct store_audit *ev),           \
      (c, id, at, ev), (void)0)                                                                    \
    X(sessions_revoke_user, sessions.revoke_user,                                                  \
      (struct store_conn * c, const char *user_id, int64_t now, const struct store_audit *ev),     \
      (c, user_id, now, ev), (void)0)                                                              \
    X(sessions_revoke_others, sessions.revoke_others,                                              \
      (struct store_conn * c, const char *user_id, const char *keep_sid, int64_t now, size_t *n),  \
      (c, user_id, keep_sid, now, n), (void)0)                                                     \
    X(sessions_revoke_all, sessions.revoke_all,                                                    \
      (struct store_conn * c, int64_t tia, int64_t now, const struct store_audit *ev, int64_t *n), \
      (c, tia, now, ev, n), (void)0)                                                               \
    X(refresh_get, refresh.get,                                                                    \
      (struct store_conn * c, const uint8_t token_hash[32], struct store_refresh *out),            \
      (c, token_hash, out), (void)0)                                                               \
    X(refresh_rotate, refresh.rotate,                                                              \
      (struct store_conn * c, const uint8_t old_hash[32], const uint8_t new_hash[32],              \
       const uint8_t *box, size_t box_len, int64_t now_us, int64_t new_expires),                   \
      (c, old_hash, new_hash, box, box_len, now_us, new_expires), (void)0)                         \
    X(refresh_forget_successors, refresh.forget_successors,                                        \
      (struct store_conn * c, const uint8_t *token_hash, int64_t rotated_before_us),               \
      (c, token_hash, rotated_before_us), (void)0)                                                 \
    X(vault_keys_list, vault_keys.list,                                                            \
      (struct store_conn * c, struct store_vault_key * out, size_t max, size_t * n),               \
      (c, out, max, n), (void)0)                                                                   \
    X(vault_key_insert, vault_keys.insert,                                                         \
      (struct store_conn * c, const struct store_vault_key *k), (c, k), (void)0)                   \
    X(vault_key_rewrap, vault_keys.rewrap,                                                         \
      (struct store_conn * c, const char *kid, const char *wrapped), (c, kid, wrapped), (void)0)   \
    X(vault_key_delete, vault_keys.delete, (struct store_conn * c, const char *kid), (c, kid),     \
      (void)0)                                                                                     \
    X(signing_keys_list, signing_keys.list,                                                        \
      (struct store_conn * c, struct store_signing_key * out, size_t max, size_t * n),             \
      (c, out, max, n), (void)0)                                                                   \
    X(signing_key_insert, signing_keys.insert,                                                     \
      (struct store_conn * c, const struct store_signing_key *k), (c, k), (void)0)                 \
    X(signing_key_delete, signing_keys.delete, (struct store_conn * c, const char *kid), (c, kid), \
      (void)0)                                                                                     \
    X(sealed_list, sealed.list,                                                                    \
      (struct store_conn * c, enum store_sealed_field f, const char *after,                        \
       struct store_sealed *out, size_t max, size_t *n),                                           \
      (c, f, after, out, max, n), (void)0)                                                         \
    X(sealed_replace, sealed.replace,                                                              \
      (struct store_conn * c, enum store_sealed_field f, const char *id, const char *old,          \
       const char *value),                                                                         \
      (c, f, id, old, value), (void)0)                                                             \
    X(begin, tx.begin_write, (struct store_conn * c), (c), (void)0)                                \
    /* The store's commit rolls back itself when it fails. */                                      \
    X(commit, tx.commit, (struct store_conn * c), (c), fault.inner->tx.rollback(c))                \
    V(rollback, tx.rollback, (struct store_conn * c), (c))                                         \
    X(audit_append, audit.append, (struct store_conn * c, const struct store_audit *ev), (c, ev),  \
      (void)0)                                                                                     \
    X(audit_list, audit.list,                                                                      \
      (struct store_conn * c, const char *subject, int64_t before, struct store_audit_row *out,    \
       size_t max, size_t *n),                                                                     \
      (c, subject, before, out, max, n), (void)0)                                                  \
    X(audit_scan, audit.scan,                                                                      \
      (struct store_conn * c, int64_t after, int64_t upto, store_audit_scan_fn fn, void *arg),     \
      (c, after, upto, fn, arg), (void)0)                                                          \
    V(tune_for_scan, audit.tune_for_scan, (struct store_conn * c), (c))                            \
    X(audit_bounds, audit.bounds,                                                                  \
      (struct store_conn * c, int64_t * min, int64_t * max, int64_t * count),                      \
      (c, min, max, count), (void)0)                                                               \
    X(audit_prune, audit.prune,                                                                    \
      (struct store_conn * c, const char *before, const struct store_audit *ev, int64_t *deleted), \
      (c, before, ev, deleted), (void)0)                                                           \
    X(audit_extend, audit.extend, (struct store_conn * c, int *created), (c, created), (void)0)    \
    X(totp_get, totp.get, (struct store_conn * c, const char *user_id, struct store_totp *out),    \
      (c, user_id, out), (void)0)                                                                  \
    X(totp_begin, totp.begin,                                                                      \
      (struct store_conn * c, const char *user_id, const char *sealed, int64_t now),               \
      (c, user_id, sealed, now), (void)0)                                                          \
    X(totp_confirm, totp.confirm,                                                                  \
      (struct store_conn * c, const char *user_id, int64_t step,                                   \
       const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid, int64_t now,            \
       const struct store_audit *ev),                                                              \
      (c, user_id, step, hashes, keep_sid, now, ev), (void)0)                                      \
    X(backup_replace, backup_codes.replace,                                                        \
      (struct store_conn * c, const char *user_id, const uint8_t hashes[STORE_BACKUP_CODES][32],   \
       const struct store_audit *ev),                                                              \
      (c, user_id, hashes, ev), (void)0)                                                           \
    X(totp_use_step, totp.use_step, (struct store_conn * c, const char *user_id, int64_t step),    \
      (c, user_id, step), (void)0)                                                                 \
    X(totp_delete, totp.delete,                                                                    \
      (struct store_conn * c, const char *user_id, const char *keep_sid, int64_t now,              \
       const struct store_audit *ev),                                                              \
      (c, user_id, keep_sid, now, ev), (void)0)                                                    \
    X(backup_use, backup_codes.use,                                                                \
      (struct store_conn * c, const char *user_id, const uint8_t hash[32], int64_t now),           \
      (c, user_id, hash, now), (void)0)                                                            \
    X(challenge_create, challenges.create,                                                         \
      (struct store_conn * c, const uint8_t hash[32], const struct store_challenge *ch),           \
      (c, hash, ch), (void)0)                                                                      \
    X(challenge_attempt, challenges.attempt,                                                       \
      (struct store_conn * c, const uint8_t hash[32], int max, int64_t now,                        \
       struct store_challenge *out),                                                               \
      (c, hash, max, now, out), (void)0)                                                           \
    X(challenge_consume, challenges.consume,                                                       \
      (struct store_conn * c, const uint8_t hash[32], int64_t now), (c, hash, now), (void)0)       \
    X(mail_insert, mail.insert,                                                                    \
      (struct store_conn * c, const char *id, const char *to_addr, const char *message_sealed,     \
       int64_t now),                                                                               \
      (c, id, to_addr, message_sealed, now), (void)0)                                              \
    X(mail_due, mail.due,                                                                          \
      (struct store_conn * c, int64_t now, struct store_mail * out, size_t max, size_t * n),       \
      (c, now, out, max, n), (void)0)                                                              \
    X(mail_result, mail.result,                                                                    \
      (struct store_conn * c, const char *id, bool sent, const char *error,                        \
       int64_t next_attempt_at),                                                                   \
      (c, id, sent, error, next_attempt_at), (void)0)                                              \
    X(magic_create, links.create,                                                                  \
      (struct store_conn * c, const uint8_t hash[32], const struct store_magic *m, int64_t now),   \
      (c, hash, m, now), (void)0)                                                                  \
    X(magic_revoke_all, links.revoke_all,                                                          \
      (struct store_conn * c, const char *email_key, int64_t now), (c, email_key, now), (void)0)   \
    X(magic_consume, links.consume,                                                                \
      (struct store_conn * c, const uint8_t hash[32], const char *purpose, int64_t now,            \
       struct store_magic *out),                                                                   \
      (c, hash, purpose, now, out), (void)0)                                                       \
    X(magic_get, links.get,                                                                        \
      (struct store_conn * c, const uint8_t hash[32], struct store_magic *out), (c, hash, out),    \
      (void)0)                                                                                     \
    X(idem_claim, idem.claim,                                                                      \
      (struct store_conn * c, const char *id, const uint8_t body_mac[32], int64_t now,             \
       struct store_idem *out),                                                                    \
      (c, id, body_mac, now, out), (void)0)                                                        \
    X(idem_complete, idem.complete,                                                                \
      (struct store_conn * c, const char *id, int status, const char *response_sealed),            \
      (c, id, status, response_sealed), (void)0)                                                   \
    X(idem_release, idem.release, (struct store_conn * c, const char *id), (c, id), (void)0)       \
    X(prune, upkeep.prune, (struct store_conn * c, int64_t before), (c, before), (void)0)          \
    X(clear_single_use, upkeep.clear_single_use,                                                   \
      (struct store_conn * c, struct store_single_use_cleared * out), (c, out), (void)0)           \
    X(health_probe, health.probe, (struct store_conn * c, int64_t now), (c, now), (void)0)         \
    X(event_append, events.append, (struct store_conn * c, const struct store_event *e), (c, e),   \
      (void)0)                                                                                     \
    X(events_since, events.since,                                                                  \
      (struct store_conn * c, int64_t after, struct store_event * out, size_t max, size_t * n),    \
      (c, after, out, max, n), (void)0)                                                            \
    X(events_max_seq, events.max_seq, (struct store_conn * c, int64_t * seq), (c, seq), (void)0)   \
    X(events_prune, events.prune, (struct store_conn * c, int64_t before), (c, before), (void)0)   \
    X(identity_link, identities.link,                                                              \
      (struct store_conn * c, const struct store_identity *id, const struct store_audit *ev),      \
      (c, id, ev), (void)0)                                                                        \
    X(identity_by_subject, identities.by_subject,                                                  \
      (struct store_conn * c, const char *provider, const char *subject,                           \
       struct store_identity *out),                                                                \
      (c, provider, subject, out), (void)0)                                                        \
    X(identity_list, identities.list,                                                              \
      (struct store_conn * c, const char *user_id, struct store_identity *out, size_t max,         \
       size_t *n),                                                                                 \
      (c, user_id, out, max, n), (void)0)                                                          \
    X(identity_unlink, identities.unlink,                                                          \
      (struct store_conn * c, const char *user_id, const char *provider, const char *subject,      \
       const struct store_audit *ev),                                                              \
      (c, user_id, provider, subject, ev), (void)0)                                                \
    X(identity_touch, identities.touch,                                                            \
      (struct store_conn * c, const char *provider, const char *subject, int64_t now),             \
      (c, provider, subject, now), (void)0)                                                        \
    X(nonce_create, oauth_nonces.create,                                                           \
      (struct store_conn * c, const uint8_t hash[32], const char *provider, int64_t expires_at),   \
      (c, hash, provider, expires_at), (void)0)                                                    \
    X(nonce_consume, oauth_nonces.consume,                                                         \
      (struct store_conn * c, const uint8_t hash[32], const char *provider, int64_t now),          \
      (c, hash, provider, now), (void)0)                                                           \
    X(import_user, import.user,                                                                    \
      (struct store_conn * c, const struct store_user *u, const char *name,                        \
       const char *totp_sealed, const struct store_audit *ev),                                     \
      (c, u, name, totp_sealed, ev), (void)0)

/* The fields the list does not name: name, open, close, migrate. Every
 * other field must be in the list (checked below), so a new operation
 * cannot slip past the wrapper uncounted. */
#define FAULT_UNLISTED 4
#define FAULT_ONE(...) +1
enum { FAULT_LISTED = 0 STORE_FAULT_OPS(FAULT_ONE, FAULT_ONE) };
_Static_assert(sizeof(struct store_ops) == (FAULT_LISTED + FAULT_UNLISTED) * sizeof(void *),
               "struct store_ops changed: add the new operation to STORE_FAULT_OPS");

static struct {
    const struct store_ops *inner;
    struct store_ops ops;
    unsigned fail_at;      /* 0: none */
    const char *fail_name; /* NULL: none */
    _Atomic unsigned calls, injected;
    const char *trace[STORE_FAULT_TRACE_MAX];
} fault;

/* Numbers this call and decides whether it fails. */
static bool fault_hit(const char *name)
{
    unsigned n = atomic_fetch_add(&fault.calls, 1) + 1;
    if (n <= STORE_FAULT_TRACE_MAX) fault.trace[n - 1] = name;
    bool fail = n == fault.fail_at || (fault.fail_name && strcmp(fault.fail_name, name) == 0);
    if (fail) atomic_fetch_add(&fault.injected, 1);
    return fail;
}

#define FAULT_FN(id, member, params, args, on_fail)                                                \
    static enum gh_err fault_##id params                                                           \
    {                                                                                              \
        if (fault_hit(#member)) {                                                                  \
            on_fail;                                                                               \
            return GH_ERR_INTERNAL;                                                                \
        }                                                                                          \
        return fault.inner->member args;                                                           \
    }
#define FAULT_VOID(id, member, params, args)                                                       \
    static void fault_##id params                                                                  \
    {                                                                                              \
        fault.inner->member args;                                                                  \
    }
STORE_FAULT_OPS(FAULT_FN, FAULT_VOID)

#define FAULT_SET(id, member, ...) fault.ops.member = fault_##id;

const struct store_ops *store_fault_wrap(const struct store_ops *inner)
{
    fault.inner = inner;
    fault.ops = *inner; /* open, close and migrate pass straight through */
    fault.ops.name = "fault";
    STORE_FAULT_OPS(FAULT_SET, FAULT_SET)
    store_fault_reset();
    return &fault.ops;
}

void store_fault_reset(void)
{
    fault.fail_at = 0;
    fault.fail_name = NULL;
    atomic_store(&fault.calls, 0);
    atomic_store(&fault.injected, 0);
    memset(fault.trace, 0, sizeof fault.trace);
}

void store_fault_fail_nth(unsigned n)
{
    store_fault_reset();
    fault.fail_at = n;
}

void store_fault_fail_name(const char *name)
{
    store_fault_reset();
    fault.fail_name = name;
}

unsigned store_fault_calls(void)
{
    return atomic_load(&fault.calls);
}

unsigned store_fault_injected(void)
{
    return atomic_load(&fault.injected);
}

const char *store_fault_call_name(unsigned i)
{
    if (i == 0 || i > STORE_FAULT_TRACE_MAX || i > atomic_load(&fault.calls)) return NULL;
    return fault.trace[i - 1];
}
