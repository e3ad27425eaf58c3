/* Unit tests for src/guard/guard_config.c (and core's config_load before
 * it): defaults, the exact messages for bad settings, production refusals,
 * and that each setting lands in its owner's struct. */
#include "testutil.h"

#include "guard/cors.h"
#include "guard/guard_config.h"
#include "guard/limit.h"
#include "guard/limit_redis.h"
#include "guard/proxy.h"

static const char *const vars[] = {
    "GATEHOUSE_ENV",
    "GATEHOUSE_RATE_LIMITS",
    "GATEHOUSE_LIMIT_SIGNIN_IP",
    "GATEHOUSE_TRUSTED_PROXIES",
    "GATEHOUSE_METRICS_ALLOW",
    "GATEHOUSE_CLIENT_IP_HEADER",
    "GATEHOUSE_CORS_ORIGINS",
    "GATEHOUSE_REDIS_URL",
    "GATEHOUSE_REDIS_PASSWORD",
    "GATEHOUSE_REDIS_FAILURE_API",
};

static int clean(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    guard_config_free();
    return 0;
}

static enum gh_err load(char *err, size_t errlen)
{
    enum gh_err rc = config_load(err, errlen);
    if (rc) return rc;
    return guard_config_load(err, errlen);
}

static void bad(const char *why)
{
    char err[512] = "";
    assert_int_equal(load(err, sizeof err), GH_ERR_CONFIG);
    if (strcmp(err, why) != 0) fail_msg("\"%s\" is not \"%s\"", err, why);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(load(err, sizeof err), GH_OK);
    assert_true(gh_cfg.rate_limits);
    assert_int_equal(gh_cfg.limits[LIMIT_SIGNIN_IP].count, 20);
    assert_int_equal(gh_cfg.limits[LIMIT_SIGNIN_IP].period_s, 900);
    assert_int_equal(gh_cfg.lockout_threshold, 10);
    assert_int_equal(gh_cfg.ipv6_prefix, 64);
    assert_int_equal(proxy_cfg.ntrusted_proxies, 0);
    assert_int_equal(proxy_cfg.nmetrics_allow, 2); /* loopback, v4 and v6 */
    assert_int_equal(proxy_cfg.client_ip_header, PROXY_XFF);
    assert_int_equal(cors_cfg.norigins, 0);
    assert_string_equal(limit_redis_cfg.target.host, "");
    assert_int_equal(limit_redis_cfg.timeout_ms, 50);
    assert_true(limit_redis_cfg.closed_signin);
    assert_false(limit_redis_cfg.closed_api);
}

static void test_values_land_with_their_owner(void **state)
{
    (void)state;
    char err[512];
    setenv("GATEHOUSE_LIMIT_SIGNIN_IP", "7/60", 1);
    setenv("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8", 1);
    setenv("GATEHOUSE_CLIENT_IP_HEADER", "x-real-ip", 1);
    setenv("GATEHOUSE_CORS_ORIGINS", "https://app.example.com", 1);
    setenv("GATEHOUSE_REDIS_URL", "redis://:pw@127.0.0.1:6380/2", 1);
    setenv("GATEHOUSE_REDIS_FAILURE_API", "closed", 1);
    assert_int_equal(load(err, sizeof err), GH_OK);
    assert_int_equal(gh_cfg.limits[LIMIT_SIGNIN_IP].count, 7);
    assert_int_equal(proxy_cfg.ntrusted_proxies, 1);
    assert_int_equal(proxy_cfg.nmetrics_allow, 3); /* loopback + the trusted proxies */
    assert_int_equal(proxy_cfg.client_ip_header, PROXY_REAL_IP);
    assert_int_equal(cors_cfg.norigins, 1);
    assert_string_equal(limit_redis_cfg.target.host, "127.0.0.1");
    assert_int_equal(limit_redis_cfg.target.port, 6380);
    assert_int_equal(limit_redis_cfg.target.db, 2);
    assert_string_equal(limit_redis_cfg.password, "pw");
    assert_null(getenv("GATEHOUSE_REDIS_URL")); /* it held a password */
    assert_true(limit_redis_cfg.closed_api);
}

static void test_messages(void **state)
{
    (void)state;
    setenv("GATEHOUSE_RATE_LIMITS", "maybe", 1);
    bad("GATEHOUSE_RATE_LIMITS must be on or off");
    setenv("GATEHOUSE_RATE_LIMITS", "off", 1);
    setenv("GATEHOUSE_ENV", "production", 1);
    bad("GATEHOUSE_RATE_LIMITS=off is refused in production");
    clean(NULL);
    setenv("GATEHOUSE_LIMIT_SIGNIN_IP", "0/60", 1);
    bad("GATEHOUSE_LIMIT_SIGNIN_IP must be COUNT/SECONDS (1..1000000 requests per 1..2592000 "
        "seconds), e.g. 20/900");
    clean(NULL);
    setenv("GATEHOUSE_CLIENT_IP_HEADER", "via", 1);
    bad("GATEHOUSE_CLIENT_IP_HEADER must be x-forwarded-for, forwarded or x-real-ip");
    clean(NULL);
    setenv("GATEHOUSE_REDIS_FAILURE_API", "open", 1);
    bad("GATEHOUSE_REDIS_FAILURE_API must be closed or local");
    clean(NULL);
    setenv("GATEHOUSE_REDIS_PASSWORD", "pw", 1);
    bad("GATEHOUSE_REDIS_PASSWORD is set but GATEHOUSE_REDIS_URL is not");
    clean(NULL);
    setenv("GATEHOUSE_METRICS_ALLOW", "10.0.0.0/99", 1);
    char err[512] = "";
    assert_int_equal(load(err, sizeof err), GH_ERR_CONFIG);
    assert_true(strncmp(err, "GATEHOUSE_METRICS_ALLOW: ", 25) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, clean),
        cmocka_unit_test_teardown(test_values_land_with_their_owner, clean),
        cmocka_unit_test_teardown(test_messages, clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
