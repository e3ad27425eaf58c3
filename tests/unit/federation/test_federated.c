/* Unit tests for src/federation/federated.c on a temporary SQLite store,
 * with claims crafted here (as oidc.h would hand them over after checking
 * an ID token): a new account only for a verified address nobody holds
 * while sign-up is open; an address that has an account, or an unverified
 * one, answers LINK_REQUIRED and links nothing, signs nobody in; a linked
 * identity signs its account in, through its second factor unless the
 * provider's counts; linking refuses an unverified identity and another
 * account's; unlinking keeps the last way to sign in. Every case checks
 * what did not change (no account, no identity, no session). */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "accounts/signin.h"
#include "audit/failures.h"
#include "core/util.h"
#include "credentials/password.h"
#include "federation/federated.h"
#include "federation/pending_link.h"
#include "guard/limit.h"
#include "sessions/authcache.h"
#include "sessions/sessions.h"
#include "store/fault.h"
#include "store/store.h"
#include "vault/vault.h"

static const struct store_ops *ops = &store_sqlite;
static char dir[512], path[600];

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0) return -1; /* main() does this; sodium_malloc needs it */
    test_config();
    gh_cfg.audit_failure_rows = 100;
    gh_cfg.audit_failure_window = 60;
    if (password_init() != GH_OK || limit_init() != GH_OK ||
        authcache_init(AUTHCACHE_MIN_BYTES) != GH_OK)
        return -1;
    return test_mkdtemp(dir, sizeof dir, "gh_federated_")
               ? -1
               : (snprintf(path, sizeof path, "%s/test.db", dir), 0);
}

static int group_teardown(void **state)
{
    (void)state;
    authcache_shutdown();
    test_rm_db(path);
    rmdir(dir);
    return 0;
}

static int setup(void **state)
{
    test_rm_db(path);
    audit_failures_reset();
    gh_cfg.email_verification = 0;
    gh_cfg.signup_closed = false;
    gh_cfg.mfa_required = 0;
    struct store_conn *c = NULL;
    if (ops->open(path, &c) != GH_OK || ops->migrate(c) != GH_OK) return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ops->close(*state);
    test_rm_db(path);
    return 0;
}

/* A browser's cookie sign-in, auditing on (cookie mode: no access token
 * to sign, so no signing key is needed). */
static void req(struct accounts_req *in, struct store_audit *base)
{
    *base = (struct store_audit){.ip = "192.0.2.7", .user_agent = "test", .request_id = "req-1"};
    *in = (struct accounts_req){
        .ip = "192.0.2.7", .user_agent = "test", .audit = base, .cookie = true};
}

static struct fed_claims claims(const char *sub, const char *email, bool verified)
{
    struct fed_claims cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.sub, sizeof cl.sub, "%s", sub);
    snprintf(cl.email, sizeof cl.email, "%s", email);
    cl.email_verified = verified;
    cl.iat = gh_now_s();
    return cl;
}

static void add_user(struct store_conn *c, const char *email, bool with_pw, bool verified,
                     struct store_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->email_key, sizeof u->email_key, "%s", email);
    snprintf(u->role, sizeof u->role, "user");
    sessions_new_id(u->id);
    if (with_pw) {
        const char *pw = "correct horse battery staple 42";
        assert_int_equal(password_hash(u->password_hash, pw, strlen(pw)), GH_OK);
    } else {
        snprintf(u->password_hash, sizeof u->password_hash, "!");
    }
    u->created_at = u->updated_at = gh_now_s();
    assert_int_equal(ops->users.create(c, u, NULL), GH_OK);
    if (verified) assert_int_equal(ops->users.verify_email(c, u->id, gh_now_s(), NULL), GH_OK);
}

static void link_row(struct store_conn *c, const char *provider, const char *sub, const char *uid)
{
    struct store_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.provider, sizeof id.provider, "%s", provider);
    snprintf(id.subject, sizeof id.subject, "%s", sub);
    snprintf(id.user_id, sizeof id.user_id, "%s", uid);
    id.created_at = id.last_used_at = 1000;
    assert_int_equal(ops->identities.link(c, &id, NULL), GH_OK);
}

