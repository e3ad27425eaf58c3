#include "federation/federated.h"

#include <stdio.h>
#include <string.h>

#include "accounts/email.h"
#include "accounts/signin.h"
#include "audit/audit.h"
#include "audit/failures.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "mfa/mfa.h"
#include "sessions/authcache.h"
#include "sessions/sessions.h"

bool federated_provider_name_ok(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > STORE_PROVIDER_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            return false;
    return true;
}

/* A sub is an opaque string of 1..255 bytes with no control character. */
static bool subject_ok(const char *s)
{
    size_t n = strnlen(s, STORE_SUBJECT_MAX + 1);
    if (n == 0 || n > STORE_SUBJECT_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

/* A refused federated sign-in: one signin.failure row (bounded per kind
 * and client, audit/failures.h), naming the account only by a keyed hash
 * of the address when there is one. */
static enum gh_err refused(const struct store_ops *ops, struct store_conn *c,
                           const struct accounts_req *in, const char *provider, const char *reason,
                           const char *email_key, enum accounts_outcome o,
                           struct accounts_result *res)
{
    char mac[AUDIT_HASH_HEX + 1] = "", details[256];
    if (email_key && email_key[0]) audit_email_hmac(email_key, mac);
    snprintf(details, sizeof details,
             "{\"method\":\"oidc\",\"provider\":\"%s\",\"reason\":\"%s\"%s%s%s}", provider, reason,
             mac[0] ? ",\"email_hmac\":\"" : "", mac, mac[0] ? "\"" : "");
    struct store_audit ev;
    enum gh_err rc = audit_failure_append(
        ops, c, audit_event(in->audit, &ev, "signin.failure", "anonymous", "", details));
    if (rc == GH_OK) res->outcome = o;
    return rc;
}

/* The identity is linked: its account signs in, through its second factor
 * unless the provider's own counts (trust_mfa and an amr naming one). */
static enum gh_err signin_linked(const struct store_ops *ops, struct store_conn *c,
                                 const struct accounts_req *in, const struct store_identity *id,
                                 bool provider_mfa, uint64_t gen, struct accounts_result *res)
{
    enum gh_err rc = ops->users.by_id(c, id->user_id, &res->u);
    if (rc) return rc == GH_ERR_NOT_FOUND ? GH_ERR_INTERNAL : rc; /* cascades: cannot be */
    if ((rc = ops->identities.touch(c, id->provider, id->subject, gh_now_s()))) return rc;
    authcache_put_user(&res->u, gen);
    if (gh_cfg.email_verification == 2 && !res->u.email_verified_at) {
        res->outcome = ACCOUNTS_NOT_VERIFIED;
        return GH_OK;
    }
    if (!provider_mfa) return signin_first_factor_done(ops, c, in, "oidc", &gen, res);
    bool mfa = false;
    if ((rc = mfa_enabled(ops, c, res->u.id, &mfa))) return rc;
    /* A factor enrolled here is satisfied; the policy's demand to enrol
     * one (GATEHOUSE_MFA_REQUIRED) is not. */
    res->restricted = !mfa && mfa_policy_applies(&res->u);
    return signin_session_start(ops, c, in, "oidc+provider_mfa", true, &gen, res);
}

/* The new account of a verified address: the user row (no password,
 * address verified now), its identity and its first session, one write. */
static enum gh_err create_account(const struct store_ops *ops, struct store_conn *c,
                                  const struct accounts_req *in, const char *provider,
                                  const struct fed_claims *cl, struct accounts_result *res)
{
    struct store_user *u = &res->u;
    int64_t now = gh_now_s();
    sessions_new_id(u->id);
    snprintf(u->role, sizeof u->role, "user"); /* the column's default, for the cache */
    memcpy(u->password_hash, "!", 2);          /* no password: password sign-in always fails */
    u->created_at = u->updated_at = now;
    struct store_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.provider, sizeof id.provider, "%s", provider);
    snprintf(id.subject, sizeof id.subject, "%s", cl->sub);
    memcpy(id.user_id, u->id, sizeof id.user_id);
    snprintf(id.email, sizeof id.email, "%s", cl->email);
    id.created_at = id.last_used_at = now;
    char details[96];
    snprintf(details, sizeof details, "{\"method\":\"oidc\",\"provider\":\"%s\"}", provider);
    struct store_audit ev, lev, vev;
    enum gh_err rc = ops->tx.begin_write(c);
    if (rc) return rc;
    /* import.user: users.create plus the display name (users.name), which
     * the provider may give only now (Apple: on the first sign-in only). */
    rc = ops->import.user(c, u, cl->name, NULL,
                          audit_event(in->audit, &ev, "signup", u->id, u->id, details));
    if (rc == GH_ERR_CONFLICT) { /* an account took the address meanwhile */
        ops->tx.rollback(c);
        return refused(ops, c, in, provider, "address_taken", u->email_key, ACCOUNTS_LINK_REQUIRED,
                       res);
    }
    if (rc == GH_OK)
        rc = ops->users.verify_email(
            c, u->id, now, audit_event(in->audit, &vev, "email.verified", u->id, u->id, details));
    if (rc == GH_OK)
        rc = ops->identities.link(
            c, &id, audit_event(in->audit, &lev, "identity.linked", u->id, u->id, details));
    u->email_verified_at = now;
    res->restricted = gh_cfg.mfa_required == 2; /* no factor yet: under "all" it enrols first */
    struct accounts_req first = *in;            /* the old cookie's session ends after commit */
    first.presented_len = 0;
    if (rc == GH_OK) rc = signin_session_start(ops, c, &first, "oidc", true, NULL, res);
    if (rc == GH_OK) rc = ops->tx.commit(c); /* rolls back itself on failure */
    if (rc) {
        ops->tx.rollback(c);
        res->outcome = ACCOUNTS_NONE;
        return rc == GH_ERR_CONFLICT ? GH_ERR_INTERNAL : rc;
    }
    authcache_put_user(u, authcache_generation());
    signin_end_presented(ops, c, in);
    return GH_OK;
}

/* No account has this identity: a new one for a verified address nobody
 * holds; otherwise the pending-link page (the same whether the address is
 * taken or unproved), or SIGNUP_CLOSED. */
static enum gh_err signin_unlinked(const struct store_ops *ops, struct store_conn *c,
                                   const struct accounts_req *in, const char *provider,
                                   const struct fed_claims *cl, struct accounts_result *res)
{
    struct store_user *u = &res->u;
    bool is_address = cl->email[0] && email_normalize(cl->email, strlen(cl->email), u->email,
                                                      u->email_key) == GH_OK;
    if (!cl->email_verified || !is_address)
        return refused(ops, c, in, provider, cl->email_verified ? "no_email" : "email_not_verified",
                       NULL, ACCOUNTS_LINK_REQUIRED, res);
    struct store_user other;
    enum gh_err rc = ops->users.by_email_key(c, u->email_key, &other);
    gh_wipe(&other, sizeof other);
    if (rc == GH_OK)
        return refused(ops, c, in, provider, "address_taken", u->email_key, ACCOUNTS_LINK_REQUIRED,
                       res);
    if (rc != GH_ERR_NOT_FOUND) return rc;
    if (gh_cfg.signup_closed)
        return refused(ops, c, in, provider, "signup_closed", NULL, ACCOUNTS_SIGNUP_CLOSED, res);
    return create_account(ops, c, in, provider, cl, res);
}

enum gh_err federated_signin(const struct store_ops *ops, struct store_conn *c,
                             const struct accounts_req *in, const char *provider,
                             const struct fed_claims *cl, bool trust_mfa,
                             struct accounts_result *res)
{
    accounts_result_init(res);
    if (!federated_provider_name_ok(provider) || !subject_ok(cl->sub)) return GH_ERR_INVALID;
    char extra[64];
    snprintf(extra, sizeof extra, "{\"provider\":\"%s\"}", provider);
    struct accounts_req fin = *in;
    fin.signin_details = extra;
    uint64_t gen = authcache_generation(); /* before the read: see authcache.h */
    struct store_identity id;
    enum gh_err rc = ops->identities.by_subject(c, provider, cl->sub, &id);
    /* A password change between reading the account and starting its
     * session refuses the session (GH_ERR_CONFLICT): read it again, once. */
    for (int tries = 0; rc == GH_OK && tries < 2; tries++) {
        rc = signin_linked(ops, c, &fin, &id, trust_mfa && cl->mfa, gen, res);
        if (rc != GH_ERR_CONFLICT) return rc;
        accounts_result_clear(res);
        accounts_result_init(res);
        gen = authcache_generation();
        rc = GH_OK;
    }
    if (rc == GH_OK) return GH_ERR_INTERNAL;
    if (rc != GH_ERR_NOT_FOUND) return rc;
    return signin_unlinked(ops, c, &fin, provider, cl, res);
}

enum gh_err federated_link(const struct store_ops *ops, struct store_conn *c,
                           const struct accounts_req *in, const char *user_id, const char *provider,
                           const struct fed_claims *cl)
{
    if (!federated_provider_name_ok(provider) || !subject_ok(cl->sub)) return GH_ERR_INVALID;
    if (!cl->email_verified) return GH_ERR_DENIED;
    struct store_identity id;
    enum gh_err rc = ops->identities.by_subject(c, provider, cl->sub, &id);
    if (rc == GH_OK) return strcmp(id.user_id, user_id) == 0 ? GH_OK : GH_ERR_CONFLICT;
    if (rc != GH_ERR_NOT_FOUND) return rc;
    memset(&id, 0, sizeof id);
    snprintf(id.provider, sizeof id.provider, "%s", provider);
    snprintf(id.subject, sizeof id.subject, "%s", cl->sub);
    snprintf(id.user_id, sizeof id.user_id, "%s", user_id);
    snprintf(id.email, sizeof id.email, "%s", cl->email);
    id.created_at = id.last_used_at = gh_now_s();
    char details[96];
    snprintf(details, sizeof details, "{\"provider\":\"%s\"}", provider);
    struct store_audit ev;
    return ops->identities.link(
        c, &id, audit_event(in->audit, &ev, "identity.linked", user_id, user_id, details));
}

int federated_other_ways(const struct store_user *u)
{
    int n = 0;
    if (u->password_hash[0] && u->password_hash[0] != '!') n++; /* "!": no password */
    if (u->email_verified_at) n++; /* email links reach a proved address */
    return n;
}

/* Which of the identities is meant: the one of provider (and subject when
 * named). -1 none, -2 several and none named. */
static int pick(const struct store_identity *ids, size_t n, const char *provider,
                const char *subject)
{
    int found = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i].provider, provider) != 0) continue;
        if (subject && subject[0]) {
            if (strcmp(ids[i].subject, subject) == 0) return (int)i;
            continue;
        }
        if (found >= 0) return -2;
        found = (int)i;
    }
    return found;
}

