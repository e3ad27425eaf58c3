/* TEMPORARY placeholder (helper branches only, never on main): the
 * functions of pg_mfa.c, pg_links.c, pg_identities.c until helper pgmfa writes them; each logs and
 * fails closed. `git rm` this file in the commit that adds the real ones. */
#include "store/pg_internal.h"

#define PG_WIP(name) gh_log(GH_LOG_ERROR, "postgres: %s not written yet", name)

enum gh_err pg_totp_get(struct store_conn *c, const char *uid, struct store_totp *o)
{
    (void)c;
    (void)uid;
    (void)o;
    PG_WIP("pg_totp_get");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_totp_begin(struct store_conn *c, const char *uid, const char *sealed, int64_t now)
{
    (void)c;
    (void)uid;
    (void)sealed;
    (void)now;
    PG_WIP("pg_totp_begin");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_totp_confirm(struct store_conn *c, const char *uid, int64_t step,
                            const uint8_t hashes[STORE_BACKUP_CODES][32], const char *keep_sid,
                            int64_t now, const struct store_audit *ev)
{
    (void)c;
    (void)uid;
    (void)step;
    (void)hashes;
    (void)keep_sid;
    (void)now;
    (void)ev;
    PG_WIP("pg_totp_confirm");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_backup_replace(struct store_conn *c, const char *uid,
                              const uint8_t hashes[STORE_BACKUP_CODES][32],
                              const struct store_audit *ev)
{
    (void)c;
    (void)uid;
    (void)hashes;
    (void)ev;
    PG_WIP("pg_backup_replace");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_totp_use_step(struct store_conn *c, const char *uid, int64_t step)
{
    (void)c;
    (void)uid;
    (void)step;
    PG_WIP("pg_totp_use_step");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_totp_delete(struct store_conn *c, const char *uid, const char *keep_sid, int64_t now,
                           const struct store_audit *ev)
{
    (void)c;
    (void)uid;
    (void)keep_sid;
    (void)now;
    (void)ev;
    PG_WIP("pg_totp_delete");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_backup_use(struct store_conn *c, const char *uid, const uint8_t hash[32],
                          int64_t now)
{
    (void)c;
    (void)uid;
    (void)hash;
    (void)now;
    PG_WIP("pg_backup_use");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_challenge_create(struct store_conn *c, const uint8_t hash[32],
                                const struct store_challenge *ch)
{
    (void)c;
    (void)hash;
    (void)ch;
    PG_WIP("pg_challenge_create");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_challenge_attempt(struct store_conn *c, const uint8_t hash[32], int max, int64_t now,
                                 struct store_challenge *o)
{
    (void)c;
    (void)hash;
    (void)max;
    (void)now;
    (void)o;
    PG_WIP("pg_challenge_attempt");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_challenge_consume(struct store_conn *c, const uint8_t hash[32], int64_t now)
{
    (void)c;
    (void)hash;
    (void)now;
    PG_WIP("pg_challenge_consume");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_magic_create(struct store_conn *c, const uint8_t hash[32],
                            const struct store_magic *m, int64_t now)
{
    (void)c;
    (void)hash;
    (void)m;
    (void)now;
    PG_WIP("pg_magic_create");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_magic_revoke_all(struct store_conn *c, const char *email_key, int64_t now)
{
    (void)c;
    (void)email_key;
    (void)now;
    PG_WIP("pg_magic_revoke_all");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_magic_get(struct store_conn *c, const uint8_t hash[32], struct store_magic *out)
{
    (void)c;
    (void)hash;
    (void)out;
    PG_WIP("pg_magic_get");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_magic_consume(struct store_conn *c, const uint8_t hash[32], const char *purpose,
                             int64_t now, struct store_magic *out)
{
    (void)c;
    (void)hash;
    (void)purpose;
    (void)now;
    (void)out;
    PG_WIP("pg_magic_consume");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_mail_insert(struct store_conn *c, const char *id, const char *to, const char *sealed,
                           int64_t now)
{
    (void)c;
    (void)id;
    (void)to;
    (void)sealed;
    (void)now;
    PG_WIP("pg_mail_insert");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_mail_due(struct store_conn *c, int64_t now, struct store_mail *out, size_t max,
                        size_t *n)
{
    (void)c;
    (void)now;
    (void)out;
    (void)max;
    (void)n;
    PG_WIP("pg_mail_due");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_mail_result(struct store_conn *c, const char *id, bool sent, const char *error,
                           int64_t next_attempt_at)
{
    (void)c;
    (void)id;
    (void)sent;
    (void)error;
    (void)next_attempt_at;
    PG_WIP("pg_mail_result");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_idem_claim(struct store_conn *c, const char *id, const uint8_t mac[32], int64_t now,
                          struct store_idem *out)
{
    (void)c;
    (void)id;
    (void)mac;
    (void)now;
    (void)out;
    PG_WIP("pg_idem_claim");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_idem_complete(struct store_conn *c, const char *id, int status, const char *sealed)
{
    (void)c;
    (void)id;
    (void)status;
    (void)sealed;
    PG_WIP("pg_idem_complete");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_idem_release(struct store_conn *c, const char *id)
{
    (void)c;
    (void)id;
    PG_WIP("pg_idem_release");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_identity_link(struct store_conn *c, const struct store_identity *id,
                             const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)ev;
    PG_WIP("pg_identity_link");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_identity_by_subject(struct store_conn *c, const char *provider, const char *subject,
                                   struct store_identity *out)
{
    (void)c;
    (void)provider;
    (void)subject;
    (void)out;
    PG_WIP("pg_identity_by_subject");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_identity_list(struct store_conn *c, const char *user_id, struct store_identity *out,
                             size_t max, size_t *n)
{
    (void)c;
    (void)user_id;
    (void)out;
    (void)max;
    (void)n;
    PG_WIP("pg_identity_list");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_identity_unlink(struct store_conn *c, const char *user_id, const char *provider,
                               const char *subject, const struct store_audit *ev)
{
    (void)c;
    (void)user_id;
    (void)provider;
    (void)subject;
    (void)ev;
    PG_WIP("pg_identity_unlink");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_identity_touch(struct store_conn *c, const char *provider, const char *subject,
                              int64_t now)
{
    (void)c;
    (void)provider;
    (void)subject;
    (void)now;
    PG_WIP("pg_identity_touch");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_nonce_create(struct store_conn *c, const uint8_t hash[32], const char *provider,
                            int64_t expires_at)
{
    (void)c;
    (void)hash;
    (void)provider;
    (void)expires_at;
    PG_WIP("pg_nonce_create");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_nonce_consume(struct store_conn *c, const uint8_t hash[32], const char *provider,
                             int64_t now)
{
    (void)c;
    (void)hash;
    (void)provider;
    (void)now;
    PG_WIP("pg_nonce_consume");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_import_user(struct store_conn *c, const struct store_user *u, const char *name,
                           const char *totp_sealed, const struct store_audit *ev)
{
    (void)c;
    (void)u;
    (void)name;
    (void)totp_sealed;
    (void)ev;
    PG_WIP("pg_import_user");
    return GH_ERR_INTERNAL;
}