static void enable_totp(struct store_conn *c, const char *uid)
{
    uint8_t hashes[STORE_BACKUP_CODES][32];
    memset(hashes, 0, sizeof hashes);
    for (int i = 0; i < STORE_BACKUP_CODES; i++)
        hashes[i][0] = (uint8_t)i;
    assert_int_equal(ops->totp.begin(c, uid, "sealed-secret", gh_now_s()), GH_OK);
    assert_int_equal(ops->totp.confirm(c, uid, 1, hashes, NULL, gh_now_s(), NULL), GH_OK);
}

static int64_t count(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* Runs sql on the test database; 0 on success. */
static int sqlite3_exec_count(const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

#define USERS() count("SELECT COUNT(*) FROM users")
#define IDENTITIES() count("SELECT COUNT(*) FROM identities")
#define SESSIONS() count("SELECT COUNT(*) FROM sessions")
#define AUDITED(action) count("SELECT COUNT(*) FROM audit_log WHERE action = '" action "'")

/* A verified address nobody holds: a new account (no password, address
 * verified), its identity, a session; audited signup, identity.linked,
 * signin.success with method oidc and the provider. */
static void test_new_account(void **state)
{
    struct store_conn *c = *state;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("g-123", "New.Person@Example.COM", true);
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_SIGNED_IN);
    assert_string_equal(res.u.email, "New.Person@example.com");
    assert_string_equal(res.u.password_hash, "!");
    assert_true(res.pair.session_id[0]);
    struct store_user u;
    assert_int_equal(ops->users.by_id(c, res.u.id, &u), GH_OK);
    assert_true(u.email_verified_at > 0);
    assert_string_equal(u.password_hash, "!");
    struct store_identity id;
    assert_int_equal(ops->identities.by_subject(c, "google", "g-123", &id), GH_OK);
    assert_string_equal(id.user_id, res.u.id);
    assert_string_equal(id.email, "New.Person@Example.COM");
    assert_int_equal(SESSIONS(), 1);
    assert_int_equal(AUDITED("signup"), 1);
    assert_int_equal(AUDITED("identity.linked"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM audit_log WHERE action = 'signin.success' AND"
                           " json_extract(details, '$.method') = 'oidc' AND"
                           " json_extract(details, '$.provider') = 'google'"),
                     1);
    accounts_result_clear(&res);
    /* The same identity again: the same account, no new one. */
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_SIGNED_IN);
    assert_string_equal(res.u.id, u.id);
    assert_int_equal(USERS(), 1);
    assert_int_equal(SESSIONS(), 2);
    assert_int_equal(ops->identities.by_subject(c, "google", "g-123", &id), GH_OK);
    assert_true(id.last_used_at >= id.created_at);
    accounts_result_clear(&res);
}

/* An address that has an account: LINK_REQUIRED, nothing linked, no
 * session, the account untouched; audited signin.failure. */
static void test_existing_address_link_required(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "ada@example.com", true, true, &u);
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("g-ada", "ADA@example.com", true);
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_LINK_REQUIRED);
    assert_false(res.pair.session_id[0]);
    assert_int_equal(USERS(), 1);
    assert_int_equal(IDENTITIES(), 0);
    assert_int_equal(SESSIONS(), 0);
    assert_int_equal(AUDITED("signin.failure"), 1);
    assert_int_equal(AUDITED("identity.linked"), 0);
    accounts_result_clear(&res);
}

/* The provider does not vouch for the address, and a password account
 * holds it: LINK_REQUIRED, not linked, no session (no takeover). The
 * same answer for an unverified address nobody holds: no account made. */
