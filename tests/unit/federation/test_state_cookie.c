/* The OAuth state cookie (src/federation/state_cookie.c): sealed by a real
 * vault over a temporary SQLite store; a cookie opens only for its own
 * provider, before its expiry, unaltered; the state compares exactly; the
 * PKCE challenge is base64url(SHA-256(verifier)) (checked against Python's
 * hashlib); the value uses only cookie-safe characters and fits its cap. */
#include "testutil.h"

#include "core/util.h"
#include "federation/state_cookie.h"
#include "store/store.h"
#include "vault/vault.h"

static char dir[512], path[600];
static struct store_conn *conn;

#define NOW 1800000000LL
#define UID "0123abcd-0000-4000-8000-00000000beef"

static int group_setup(void **state)
{
    (void)state;
    if (test_db_group_setup(dir, sizeof dir, path, sizeof path, "gh_state_cookie_")) return -1;
    uint8_t master[VAULT_KEYBYTES];
    gh_random(master, sizeof master);
    if (store_sqlite.open(path, &conn) != GH_OK || store_sqlite.migrate(conn) != GH_OK) return -1;
    if (vault_init(master) != GH_OK) return -1;
    return vault_load(&store_sqlite, conn, true) == GH_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    vault_shutdown();
    store_sqlite.close(conn);
    return test_db_group_teardown(dir, path);
}

static bool cookie_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

static void round_trip(void **state)
{
    (void)state;
    struct state_cookie sc, back;
    assert_int_equal(state_cookie_new(&sc, "google", "https://app.example.com/x?y=1", NULL, NOW),
                     GH_OK);
    assert_int_equal(strlen(sc.state), STATE_COOKIE_RANDOM_LEN);
    assert_int_equal(strlen(sc.nonce), STATE_COOKIE_RANDOM_LEN);
    assert_int_equal(strlen(sc.verifier), STATE_COOKIE_RANDOM_LEN);
    assert_string_not_equal(sc.state, sc.nonce);
    assert_string_not_equal(sc.state, sc.verifier);
    assert_int_equal(sc.expires_at, NOW + STATE_COOKIE_TTL_S);
    assert_false(sc.link);
    char v[STATE_COOKIE_VALUE_MAX + 1];
    assert_int_equal(state_cookie_seal(&sc, v), GH_OK);
    assert_true(cookie_chars(v));
    /* nothing in the clear */
    assert_null(strstr(v, sc.state));
    assert_null(strstr(v, "google"));
    assert_int_equal(state_cookie_open(v, strlen(v), "google", NOW + 1, &back), GH_OK);
    assert_memory_equal(&sc, &back, sizeof sc);
    assert_true(state_cookie_state_ok(&back, sc.state, strlen(sc.state)));
    /* another provider's callback, expiry, tampering, truncation */
    assert_int_equal(state_cookie_open(v, strlen(v), "apple", NOW + 1, &back), GH_ERR_DENIED);
    assert_string_equal(back.state, "");
    assert_int_equal(state_cookie_open(v, strlen(v), "google", NOW + STATE_COOKIE_TTL_S, &back),
                     GH_ERR_DENIED);
    for (size_t i = 0; i < strlen(v); i += 7) {
        char t[sizeof v];
        memcpy(t, v, sizeof v);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(state_cookie_open(t, strlen(t), "google", NOW + 1, &back), GH_ERR_DENIED);
    }
    assert_int_equal(state_cookie_open(v, strlen(v) - 1, "google", NOW + 1, &back), GH_ERR_DENIED);
    assert_int_equal(state_cookie_open("", 0, "google", NOW + 1, &back), GH_ERR_DENIED);
    assert_int_equal(state_cookie_open(NULL, 0, "google", NOW + 1, &back), GH_ERR_DENIED);
    state_cookie_wipe(&sc);
}

