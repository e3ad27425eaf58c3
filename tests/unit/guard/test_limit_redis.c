/* Unit tests for src/guard/limit_redis.c: GATEHOUSE_REDIS_URL parsing (the
 * pure part; the Redis path itself is tested black-box against a real
 * redis-server in tests/api/redis.test.mjs). */
#include "testutil.h"

#include "core/util.h"
#include "guard/limit_redis.h"

static void ok(const char *url, const char *host, int port, int db, const char *user,
               const char *password)
{
    struct limit_redis_target t;
    char *pw = (char *)1, err[256] = "";
    assert_int_equal(limit_redis_parse_url(url, &t, &pw, err, sizeof err), GH_OK);
    assert_string_equal(t.host, host);
    assert_int_equal(t.port, port);
    assert_int_equal(t.db, db);
    assert_string_equal(t.user, user);
    if (password) {
        assert_non_null(pw);
        assert_string_equal(pw, password);
    } else {
        assert_null(pw);
    }
    gh_free_secret_str(pw);
}

/* Refused, with a message that never repeats the URL (it may hold the
 * password) and that names the variable. */
static void bad(const char *url, const char *secret)
{
    struct limit_redis_target t;
    char *pw = (char *)1, err[256] = "";
    assert_int_equal(limit_redis_parse_url(url, &t, &pw, err, sizeof err), GH_ERR_INVALID);
    assert_null(pw);
    assert_string_equal(t.host, "");
    assert_non_null(strstr(err, "GATEHOUSE_REDIS_URL"));
    if (secret) assert_null(strstr(err, secret));
}

static void test_accepts(void **state)
{
    (void)state;
    ok("redis://127.0.0.1", "127.0.0.1", 6379, 0, "", NULL);
    ok("redis://127.0.0.1/", "127.0.0.1", 6379, 0, "", NULL);
    ok("redis://localhost:6380", "localhost", 6380, 0, "", NULL);
    ok("redis://redis.internal:6380/3", "redis.internal", 6380, 3, "", NULL);
    ok("redis://[::1]:7000/1", "::1", 7000, 1, "", NULL);
    ok("redis://[2001:db8::5]", "2001:db8::5", 6379, 0, "", NULL);
    ok("redis://:hunter2@10.0.0.5:6379/0", "10.0.0.5", 6379, 0, "", "hunter2");
    ok("redis://gatehouse:hunter2@10.0.0.5", "10.0.0.5", 6379, 0, "gatehouse", "hunter2");
    /* percent-encoded, and raw '@' / '/' / ':' in the password still parse
     * (the last '@' ends it) */
    ok("redis://:p%40ss%2Fw%3Ard@h:1/2", "h", 1, 2, "", "p@ss/w:rd");
    ok("redis://:p@ss/w:rd@h:1/2", "h", 1, 2, "", "p@ss/w:rd");
    ok("redis://us%65r:x@h", "h", 6379, 0, "user", "x");
    ok("redis://h:65535/2147483647", "h", 65535, 2147483647, "", NULL);
}

static void test_refuses(void **state)
{
    (void)state;
    bad("", NULL);
    bad("127.0.0.1:6379", NULL);
    bad("http://127.0.0.1", NULL);
    bad("redis://", NULL);
    bad("redis:///0", NULL);
    bad("redis://:6379", NULL);
    bad("redis://h:", NULL);
    bad("redis://h:0", NULL);
    bad("redis://h:65536", NULL);
    bad("redis://h:63x", NULL);
    bad("redis://h:1234567", NULL);
    bad("redis://h/x", NULL);
    bad("redis://h/-1", NULL);
    bad("redis://h/1/2", NULL);
    bad("redis://h?db=1", NULL);
    bad("redis://h#x", NULL);
    bad("redis://h o", NULL);
    bad("redis://[::1", NULL);
    bad("redis://[]:1", NULL);
    bad("redis://[::1]x", NULL);
    /* TLS is refused by name */
    bad("rediss://h", NULL);
    /* passwords: a user without one, an empty one, a broken escape or an
     * encoded NUL; the message never shows it */
    bad("redis://topsecret@h", "topsecret");
    bad("redis://user:@h", NULL);
    bad("redis://:@h", NULL);
    bad("redis://:topsecret%zz@h", "topsecret");
    bad("redis://:topsecret%4@h", "topsecret");
    bad("redis://:top%00secret@h", "top");
    bad("redis://:topsecret@h:99999", "topsecret");
    bad("redis://:topsecret@", "topsecret");
    /* a host over 255 bytes */
    char big[400];
    memcpy(big, "redis://", 8);
    memset(big + 8, 'a', 300);
    big[308] = '\0';
    bad(big, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