static void test_unverified_never_links_or_creates(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "victim@example.com", true, true, &u);
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("attacker", "victim@example.com", false);
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_LINK_REQUIRED);
    assert_int_equal(IDENTITIES(), 0);
    assert_int_equal(SESSIONS(), 0);
    accounts_result_clear(&res);
    struct fed_claims fresh = claims("someone", "fresh@example.com", false);
    assert_int_equal(federated_signin(ops, c, &in, "google", &fresh, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_LINK_REQUIRED);
    assert_int_equal(USERS(), 1);
    assert_int_equal(IDENTITIES(), 0);
    assert_int_equal(SESSIONS(), 0);
    accounts_result_clear(&res);
    /* Nor may it be linked by a signed-in person. */
    assert_int_equal(federated_link(ops, c, &in, u.id, "google", &cl), GH_ERR_DENIED);
    assert_int_equal(IDENTITIES(), 0);
}

/* A linked account with a second factor: MFA_REQUIRED, no session. */
static void test_second_factor_required(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "mfa@example.com", true, true, &u);
    enable_totp(c, u.id);
    link_row(c, "google", "g-mfa", u.id);
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("g-mfa", "mfa@example.com", true);
    cl.mfa = true; /* the provider's MFA does not count without trust */
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_MFA_REQUIRED);
    assert_int_equal(strlen(res.mfa_token), MFA_TOKEN_LEN);
    assert_int_equal(SESSIONS(), 0);
    accounts_result_clear(&res);
    /* Trusted, but the token names no second factor: still asked. */
    cl.mfa = false;
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, true, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_MFA_REQUIRED);
    assert_int_equal(SESSIONS(), 0);
    accounts_result_clear(&res);
}

/* trust_provider_mfa and an amr naming a second factor: signed in, the
 * session marked as having passed one. */
static void test_trusted_provider_mfa(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "trust@example.com", true, true, &u);
    enable_totp(c, u.id);
    link_row(c, "google", "g-trust", u.id);
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("g-trust", "trust@example.com", true);
    cl.mfa = true;
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, true, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_SIGNED_IN);
    assert_string_equal(res.u.id, u.id);
    assert_int_equal(count("SELECT COUNT(*) FROM sessions WHERE mfa_at > 0"), 1);
    accounts_result_clear(&res);
}

/* GATEHOUSE_SIGNUP=closed: SIGNUP_CLOSED, no account, no identity; a
 * linked identity still signs in. */
