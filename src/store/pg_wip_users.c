/* TEMPORARY placeholder (helper branches only, never on main): the
 * functions of pg_users.c, pg_sessions.c until helper pgusers writes them; each logs and fails
 * closed. `git rm` this file in the commit that adds the real ones. */
#include "store/pg_internal.h"

#define PG_WIP(name) gh_log(GH_LOG_ERROR, "postgres: %s not written yet", name)

enum gh_err pg_user_create(struct store_conn *c, const struct store_user *u,
                           const struct store_audit *ev)
{
    (void)c;
    (void)u;
    (void)ev;
    PG_WIP("pg_user_create");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_set_role(struct store_conn *c, const char *id, const char *role,
                             const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)role;
    (void)ev;
    PG_WIP("pg_user_set_role");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_by_email_key(struct store_conn *c, const char *key, struct store_user *out)
{
    (void)c;
    (void)key;
    (void)out;
    PG_WIP("pg_user_by_email_key");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    (void)c;
    (void)id;
    (void)out;
    PG_WIP("pg_user_by_id");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_verify_email(struct store_conn *c, const char *id, int64_t now,
                                 const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)now;
    (void)ev;
    PG_WIP("pg_user_verify_email");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_rehash(struct store_conn *c, const char *id, const char *old_hash,
                           const char *hash, int64_t now, const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)old_hash;
    (void)hash;
    (void)now;
    (void)ev;
    PG_WIP("pg_user_rehash");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_other_hashes(struct store_conn *c, const char *keep_prefix, const char *after,
                                 struct store_hash_row *out, size_t max, size_t *n)
{
    (void)c;
    (void)keep_prefix;
    (void)after;
    (void)out;
    (void)max;
    (void)n;
    PG_WIP("pg_user_other_hashes");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_set_password(struct store_conn *c, const char *id, const char *hash,
                                 int64_t tia, const char *keep_sid, int64_t now,
                                 const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)hash;
    (void)tia;
    (void)keep_sid;
    (void)now;
    (void)ev;
    PG_WIP("pg_user_set_password");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_set_email(struct store_conn *c, const char *id, const char *email,
                              const char *key, int64_t now, const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)email;
    (void)key;
    (void)now;
    (void)ev;
    PG_WIP("pg_user_set_email");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_user_reclaim(struct store_conn *c, const char *id, int64_t tia, int64_t now,
                            const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)tia;
    (void)now;
    (void)ev;
    PG_WIP("pg_user_reclaim");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_session_create(struct store_conn *c, const struct store_session *ss,
                              const uint8_t token_hash[32], int64_t expect_tia,
                              const struct store_audit *ev)
{
    (void)c;
    (void)ss;
    (void)token_hash;
    (void)expect_tia;
    (void)ev;
    PG_WIP("pg_session_create");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_session_get(struct store_conn *c, const char *id, struct store_session *out)
{
    (void)c;
    (void)id;
    (void)out;
    PG_WIP("pg_session_get");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_session_list(struct store_conn *c, const char *uid, int64_t now,
                            struct store_session *out, size_t max, size_t *n)
{
    (void)c;
    (void)uid;
    (void)now;
    (void)out;
    (void)max;
    (void)n;
    PG_WIP("pg_session_list");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_session_revoke(struct store_conn *c, const char *id, const char *uid, int64_t now,
                              const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)uid;
    (void)now;
    (void)ev;
    PG_WIP("pg_session_revoke");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_session_unrestrict(struct store_conn *c, const char *id)
{
    (void)c;
    (void)id;
    PG_WIP("pg_session_unrestrict");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_session_set_mfa_at(struct store_conn *c, const char *id, int64_t at,
                                  const struct store_audit *ev)
{
    (void)c;
    (void)id;
    (void)at;
    (void)ev;
    PG_WIP("pg_session_set_mfa_at");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_sessions_revoke_user(struct store_conn *c, const char *uid, int64_t now,
                                    const struct store_audit *ev)
{
    (void)c;
    (void)uid;
    (void)now;
    (void)ev;
    PG_WIP("pg_sessions_revoke_user");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_sessions_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                                      int64_t now, size_t *n)
{
    (void)c;
    (void)uid;
    (void)keep_sid;
    (void)now;
    (void)n;
    PG_WIP("pg_sessions_revoke_others");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_revoke_others(struct store_conn *c, const char *uid, const char *keep_sid,
                             int64_t now)
{
    (void)c;
    (void)uid;
    (void)keep_sid;
    (void)now;
    PG_WIP("pg_revoke_others");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_refresh_get(struct store_conn *c, const uint8_t hash[32], struct store_refresh *o)
{
    (void)c;
    (void)hash;
    (void)o;
    PG_WIP("pg_refresh_get");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_refresh_forget_successors(struct store_conn *c, const uint8_t *token_hash,
                                         int64_t rotated_before_us)
{
    (void)c;
    (void)token_hash;
    (void)rotated_before_us;
    PG_WIP("pg_refresh_forget_successors");
    return GH_ERR_INTERNAL;
}

enum gh_err pg_refresh_rotate(struct store_conn *c, const uint8_t old_hash[32],
                              const uint8_t new_hash[32], const uint8_t *box, size_t box_len,
                              int64_t now_us, int64_t new_expires)
{
    (void)c;
    (void)old_hash;
    (void)new_hash;
    (void)box;
    (void)box_len;
    (void)now_us;
    (void)new_expires;
    PG_WIP("pg_refresh_rotate");
    return GH_ERR_INTERNAL;
}