#define FED_LIST_MAX 64

enum gh_err federated_unlink(const struct store_ops *ops, struct store_conn *c,
                             const struct accounts_req *in, const char *user_id,
                             const char *provider, const char *subject,
                             enum federated_unlink_outcome *out, struct store_identity *unlinked)
{
    struct store_identity ids[FED_LIST_MAX];
    struct store_user u;
    size_t n = 0;
    *out = FEDERATED_NOT_LINKED;
    memset(unlinked, 0, sizeof *unlinked);
    if (!federated_provider_name_ok(provider)) return GH_OK;
    enum gh_err rc = ops->tx.begin_write(c);
    if (rc) return rc;
    rc = ops->identities.list(c, user_id, ids, FED_LIST_MAX, &n);
    if (rc == GH_OK) rc = ops->users.by_id(c, user_id, &u);
    int i = rc == GH_OK ? pick(ids, n, provider, subject) : -1;
    if (rc == GH_OK && i < 0) {
        *out = i == -2 ? FEDERATED_AMBIGUOUS : FEDERATED_NOT_LINKED;
    } else if (rc == GH_OK && federated_other_ways(&u) + (int)n - 1 < 1) {
        *out = FEDERATED_LAST_METHOD;
    } else if (rc == GH_OK) {
        char details[96];
        snprintf(details, sizeof details, "{\"provider\":\"%s\"}", provider);
        struct store_audit ev;
        rc = ops->identities.unlink(
            c, user_id, provider, ids[i].subject,
            audit_event(in->audit, &ev, "identity.unlinked", user_id, user_id, details));
        if (rc == GH_OK) rc = ops->tx.commit(c);
        if (rc == GH_OK) {
            *unlinked = ids[i];
            *out = FEDERATED_UNLINKED;
        }
    }
    gh_wipe(&u, sizeof u);
    if (*out != FEDERATED_UNLINKED) ops->tx.rollback(c);
    return rc == GH_ERR_NOT_FOUND ? GH_OK : rc;
}