static void state_compare(void **state)
{
    (void)state;
    struct state_cookie sc;
    assert_int_equal(state_cookie_new(&sc, "google", NULL, NULL, NOW), GH_OK);
    char other[STATE_COOKIE_RANDOM_LEN + 1];
    memcpy(other, sc.state, sizeof other);
    other[5] ^= 1;
    assert_true(state_cookie_state_ok(&sc, sc.state, STATE_COOKIE_RANDOM_LEN));
    assert_false(state_cookie_state_ok(&sc, other, STATE_COOKIE_RANDOM_LEN));
    assert_false(state_cookie_state_ok(&sc, sc.state, STATE_COOKIE_RANDOM_LEN - 1));
    assert_false(state_cookie_state_ok(&sc, NULL, 0));
    assert_false(state_cookie_state_ok(&sc, "", 0));
    state_cookie_wipe(&sc);
    assert_false(state_cookie_state_ok(&sc, "", 0)); /* a wiped cookie matches nothing */
}

static void link_and_limits(void **state)
{
    (void)state;
    struct state_cookie sc, back;
    char rd[STATE_COOKIE_RD_MAX + 2];
    memset(rd, 'a', sizeof rd - 1);
    rd[sizeof rd - 1] = '\0';
    memcpy(rd, "https://a.example/", 18);
    /* the longest rd kept, a user id, the longest provider name */
    rd[STATE_COOKIE_RD_MAX] = '\0';
    const char *prov = "abcdefghijklmnopqrstuvwxyz_01234"; /* 32 */
    assert_int_equal(state_cookie_new(&sc, prov, rd, UID, NOW), GH_OK);
    assert_true(sc.link);
    assert_string_equal(sc.user_id, UID);
    assert_string_equal(sc.rd, rd);
    char v[STATE_COOKIE_VALUE_MAX + 1];
    assert_int_equal(state_cookie_seal(&sc, v), GH_OK);
    assert_true(strlen(v) <= STATE_COOKIE_VALUE_MAX);
    assert_int_equal(state_cookie_open(v, strlen(v), prov, NOW, &back), GH_OK);
    assert_memory_equal(&sc, &back, sizeof sc);
    /* one longer: dropped, never cut */
    rd[STATE_COOKIE_RD_MAX] = 'a';
    assert_int_equal(state_cookie_new(&sc, "google", rd, NULL, NOW), GH_OK);
    assert_string_equal(sc.rd, "");
    /* refused names and user ids */
    assert_int_equal(state_cookie_new(&sc, "Google", NULL, NULL, NOW), GH_ERR_INVALID);
    assert_int_equal(state_cookie_new(&sc, "", NULL, NULL, NOW), GH_ERR_INVALID);
    assert_int_equal(state_cookie_new(&sc, "abcdefghijklmnopqrstuvwxyz_012345", NULL, NULL, NOW),
                     GH_ERR_INVALID);
    assert_int_equal(state_cookie_new(&sc, "google", NULL, "not-a-user", NOW), GH_ERR_INVALID);
    assert_string_equal(sc.state, "");
    state_cookie_wipe(&sc);
    state_cookie_wipe(&back);
}

static void pkce_challenge(void **state)
{
    (void)state;
    struct state_cookie sc;
    assert_int_equal(state_cookie_new(&sc, "google", NULL, NULL, NOW), GH_OK);
    memcpy(sc.verifier, "dBjftJeZ4CVP-mJ92nPxTj4rRuaTlvxwqd5eJqCWWUo", STATE_COOKIE_RANDOM_LEN);
    char ch[STATE_COOKIE_RANDOM_LEN + 1];
    assert_int_equal(state_cookie_challenge(&sc, ch), GH_OK);
    /* python3: base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b'=') */
    assert_string_equal(ch, "k3-zw4SuUWy6DQGUc-11_ZuLROTDyd0MvN91R46mC5o");
    state_cookie_wipe(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(state_compare),
        cmocka_unit_test(link_and_limits),
        cmocka_unit_test(pkce_challenge),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
