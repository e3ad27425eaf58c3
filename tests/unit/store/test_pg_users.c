/* Unit tests for src/store/pg_users.c and pg_sessions.c through the
 * store_pg table, one connection at a time: the SQLite tests' cases
 * (test_sqlite.c) and the change events each write appends. Runs on the
 * database test_pg_users.h makes from GATEHOUSE_TEST_PG; skipped without
 * it. The races between connections are in test_pg_users_races.c. */
#include "test_pg_users.h"

/* ---- users ---- */

static void users_create_lookup(void **state)
{
    NEED_PG();
    struct store_user u = mk_user("Alice@Example.com"), out;
    assert_int_equal(ops->users.create(c, &u, NULL), GH_OK);
    /* the same key again (other id), and the same id again */
    struct store_user dup = mk_user("ALICE@example.com");
    assert_string_equal(dup.email_key, u.email_key);
    assert_int_equal(ops->users.create(c, &dup, NULL), GH_ERR_CONFLICT);
    struct store_user dupid = mk_user("carol@example.com");
    memcpy(dupid.id, u.id, sizeof u.id);
    assert_int_equal(ops->users.create(c, &dupid, NULL), GH_ERR_CONFLICT);
    assert_int_equal(ops->users.by_email_key(c, "carol@example.com", &out), GH_ERR_NOT_FOUND);

    memset(&out, 0, sizeof out);
    assert_int_equal(ops->users.by_email_key(c, "alice@example.com", &out), GH_OK);
    assert_string_equal(out.id, u.id);
    assert_string_equal(out.email, "Alice@Example.com");
    assert_string_equal(out.password_hash, u.password_hash);
    assert_int_equal(out.created_at, now);
    assert_int_equal(out.email_verified_at, 0);
    assert_string_equal(out.role, "user");
    assert_int_equal(ops->users.by_email_key(c, "Alice@Example.com", &out), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->users.by_email_key(c, "' OR '1'='1", &out), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->users.by_id(c, u.id, &out), GH_OK);
    assert_int_equal(ops->users.by_id(c, dup.id, &out), GH_ERR_NOT_FOUND);

    /* role, with its event; unknown user */
    assert_int_equal(ops->users.set_role(c, u.id, "admin", NULL), GH_OK);
    assert_int_equal(ops->users.by_id(c, u.id, &out), GH_OK);
    assert_string_equal(out.role, "admin");
    assert_int_equal(events_of("role_changed", u.id), 1);
    assert_int_equal(ops->users.set_role(c, dup.id, "admin", NULL), GH_ERR_NOT_FOUND);

    /* verification keeps the first time */
    assert_int_equal(ops->users.verify_email(c, u.id, now + 7, NULL), GH_OK);
    assert_int_equal(ops->users.verify_email(c, u.id, now + 9, NULL), GH_OK);
    assert_int_equal(ops->users.by_id(c, u.id, &out), GH_OK);
    assert_int_equal(out.email_verified_at, now + 7);
    assert_int_equal(ops->users.verify_email(c, dup.id, now, NULL), GH_ERR_NOT_FOUND);
}