static void test_signup_closed(void **state)
{
    struct store_conn *c = *state;
    gh_cfg.signup_closed = true;
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("g-new", "new@example.com", true);
    assert_int_equal(federated_signin(ops, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_SIGNUP_CLOSED);
    assert_int_equal(USERS(), 0);
    assert_int_equal(IDENTITIES(), 0);
    assert_int_equal(SESSIONS(), 0);
    accounts_result_clear(&res);
    struct store_user u;
    add_user(c, "old@example.com", false, true, &u);
    link_row(c, "google", "g-old", u.id);
    struct fed_claims old = claims("g-old", "old@example.com", true);
    assert_int_equal(federated_signin(ops, c, &in, "google", &old, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_SIGNED_IN);
    accounts_result_clear(&res);
}

/* Linking: a verified identity to the signed-in account (audited); again
 * is harmless; another account's identity is a CONFLICT and stays. */
static void test_link(void **state)
{
    struct store_conn *c = *state;
    struct store_user a, b;
    add_user(c, "a@example.com", true, true, &a);
    add_user(c, "b@example.com", true, true, &b);
    struct accounts_req in;
    struct store_audit base;
    req(&in, &base);
    struct fed_claims cl = claims("g-a", "a@gmail.example", true);
    assert_int_equal(federated_link(ops, c, &in, a.id, "google", &cl), GH_OK);
    assert_int_equal(AUDITED("identity.linked"), 1);
    assert_int_equal(federated_link(ops, c, &in, a.id, "google", &cl), GH_OK);
    assert_int_equal(AUDITED("identity.linked"), 1);
    assert_int_equal(federated_link(ops, c, &in, b.id, "google", &cl), GH_ERR_CONFLICT);
    struct store_identity id;
    assert_int_equal(ops->identities.by_subject(c, "google", "g-a", &id), GH_OK);
    assert_string_equal(id.user_id, a.id);
    assert_int_equal(IDENTITIES(), 1);
    /* Malformed provider or sub: refused before the store. */
    assert_int_equal(federated_link(ops, c, &in, a.id, "Goo gle", &cl), GH_ERR_INVALID);
    struct fed_claims empty = claims("", "a@gmail.example", true);
    assert_int_equal(federated_link(ops, c, &in, a.id, "google", &empty), GH_ERR_INVALID);
}

/* Unlinking keeps the last way to sign in: an account with no password
 * and an unproved address keeps its only identity; a second one may go. */
static void test_unlink_last_method(void **state)
{
    struct store_conn *c = *state;
    struct store_user u;
    add_user(c, "only@example.com", false, false, &u);
    link_row(c, "google", "g-only", u.id);
    struct accounts_req in;
    struct store_audit base;
    req(&in, &base);
    enum federated_unlink_outcome o;
    struct store_identity gone;
    assert_int_equal(federated_unlink(ops, c, &in, u.id, "google", NULL, &o, &gone), GH_OK);
    assert_int_equal(o, FEDERATED_LAST_METHOD);
    assert_int_equal(IDENTITIES(), 1);
    assert_int_equal(AUDITED("identity.unlinked"), 0);
    link_row(c, "apple", "a-only", u.id);
    assert_int_equal(federated_unlink(ops, c, &in, u.id, "google", NULL, &o, &gone), GH_OK);
    assert_int_equal(o, FEDERATED_UNLINKED);
    assert_string_equal(gone.subject, "g-only");
    assert_int_equal(AUDITED("identity.unlinked"), 1);
    assert_int_equal(federated_unlink(ops, c, &in, u.id, "apple", NULL, &o, &gone), GH_OK);
    assert_int_equal(o, FEDERATED_LAST_METHOD);
    assert_int_equal(federated_unlink(ops, c, &in, u.id, "google", NULL, &o, &gone), GH_OK);
    assert_int_equal(o, FEDERATED_NOT_LINKED);
    /* Two of one provider: the subject must be named. */
    link_row(c, "apple", "a-two", u.id);
    assert_int_equal(federated_unlink(ops, c, &in, u.id, "apple", NULL, &o, &gone), GH_OK);
    assert_int_equal(o, FEDERATED_AMBIGUOUS);
    assert_int_equal(federated_unlink(ops, c, &in, u.id, "apple", "a-two", &o, &gone), GH_OK);
    assert_int_equal(o, FEDERATED_UNLINKED);
    assert_int_equal(IDENTITIES(), 1);
}

/* Under a failing store (store/fault.h), each store call of a first
 * federated sign-in failing in turn: never SIGNED_IN, and never half an
 * account: either nothing (no user, identity or session) or, when only
 * ending the old cookie's session failed after the commit, all of it. */
static void test_create_all_or_nothing(void **state)
{
    struct store_conn *c = *state;
    const struct store_ops *f = store_fault_wrap(ops);
    struct accounts_req in;
    struct store_audit base;
    struct accounts_result res;
    req(&in, &base);
    struct fed_claims cl = claims("g-fault", "fault@example.com", true);
    assert_int_equal(federated_signin(f, c, &in, "google", &cl, false, &res), GH_OK);
    assert_int_equal(res.outcome, ACCOUNTS_SIGNED_IN);
    accounts_result_clear(&res);
    unsigned n = store_fault_calls();
    assert_true(n >= 5);
    for (unsigned i = 1; i <= n; i++) {
        assert_int_equal(sqlite3_exec_count("PRAGMA foreign_keys=ON; DELETE FROM users"), 0);
        store_fault_fail_nth(i);
        enum gh_err rc = federated_signin(f, c, &in, "google", &cl, false, &res);
        const char *op = store_fault_call_name(i);
        if (rc == GH_OK) fail_msg("call %u (%s) failed but the sign-in answered GH_OK", i, op);
        assert_int_not_equal(res.outcome, ACCOUNTS_SIGNED_IN);
        int64_t u = USERS(), id = IDENTITIES(), s = SESSIONS();
        if (!(u == 0 && id == 0 && s == 0))
            fail_msg("call %u (%s): %lld users, %lld identities, %lld sessions", i, op,
                     (long long)u, (long long)id, (long long)s);
        accounts_result_clear(&res);
    }
    store_fault_reset();
}

/* The pending link's cookie value: opens to what was sealed while live;
 * expired, altered, cut or foreign values read as none; the largest
 * claims still fit the cookie. */
static void test_pending_link_value(void **state)
{
    struct store_conn *c = *state;
    uint8_t master[VAULT_KEYBYTES];
    randombytes_buf(master, sizeof master);
    assert_int_equal(vault_init(master), GH_OK);
    assert_int_equal(vault_load(ops, c, true), GH_OK);
    struct fed_claims cl = claims("g-sub-1", "who@example.com", true), got;
    snprintf(cl.name, sizeof cl.name, "Who \"Q\" Person");
    cl.mfa = true;
    char v[GH_LINK_COOKIE_MAX + 1], p[FED_NAME_MAX + 1];
    int64_t now = gh_now_s();
    assert_int_equal(fed_pending_encode("google", &cl, now + 600, v, sizeof v), GH_OK);
    for (const char *q = v; *q; q++) /* cookie characters only */
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *q));
    assert_true(fed_pending_decode(v, now, p, &got));
    assert_string_equal(p, "google");
    assert_string_equal(got.sub, "g-sub-1");
    assert_string_equal(got.email, "who@example.com");
    assert_string_equal(got.name, "Who \"Q\" Person");
    assert_true(got.email_verified);
    assert_true(got.mfa);
    assert_int_equal(got.iat, cl.iat);
    /* Expired. */
    assert_false(fed_pending_decode(v, now + 600, p, &got));
    assert_string_equal(p, "");
    assert_string_equal(got.sub, "");
    /* One character changed anywhere in the middle, or cut: none. */
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i += n / 16 + 1) {
        char w[GH_LINK_COOKIE_MAX + 1];
        memcpy(w, v, n + 1);
        w[i] = w[i] == 'A' ? 'B' : 'A';
        assert_false(fed_pending_decode(w, now, p, &got));
    }
    v[n / 2] = '\0';
    assert_false(fed_pending_decode(v, now, p, &got));
    assert_false(fed_pending_decode("", now, p, &got));
    assert_false(fed_pending_decode("not-a-sealed-value", now, p, &got));
    /* The largest claims fit. */
    memset(cl.sub, 'x', STORE_SUBJECT_MAX);
    cl.sub[STORE_SUBJECT_MAX] = '\0';
    memset(cl.email, 'e', STORE_EMAIL_MAX);
    cl.email[STORE_EMAIL_MAX] = '\0';
    memset(cl.name, 'n', sizeof cl.name - 1);
    cl.name[sizeof cl.name - 1] = '\0';
    assert_int_equal(
        fed_pending_encode("a_provider_name_of_32_characters", &cl, now + 600, v, sizeof v), GH_OK);
    assert_true(fed_pending_decode(v, now, p, &got));
    assert_string_equal(got.sub, cl.sub);
    /* The parser alone refuses a bad provider name and a missing member. */
    const char *bad[] = {
        "{\"p\":\"Goo gle\",\"s\":\"x\",\"e\":\"\",\"v\":true,\"n\":\"\",\"m\":false,"
        "\"i\":1,\"x\":99999999999}",
        "{\"p\":\"google\",\"e\":\"\",\"v\":true,\"n\":\"\",\"m\":false,\"i\":1,"
        "\"x\":99999999999}",
        "[]", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(fed_pending_parse((const uint8_t *)bad[i], strlen(bad[i]), now, p, &got));
    vault_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_address_link_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unverified_never_links_or_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_factor_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trusted_provider_mfa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signup_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink_last_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_link_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_all_or_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
