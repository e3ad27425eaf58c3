/* Every SQL statement of the SQLite backend, indexed by enum stmt_id
 * (sqlite_internal.h): one table, so each is easy to check for bound
 * parameters (no SQL is ever built from input). */
#include "store/sqlite_internal.h"

const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_USER_INSERT] = "INSERT INTO users (id, email, email_key, password_hash, created_at,"
                      " updated_at, tokens_invalidated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_USER_BY_EMAIL] = "SELECT id, email, email_key, password_hash, created_at, updated_at,"
                        " tokens_invalidated_at, COALESCE(email_verified_at, 0), role FROM users"
                        " WHERE email_key = ?1",
    [S_USER_BY_ID] = "SELECT id, email, email_key, password_hash, created_at, updated_at,"
                     " tokens_invalidated_at, COALESCE(email_verified_at, 0), role FROM users"
                     " WHERE id = ?1",
    [S_USER_SET_ROLE] = "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1",
    [S_USER_VERIFY] = "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?2)"
                      " WHERE id = ?1",
    [S_USER_SET_EMAIL] = "UPDATE users SET email = ?2, email_key = ?3, email_verified_at = ?4,"
                         " updated_at = ?4 WHERE id = ?1",
    [S_USER_REHASH] = "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1"
                      " AND password_hash = ?4",
    [S_USER_OTHER_HASHES] =
        "SELECT id, password_hash FROM users WHERE id > ?2"
        " AND password_hash <> '!' AND substr(password_hash, 1, length(?1)) <> ?1"
        " ORDER BY id LIMIT ?3",
    [S_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?2, tokens_invalidated_at = ?3,"
                            " updated_at = ?4 WHERE id = ?1",
    [S_SESS_REVOKE_OTHERS] = "UPDATE sessions SET revoked_at = ?3 WHERE user_id = ?1"
                             " AND revoked_at IS NULL AND id <> ?2",
    [S_SESS_INSERT] =
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at,"
        " ip, user_agent, restricted, mode, mfa_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " ?10)",
    [S_RT_INSERT] = "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [S_SESS_GET] =
        "SELECT id, user_id, created_at, last_used_at, expires_at,"
        " COALESCE(revoked_at, 0), ip, user_agent, restricted, mode, mfa_at FROM sessions"
        " WHERE id = ?1",
    [S_SESS_LIST] =
        "SELECT id, user_id, created_at, last_used_at, expires_at,"
        " COALESCE(revoked_at, 0), ip, user_agent, restricted, mode, mfa_at FROM sessions"
        " WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2"
        " ORDER BY created_at DESC, id LIMIT ?3",
    [S_SESS_REVOKE] = "UPDATE sessions SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2"
                      " AND revoked_at IS NULL",
    [S_SESS_UNRESTRICT] = "UPDATE sessions SET restricted = 0 WHERE id = ?1",
    [S_SESS_SET_MFA_AT] = "UPDATE sessions SET mfa_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [S_SESS_REVOKE_USER] = "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1"
                           " AND revoked_at IS NULL",
    [S_SESS_REVOKE_ALL] = "UPDATE sessions SET revoked_at = ?1 WHERE revoked_at IS NULL",
    [S_USER_INVALIDATE_ALL] = "UPDATE users SET tokens_invalidated_at = ?1"
                              " WHERE tokens_invalidated_at < ?1",
    /* One change event of kind ?1 per account (sessions.revoke_all). */
    [S_EVENT_EVERY_USER] = "INSERT INTO change_events (kind, user_id, session_id, text_value,"
                           " int_value, origin, created_at) SELECT ?1, id, '', '', ?2, ?3, ?4"
                           " FROM users",
    [S_RT_GET] = "SELECT r.session_id, s.user_id, r.expires_at, COALESCE(r.rotated_at_us, 0),"
                 " (s.revoked_at IS NULL AND s.expires_at > ?2), u.tokens_invalidated_at,"
                 " r.successor_box, s.restricted, r.created_at, s.mode, s.created_at"
                 " FROM refresh_tokens r"
                 " JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id"
                 " WHERE r.token_hash = ?1",
    [S_RT_SPEND] = "UPDATE refresh_tokens SET rotated_at_us = ?2, successor_box = ?3"
                   " WHERE token_hash = ?1 AND rotated_at_us IS NULL AND expires_at > ?4"
                   " AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = session_id"
                   " AND s.revoked_at IS NULL)",
    [S_RT_FORGET_ONE] = "UPDATE refresh_tokens SET successor_box = NULL WHERE token_hash = ?1"
                        " AND rotated_at_us < ?2 AND successor_box IS NOT NULL",
    [S_RT_FORGET_ALL] = "UPDATE refresh_tokens SET successor_box = NULL"
                        " WHERE successor_box IS NOT NULL AND rotated_at_us < ?1",
    [S_SESS_TOUCH] = "UPDATE sessions SET last_used_at = ?2, expires_at = ?3 WHERE id = ?1",
    [S_VK_LIST] = "SELECT kid, wrapped, created_at FROM vault_keys ORDER BY created_at, kid"
                  " LIMIT ?1",
    [S_VK_INSERT] = "INSERT INTO vault_keys (kid, wrapped, created_at) VALUES (?1, ?2, ?3)",
    [S_VK_DELETE] = "DELETE FROM vault_keys WHERE kid = ?1",
    [S_VK_REWRAP] = "UPDATE vault_keys SET wrapped = ?2 WHERE kid = ?1",
    /* The newest ?1 keys, returned oldest first: a long history must never
     * hide the key that signs now. */
    [S_SK_LIST] = "SELECT kid, private_sealed, created_at, activates_at FROM (SELECT * FROM"
                  " signing_keys ORDER BY activates_at DESC, created_at DESC, kid DESC LIMIT ?1)"
                  " ORDER BY activates_at, created_at, kid",
    [S_SK_INSERT] = "INSERT INTO signing_keys (kid, private_sealed, created_at, activates_at)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [S_SK_DELETE] = "DELETE FROM signing_keys WHERE kid = ?1",
    [S_SEALED_SK_LIST] = "SELECT kid, private_sealed FROM signing_keys WHERE kid > ?1"
                         " ORDER BY kid LIMIT ?2",
    [S_SEALED_SK_REPLACE] = "UPDATE signing_keys SET private_sealed = ?3 WHERE kid = ?1"
                            " AND private_sealed = ?2",
    [S_AUDIT_LAST] = "SELECT id, hash, occurred_at FROM audit_log ORDER BY id DESC LIMIT 1",
    [S_AUDIT_INSERT] = "INSERT INTO audit_log (id, occurred_at, actor, action, target, ip,"
                       " user_agent, request_id, details, prev_hash, hash)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_AUDIT_LIST] = "SELECT id, occurred_at, actor, action, target, ip, user_agent, request_id,"
                     " details, prev_hash, hash FROM audit_log"
                     " WHERE (actor = ?1 OR target = ?1) AND id < ?2 ORDER BY id DESC LIMIT ?3",
    [S_AUDIT_SCAN] =
        "SELECT id, occurred_at, actor, action, target, ip, user_agent, request_id,"
        " details, prev_hash, hash FROM audit_log WHERE id > ?1 AND id <= ?2 ORDER BY id",
    [S_AUDIT_GATE] = "UPDATE audit_gate SET open = ?1 WHERE id = 1",
    /* Never the newest row: the chain must go on from somewhere. */
    [S_AUDIT_PRUNE_LAST] = "SELECT MAX(id), COUNT(*) FROM audit_log WHERE id < (SELECT COALESCE("
                           "MIN(id), 9223372036854775807) FROM audit_log WHERE occurred_at >= ?1)"
                           " AND id < (SELECT MAX(id) FROM audit_log)",
    [S_AUDIT_PRUNE] = "DELETE FROM audit_log WHERE id <= ?1",
    [S_AUDIT_HASH_OF] = "SELECT hash FROM audit_log WHERE id = ?1",
    [S_AUDIT_BOUNDS] = "SELECT MIN(id), MAX(id), COUNT(*) FROM audit_log",
    [S_TOTP_GET] = "SELECT secret_sealed, created_at, COALESCE(confirmed_at, 0), last_step"
                   " FROM mfa_totp WHERE user_id = ?1",
    /* Replaces only an unconfirmed enrolment. */
    [S_TOTP_BEGIN] = "INSERT INTO mfa_totp (user_id, secret_sealed, created_at) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed,"
                     " created_at = excluded.created_at, last_step = -1"
                     " WHERE mfa_totp.confirmed_at IS NULL",
    [S_TOTP_CONFIRM] = "UPDATE mfa_totp SET confirmed_at = ?3, last_step = ?2"
                       " WHERE user_id = ?1 AND confirmed_at IS NULL",
    [S_BACKUP_CLEAR] = "DELETE FROM mfa_backup_codes WHERE user_id = ?1",
    [S_BACKUP_INSERT] = "INSERT INTO mfa_backup_codes (user_id, code_hash) VALUES (?1, ?2)",
    [S_TOTP_USE] = "UPDATE mfa_totp SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2"
                   " AND confirmed_at IS NOT NULL",
    [S_TOTP_DELETE] = "DELETE FROM mfa_totp WHERE user_id = ?1",
    [S_TOTP_CONFIRMED] = "SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND confirmed_at IS NOT NULL",
    [S_BACKUP_USE] = "UPDATE mfa_backup_codes SET used_at = ?3 WHERE user_id = ?1"
                     " AND code_hash = ?2 AND used_at IS NULL",
    [S_CH_INSERT] = "INSERT INTO mfa_challenges (token_hash, user_id, tokens_invalidated_at,"
                    " expires_at, first_factor) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CH_ATTEMPT] = "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ?1"
                     " AND used_at IS NULL AND expires_at > ?3 AND attempts < ?2",
    [S_CH_GET] = "SELECT user_id, tokens_invalidated_at, expires_at, attempts,"
                 " COALESCE(used_at, 0), first_factor FROM mfa_challenges WHERE token_hash = ?1",
    [S_CH_CONSUME] = "UPDATE mfa_challenges SET used_at = ?2 WHERE token_hash = ?1"
                     " AND used_at IS NULL",
    [S_SEALED_TOTP_LIST] = "SELECT user_id, secret_sealed FROM mfa_totp WHERE user_id > ?1"
                           " ORDER BY user_id LIMIT ?2",
    [S_SEALED_TOTP_REPLACE] = "UPDATE mfa_totp SET secret_sealed = ?3 WHERE user_id = ?1"
                              " AND secret_sealed = ?2",
    [S_MAIL_INSERT] = "INSERT INTO mail_queue (id, to_addr, message_sealed, created_at,"
                      " next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_MAIL_DUE] = "SELECT id, to_addr, message_sealed, attempts FROM mail_queue"
                   " WHERE sent_at IS NULL AND next_attempt_at <= ?1"
                   " ORDER BY next_attempt_at, created_at LIMIT ?2",
    [S_MAIL_SENT] = "UPDATE mail_queue SET sent_at = ?2, attempts = attempts + 1,"
                    " last_error = '' WHERE id = ?1",
    [S_MAIL_FAILED] = "UPDATE mail_queue SET attempts = attempts + 1, last_error = ?2,"
                      " next_attempt_at = ?3 WHERE id = ?1",
    [S_MAGIC_INSERT] = "INSERT INTO magic_links (token_hash, email_key, email, created_at,"
                       " expires_at, purpose, new_email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_MAGIC_CONSUME] = "UPDATE magic_links SET used_at = ?2 WHERE token_hash = ?1"
                        " AND used_at IS NULL AND purpose = ?3",
    [S_MAGIC_GET] = "SELECT email_key, email, expires_at, COALESCE(used_at, 0), purpose,"
                    " new_email FROM magic_links WHERE token_hash = ?1",
    [S_SEALED_MAIL_LIST] = "SELECT id, message_sealed FROM mail_queue WHERE id > ?1"
                           " ORDER BY id LIMIT ?2",
    [S_SEALED_MAIL_REPLACE] = "UPDATE mail_queue SET message_sealed = ?3 WHERE id = ?1"
                              " AND message_sealed = ?2",
    [S_PRUNE_MAIL] = "DELETE FROM mail_queue WHERE sent_at < ?1"
                     " OR (sent_at IS NULL AND created_at < ?1 - 604800)",
    [S_PRUNE_MAGIC] = "DELETE FROM magic_links WHERE expires_at < ?1",
    [S_PRUNE_CHALLENGES] = "DELETE FROM mfa_challenges WHERE expires_at < ?1",
    [S_PRUNE_IDEM] = "DELETE FROM idempotency WHERE created_at < ?1",
    /* gatehouse restore: every single-use row, spent or not, and unsent mail. */
    [S_CLEAR_LINKS] = "DELETE FROM magic_links",
    [S_CLEAR_CHALLENGES] = "DELETE FROM mfa_challenges",
    [S_CLEAR_NONCES] = "DELETE FROM oauth_nonces",
    [S_CLEAR_IDEM] = "DELETE FROM idempotency",
    [S_CLEAR_MAIL] = "DELETE FROM mail_queue WHERE sent_at IS NULL",
    /* A claim left running by a crash is taken over after IDEM_STALE_S. */
    [S_IDEM_INSERT] = "INSERT INTO idempotency (id, body_mac, created_at) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (id) DO UPDATE SET body_mac = excluded.body_mac,"
                      " created_at = excluded.created_at"
                      " WHERE idempotency.status = 0 AND idempotency.created_at < ?4",
    [S_IDEM_GET] = "SELECT body_mac, status, response_sealed FROM idempotency WHERE id = ?1",
    [S_IDEM_COMPLETE] = "UPDATE idempotency SET status = ?2, response_sealed = ?3 WHERE id = ?1",
    [S_IDEM_DELETE] = "DELETE FROM idempotency WHERE id = ?1",
    /* The sealed signer key of an imported Firebase hash sits between the
     * 17-character prefix and the first '$' (credentials/legacy_hash.h). */
    [S_SEALED_PWKEY_LIST] = "SELECT id, substr(password_hash, 18, instr(password_hash, '$') - 18)"
                            " FROM users WHERE id > ?1"
                            " AND substr(password_hash, 1, 17) = '{firebase_scrypt}'"
                            " AND instr(password_hash, '$') > 18 ORDER BY id LIMIT ?2",
    [S_SEALED_PWKEY_REPLACE] = "UPDATE users SET password_hash = '{firebase_scrypt}' || ?3"
                               " || substr(password_hash, 18 + length(?2)) WHERE id = ?1"
                               " AND substr(password_hash, 1, 18 + length(?2))"
                               " = '{firebase_scrypt}' || ?2 || '$'",
    [S_SEALED_IDEM_LIST] = "SELECT id, response_sealed FROM idempotency WHERE id > ?1"
                           " AND response_sealed IS NOT NULL ORDER BY id LIMIT ?2",
    [S_SEALED_IDEM_REPLACE] = "UPDATE idempotency SET response_sealed = ?3 WHERE id = ?1"
                              " AND response_sealed = ?2",
    [S_MAGIC_SUPERSEDE] = "UPDATE magic_links SET used_at = ?3 WHERE email_key = ?1"
                          " AND purpose = ?2 AND used_at IS NULL",
    [S_MAGIC_REVOKE_ALL] = "UPDATE magic_links SET used_at = ?2 WHERE email_key = ?1"
                           " AND used_at IS NULL",
    [S_PRUNE_RT] = "DELETE FROM refresh_tokens WHERE expires_at < ?1",
    [S_PRUNE_SESS] = "DELETE FROM sessions WHERE expires_at < ?1",
    /* A page of fresh bytes: the WAL must grow and be synced to the disk. */
    [S_HEALTH_PROBE] = "INSERT OR REPLACE INTO health_probe (id, written_at, pad)"
                       " VALUES (1, ?1, randomblob(4096))",
    [S_EVENT_INSERT] = "INSERT INTO change_events (kind, user_id, session_id, text_value,"
                       " int_value, origin, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_EVENT_SINCE] = "SELECT seq, kind, user_id, session_id, text_value, int_value, origin,"
                      " created_at FROM change_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [S_EVENT_MAX] = "SELECT COALESCE(MAX(seq), 0) FROM change_events",
    [S_EVENT_PRUNE] = "DELETE FROM change_events WHERE created_at < ?1",
    [S_IDENT_INSERT] = "INSERT INTO identities (provider, subject, user_id, email, created_at,"
                       " last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_IDENT_BY_SUBJECT] = "SELECT provider, subject, user_id, email, created_at, last_used_at"
                           " FROM identities WHERE provider = ?1 AND subject = ?2",
    [S_IDENT_LIST] = "SELECT provider, subject, user_id, email, created_at, last_used_at"
                     " FROM identities WHERE user_id = ?1 ORDER BY created_at, provider, subject"
                     " LIMIT ?2",
    [S_IDENT_DELETE] = "DELETE FROM identities WHERE user_id = ?1 AND provider = ?2"
                       " AND subject = ?3",
    [S_IDENT_DELETE_USER] = "DELETE FROM identities WHERE user_id = ?1",
    [S_IDENT_TOUCH] = "UPDATE identities SET last_used_at = ?3 WHERE provider = ?1"
                      " AND subject = ?2",
    [S_NONCE_INSERT] = "INSERT INTO oauth_nonces (nonce_hash, provider, expires_at)"
                       " VALUES (?1, ?2, ?3)",
    [S_NONCE_CONSUME] = "UPDATE oauth_nonces SET used_at = ?3 WHERE nonce_hash = ?1"
                        " AND provider = ?2 AND used_at IS NULL AND expires_at > ?3",
    [S_PRUNE_NONCES] = "DELETE FROM oauth_nonces WHERE expires_at < ?1",
    [S_IMPORT_USER] = "INSERT INTO users (id, email, email_key, password_hash, created_at,"
                      " updated_at, tokens_invalidated_at, email_verified_at, role, name)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, NULLIF(?6, 0), ?7, ?8)",
    [S_IMPORT_TOTP] = "INSERT INTO mfa_totp (user_id, secret_sealed, created_at, confirmed_at,"
                      " last_step) VALUES (?1, ?2, ?3, ?3, -1)",
};