static void users_rehash_and_hashes(void **state)
{
    NEED_PG();
    struct store_user u = add_user("rehash"), out;
    struct store_audit ev = {.actor = u.id, .action = "password.rehashed", .target = u.id};
    long long rows0 = audit_rows();
    assert_int_equal(ops->users.rehash(c, u.id, "$2b$10$stale", "$argon2id$new", now + 5, &ev),
                     GH_ERR_CONFLICT);
    assert_int_equal(audit_rows(), rows0); /* the conflict wrote nothing */
    assert_int_equal(
        ops->users.rehash(c, u.id, u.password_hash, "$argon2id$v=19$m=1,new", now + 5, &ev), GH_OK);
    assert_int_equal(audit_rows(), rows0 + 1);
    assert_int_equal(ops->users.by_id(c, u.id, &out), GH_OK);
    assert_string_equal(out.password_hash, "$argon2id$v=19$m=1,new");
    assert_int_equal(out.updated_at, now + 5);
    /* the old hash is stale now */
    assert_int_equal(ops->users.rehash(c, u.id, u.password_hash, "$x", now + 6, NULL),
                     GH_ERR_CONFLICT);

    /* other_hashes: paged by id, skipping "!" and the kept prefix */
    struct store_user b = mk_user("bcrypt-user@example.com");
    snprintf(b.password_hash, sizeof b.password_hash, "$2b$10$%053d", 0);
    assert_int_equal(ops->users.create(c, &b, NULL), GH_OK);
    struct store_user n = mk_user("nopass-user@example.com");
    snprintf(n.password_hash, sizeof n.password_hash, "!");
    assert_int_equal(ops->users.create(c, &n, NULL), GH_OK);
    struct store_hash_row rows[64];
    size_t nr = 0;
    bool saw_b = false, saw_n = false, saw_u = false;
    char after[STORE_ID_LEN + 1] = "";
    for (int page = 0; page < 1000; page++) {
        assert_int_equal(ops->users.other_hashes(c, "$argon2id$", after, rows, 3, &nr), GH_OK);
        if (nr == 0) break;
        assert_true(nr <= 3);
        for (size_t i = 0; i < nr; i++) {
            assert_true(strcmp(rows[i].id, after) > 0); /* in id order */
            snprintf(after, sizeof after, "%.36s", rows[i].id);
            saw_b |= strcmp(rows[i].id, b.id) == 0;
            saw_n |= strcmp(rows[i].id, n.id) == 0;
            saw_u |= strcmp(rows[i].id, u.id) == 0;
            assert_string_not_equal(rows[i].hash, "!");
        }
    }
    assert_true(saw_b);
    assert_false(saw_n);
    assert_false(saw_u);
    /* the prefix is data, not a pattern */
    assert_int_equal(ops->users.other_hashes(c, "%", "", rows, 64, &nr), GH_OK);
    assert_true(nr >= 2);
}

static void users_set_password_revokes_others(void **state)
{
    NEED_PG();
    struct store_user u = add_user("setpw"), out;
    struct store_session keep = add_session(u.id, "setpw-keep");
    struct store_session s2 = add_session(u.id, "setpw-2");
    struct store_session s3 = add_session(u.id, "setpw-3");
    struct store_user other = add_user("setpw-other");
    struct store_session os = add_session(other.id, "setpw-other");
    struct store_audit ev = {.actor = u.id, .action = "password.changed", .target = u.id};
    long long rows0 = audit_rows();
    assert_int_equal(ops->users.set_password(c, u.id, "$argon2id$new", now + 10, keep.id, now, &ev),
                     GH_OK);
    assert_int_equal(audit_rows(), rows0 + 1);
    assert_int_equal(ops->users.by_id(c, u.id, &out), GH_OK);
    assert_string_equal(out.password_hash, "$argon2id$new");
    assert_int_equal(out.tokens_invalidated_at, now + 10);
    struct store_session s;
    assert_int_equal(ops->sessions.get(c, keep.id, &s), GH_OK);
    assert_int_equal(s.revoked_at, 0);
    assert_int_equal(ops->sessions.get(c, s2.id, &s), GH_OK);
    assert_int_equal(s.revoked_at, now);
    assert_int_equal(ops->sessions.get(c, s3.id, &s), GH_OK);
    assert_int_equal(s.revoked_at, now);
    assert_int_equal(ops->sessions.get(c, os.id, &s), GH_OK);
    assert_int_equal(s.revoked_at, 0);
    assert_int_equal(events_of("tokens_invalidated", u.id), 1);
    assert_int_equal(events_of("user_sessions_revoked", u.id), 1);
    char tia[24];
    snprintf(tia, sizeof tia, "%lld", (long long)(now + 10));
    assert_int_equal(db_count("SELECT count(*) FROM change_events WHERE kind ="
                              " 'tokens_invalidated' AND int_value = $1::bigint",
                              tia),
                     1);
    /* NULL keeps none */
    assert_int_equal(ops->users.set_password(c, u.id, "$argon2id$new2", now + 11, NULL, now, NULL),
                     GH_OK);
    assert_int_equal(ops->sessions.get(c, keep.id, &s), GH_OK);
    assert_int_equal(s.revoked_at, now);
    assert_int_equal(events_of("user_sessions_revoked", u.id), 2);
    /* unknown user: nothing, no event */
    assert_int_equal(ops->users.set_password(c, s.id, "$x", now, NULL, now, NULL),
                     GH_ERR_NOT_FOUND);
    assert_int_equal(events_of("tokens_invalidated", s.id), 0);
}

static void users_set_email_and_reclaim(void **state)
{
    NEED_PG();
    struct store_user a = add_user("mail-a"), b = add_user("mail-b"), out;
    /* b's key for a: a clash changes nothing */
    assert_int_equal(ops->users.set_email(c, a.id, b.email, b.email_key, now + 3, NULL),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->users.by_id(c, a.id, &out), GH_OK);
    assert_string_equal(out.email_key, a.email_key);
    assert_int_equal(out.email_verified_at, 0);
    assert_int_equal(events_of("user_changed", a.id), 0);
    char key[STORE_EMAIL_MAX + 8];
    snprintf(key, sizeof key, "new-%s", a.email_key);
    assert_int_equal(ops->users.set_email(c, a.id, key, key, now + 3, NULL), GH_OK);
    assert_int_equal(ops->users.by_email_key(c, key, &out), GH_OK);
    assert_string_equal(out.id, a.id);
    assert_int_equal(out.email_verified_at, now + 3);
    assert_int_equal(events_of("user_changed", a.id), 1);
    assert_int_equal(ops->users.by_email_key(c, a.email_key, &out), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->users.set_email(c, "no-such-user", "x@y.z", "x@y.z", now, NULL),
                     GH_ERR_NOT_FOUND);

    /* reclaim: verified, no password, no identity, every session revoked */
    struct store_session s1 = add_session(b.id, "reclaim-1");
    assert_int_equal(db_count("WITH i AS (INSERT INTO identities (provider, subject, user_id,"
                              " created_at, last_used_at) VALUES ('google', 'sub-reclaim', $1,"
                              " 1, 1) RETURNING 1) SELECT count(*) FROM i",
                              b.id),
                     1);
    assert_int_equal(ops->users.reclaim(c, b.id, now + 20, now + 1, NULL), GH_OK);
    assert_int_equal(ops->users.by_id(c, b.id, &out), GH_OK);
    assert_string_equal(out.password_hash, "!");
    assert_int_equal(out.tokens_invalidated_at, now + 20);
    assert_int_equal(out.email_verified_at, now + 1);
    struct store_session s;
    assert_int_equal(ops->sessions.get(c, s1.id, &s), GH_OK);
    assert_int_equal(s.revoked_at, now + 1);
    assert_int_equal(db_count("SELECT count(*) FROM identities WHERE user_id = $1", b.id), 0);
    assert_int_equal(events_of("tokens_invalidated", b.id), 1);
    assert_int_equal(events_of("user_sessions_revoked", b.id), 1);
    assert_int_equal(ops->users.reclaim(c, "no-such-user", now, now, NULL), GH_ERR_NOT_FOUND);
}

/* ---- sessions ---- */

static void sessions_create_get_list(void **state)
{
    NEED_PG();
    struct store_user u = add_user("sess");
    struct store_session s = mk_session(u.id), out;
    s.cookie = true;
    s.restricted = true;
    s.mfa_at = now - 1;
    uint8_t h[32], other[32];
    hash_of(h, "sess-token-1");
    hash_of(other, "sess-token-unknown");
    assert_int_equal(ops->sessions.create(c, &s, h, -1, NULL), GH_OK);
    memset(&out, 0, sizeof out);
    assert_int_equal(ops->sessions.get(c, s.id, &out), GH_OK);
    assert_string_equal(out.user_id, u.id);
    assert_int_equal(out.created_at, now);
    assert_int_equal(out.expires_at, now + 3600);
    assert_int_equal(out.revoked_at, 0);
    assert_string_equal(out.ip, "192.0.2.7");
    assert_string_equal(out.user_agent, "unit-test/1.0");
    assert_true(out.cookie);
    assert_true(out.restricted);
    assert_int_equal(out.mfa_at, now - 1);

    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    assert_int_equal(ops->refresh.get(c, h, rt), GH_OK);
    assert_string_equal(rt->session_id, s.id);
    assert_string_equal(rt->user_id, u.id);
    assert_int_equal(rt->expires_at, now + 3600);
    assert_int_equal(rt->rotated_at_us, 0);
    assert_true(rt->session_live);
    assert_true(rt->session_restricted);
    assert_true(rt->session_cookie);
    assert_int_equal(rt->box_len, 0);
    assert_int_equal(rt->created_at, now);
    assert_int_equal(rt->session_created_at, now);
    assert_int_equal(ops->refresh.get(c, other, rt), GH_ERR_NOT_FOUND);

    /* a duplicate token hash leaves nothing behind; an unknown user fails */
    struct store_session s2 = mk_session(u.id);
    assert_int_equal(ops->sessions.create(c, &s2, h, -1, NULL), GH_ERR_CONFLICT);
    assert_int_equal(ops->sessions.get(c, s2.id, &out), GH_ERR_NOT_FOUND);
    struct store_session s3 = mk_session("no-such-user");
    hash_of(h, "sess-token-3");
    assert_int_not_equal(ops->sessions.create(c, &s3, h, -1, NULL), GH_OK);
    assert_int_equal(ops->sessions.get(c, s3.id, &out), GH_ERR_NOT_FOUND);
    /* with expect_tia: the user's current value only */
    assert_int_equal(ops->sessions.create(c, &s3, h, 0, NULL), GH_ERR_CONFLICT);
    s2.created_at = now + 5;
    assert_int_equal(ops->sessions.create(c, &s2, h, 1, NULL), GH_ERR_CONFLICT);
    assert_int_equal(ops->sessions.get(c, s2.id, &out), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->sessions.create(c, &s2, h, 0, NULL), GH_OK);

    /* list: live only, newest first, at most max */
    struct store_session expired = mk_session(u.id);
    expired.expires_at = now - 1;
    hash_of(h, "sess-token-expired");
    assert_int_equal(ops->sessions.create(c, &expired, h, -1, NULL), GH_OK);
    struct store_session list[8];
    size_t n = 99;
    assert_int_equal(ops->sessions.list(c, u.id, now, list, 8, &n), GH_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, s2.id);
    assert_string_equal(list[1].id, s.id);
    assert_int_equal(ops->sessions.list(c, u.id, now, list, 1, &n), GH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ops->sessions.list(c, "no-such-user", now, list, 8, &n), GH_OK);
    assert_int_equal(n, 0);

    /* unrestrict and set_mfa_at, with their events */
    assert_int_equal(ops->sessions.unrestrict(c, s.id), GH_OK);
    assert_int_equal(ops->sessions.get(c, s.id, &out), GH_OK);
    assert_false(out.restricted);
    assert_int_equal(db_count("SELECT count(*) FROM change_events WHERE"
                              " kind = 'session_unrestricted' AND session_id = $1",
                              s.id),
                     1);
    assert_int_equal(ops->sessions.unrestrict(c, "no-such-session"), GH_OK);
    assert_int_equal(ops->sessions.set_mfa_at(c, s.id, now + 2, NULL), GH_OK);
    assert_int_equal(ops->sessions.get(c, s.id, &out), GH_OK);
    assert_int_equal(out.mfa_at, now + 2);
    assert_int_equal(db_count("SELECT count(*) FROM change_events WHERE"
                              " kind = 'session_mfa' AND session_id = $1",
                              s.id),
                     1);
    assert_int_equal(ops->sessions.set_mfa_at(c, "no-such-session", now, NULL), GH_ERR_NOT_FOUND);
    free(rt);
}

static void sessions_revoke_counts(void **state)
{
    NEED_PG();
    struct store_user u = add_user("revoke"), v = add_user("revoke-v");
    struct store_session a = add_session(u.id, "rv-a"), b = add_session(u.id, "rv-b");
    struct store_session d = add_session(u.id, "rv-d"), e = add_session(u.id, "rv-e");
    struct store_session w = add_session(v.id, "rv-w"), out;

    /* revoke: only the owner's live session, once */
    assert_int_equal(ops->sessions.revoke(c, a.id, v.id, now, NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->sessions.revoke(c, a.id, u.id, now, NULL), GH_OK);
    assert_int_equal(ops->sessions.revoke(c, a.id, u.id, now, NULL), GH_ERR_NOT_FOUND);
    assert_int_equal(db_count("SELECT count(*) FROM change_events WHERE"
                              " kind = 'session_revoked' AND session_id = $1",
                              a.id),
                     1);
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    uint8_t h[32];
    hash_of(h, "rv-a");
    assert_int_equal(ops->refresh.get(c, h, rt), GH_OK);
    assert_false(rt->session_live);
    free(rt);
    /* set_mfa_at needs a live session */
    assert_int_equal(ops->sessions.set_mfa_at(c, a.id, now, NULL), GH_ERR_NOT_FOUND);

    /* revoke_others: counts the live others only */
    size_t n = 99;
    assert_int_equal(ops->sessions.revoke_others(c, u.id, b.id, now + 1, &n), GH_OK);
    assert_int_equal(n, 2); /* d and e; a was revoked already */
    assert_int_equal(ops->sessions.get(c, d.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, now + 1);
    assert_int_equal(ops->sessions.get(c, b.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, 0);
    assert_int_equal(ops->sessions.get(c, w.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, 0);
    assert_int_equal(ops->sessions.revoke_others(c, u.id, b.id, now + 1, &n), GH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(events_of("user_sessions_revoked", u.id), 2);
    /* the event names the session kept */
    assert_int_equal(db_count("SELECT count(*) FROM change_events WHERE"
                              " kind = 'user_sessions_revoked' AND session_id = $1",
                              b.id),
                     2);
    assert_int_equal(ops->sessions.get(c, e.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, now + 1);

    /* revoke_user: every live session, with its event and audit row */
    struct store_audit ev = {.actor = u.id, .action = "session.revoke_all", .target = u.id};
    long long rows0 = audit_rows();
    assert_int_equal(ops->sessions.revoke_user(c, u.id, now + 2, &ev), GH_OK);
    assert_int_equal(audit_rows(), rows0 + 1);
    assert_int_equal(ops->sessions.get(c, b.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, now + 2);
    assert_int_equal(ops->sessions.get(c, d.id, &out), GH_OK);
    assert_int_equal(out.revoked_at, now + 1); /* kept its first revocation */
    assert_int_equal(events_of("user_sessions_revoked", u.id), 3);
    assert_int_equal(ops->sessions.list(c, u.id, now, (struct store_session[1]){0}, 1, &n), GH_OK);
    assert_int_equal(n, 0);
}

/* ---- refresh tokens ---- */

static void refresh_rotate_and_forget(void **state)
{
    NEED_PG();
    struct store_user u = add_user("rot");
    struct store_session s = add_session(u.id, "rot-0");
    uint8_t h0[32], h1[32], h2[32];
    hash_of(h0, "rot-0");
    hash_of(h1, "rot-1");
    hash_of(h2, "rot-2");
    const uint8_t box[] = "sealed successor pair";
    int64_t now_us = gh_now_us();
    struct store_refresh *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);

    assert_int_equal(ops->refresh.rotate(c, h0, h1, box, sizeof box, now_us, now + 7200), GH_OK);
    /* spent: a second rotation of the same token changes nothing */
    assert_int_equal(ops->refresh.rotate(c, h0, h2, box, sizeof box, now_us + 1, now + 9000),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->refresh.get(c, h2, rt), GH_ERR_NOT_FOUND);
    assert_int_equal(ops->refresh.get(c, h0, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, now_us);
    assert_int_equal(rt->box_len, sizeof box);
    assert_memory_equal(rt->box, box, sizeof box);
    assert_int_equal(ops->refresh.get(c, h1, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, 0);
    assert_int_equal(rt->expires_at, now + 7200);
    assert_string_equal(rt->session_id, s.id);
    struct store_session out;
    assert_int_equal(ops->sessions.get(c, s.id, &out), GH_OK);
    assert_int_equal(out.expires_at, now + 7200);
    assert_int_equal(out.last_used_at, now_us / 1000000);

    /* forget: one token, only if rotated before the bound */
    assert_int_equal(ops->refresh.forget_successors(c, h0, now_us), GH_OK);
    assert_int_equal(ops->refresh.get(c, h0, rt), GH_OK);
    assert_int_equal(rt->box_len, sizeof box);
    assert_int_equal(ops->refresh.forget_successors(c, h0, now_us + 1), GH_OK);
    assert_int_equal(ops->refresh.get(c, h0, rt), GH_OK);
    assert_int_equal(rt->box_len, 0);
    assert_int_equal(rt->rotated_at_us, now_us);

    /* without a box; then forget all */
    assert_int_equal(ops->refresh.rotate(c, h1, h2, NULL, 0, now_us + 5, now + 7300), GH_OK);
    assert_int_equal(ops->refresh.get(c, h1, rt), GH_OK);
    assert_int_equal(rt->box_len, 0);
    uint8_t h3[32], h4[32];
    hash_of(h3, "rot-3");
    hash_of(h4, "rot-4");
    assert_int_equal(ops->refresh.rotate(c, h2, h3, box, sizeof box, now_us + 9, now + 7400),
                     GH_OK);
    assert_int_equal(ops->refresh.forget_successors(c, NULL, now_us + 10), GH_OK);
    assert_int_equal(ops->refresh.get(c, h2, rt), GH_OK);
    assert_int_equal(rt->box_len, 0);

    /* a new token hash already in use: nothing is spent */
    assert_int_equal(ops->refresh.rotate(c, h3, h0, box, sizeof box, now_us + 20, now + 7500),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->refresh.get(c, h3, rt), GH_OK);
    assert_int_equal(rt->rotated_at_us, 0);
    /* a revoked session's token cannot be rotated; nor an expired one */
    assert_int_equal(ops->sessions.revoke(c, s.id, u.id, now, NULL), GH_OK);
    assert_int_equal(ops->refresh.rotate(c, h3, h4, NULL, 0, now_us + 30, now + 7600),
                     GH_ERR_CONFLICT);
    struct store_session e = mk_session(u.id);
    e.expires_at = now - 10;
    uint8_t he[32];
    hash_of(he, "rot-expired");
    assert_int_equal(ops->sessions.create(c, &e, he, -1, NULL), GH_OK);
    assert_int_equal(ops->refresh.rotate(c, he, h4, NULL, 0, now_us + 40, now + 7600),
                     GH_ERR_CONFLICT);
    assert_int_equal(ops->refresh.get(c, h4, rt), GH_ERR_NOT_FOUND);
    free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_create_lookup),
        cmocka_unit_test(users_rehash_and_hashes),
        cmocka_unit_test(users_set_password_revokes_others),
        cmocka_unit_test(users_set_email_and_reclaim),
        cmocka_unit_test(sessions_create_get_list),
        cmocka_unit_test(sessions_revoke_counts),
        cmocka_unit_test(refresh_rotate_and_forget),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
