/* Provider settings (src/federation/providers.c): presets, defaults and
 * every refusal, read from the environment as at start. */
#include "testutil.h"

#include <sys/stat.h>

#include "federation/providers.h"

extern char **environ;

static char err[512];

static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "GATEHOUSE_OIDC_", 15) == 0) {
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                break;
            }
        if (!name[0]) return;
        unsetenv(name);
    }
}

static int setup_each(void **st)
{
    test_config();
    clear_env();
    fed_config_free();
    err[0] = '\0';
    return 0;
}

static enum gh_err load(void)
{
    return fed_config_load(err, sizeof err);
}

static void expect_config_error(const char *needle)
{
    assert_int_equal(load(), GH_ERR_CONFIG);
    assert_non_null(strstr(err, needle));
    assert_int_equal(fed_provider_count(), 0); /* nothing half-configured stays */
}

static void t_none(void **st)
{
    assert_int_equal(load(), GH_OK);
    assert_int_equal(fed_provider_count(), 0);
    assert_null(fed_provider_at(0));
    assert_null(fed_provider_find("google"));
    assert_int_equal(fed_clock_skew(), 60);
}

static void t_google_preset(void **st)
{
    setenv("GATEHOUSE_OIDC_GOOGLE_CLIENT_ID", "123.apps.googleusercontent.com", 1);
    setenv("GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET", "s3cret", 1);
    setenv("GATEHOUSE_OIDC_GOOGLE_NATIVE_CLIENT_IDS", " ios.example , android.example,", 1);
    assert_int_equal(load(), GH_OK);
    assert_int_equal(fed_provider_count(), 1);
    const struct fed_provider *p = fed_provider_find("google");
    assert_non_null(p);
    assert_ptr_equal(p, fed_provider_at(0));
    assert_null(fed_provider_find("GOOGLE"));
    assert_string_equal(p->issuer, "https://accounts.google.com");
    assert_string_equal(p->display, "Google");
    assert_string_equal(p->scopes, "openid email profile");
    assert_false(p->form_post);
    assert_false(p->trust_provider_mfa);
    assert_int_equal(p->preset, FED_PRESET_GOOGLE);
    assert_string_equal(p->client_secret, "s3cret");
    /* A secret is read once and leaves the environment. */
    assert_null(getenv("GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET"));
    assert_int_equal(p->n_native, 2);
    assert_string_equal(p->native_client_ids[0], "ios.example");
    assert_string_equal(p->native_client_ids[1], "android.example");
    assert_non_null(p->cache);
}

static void t_google_needs_secret(void **st)
{
    setenv("GATEHOUSE_OIDC_GOOGLE_CLIENT_ID", "x", 1);
    expect_config_error("GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET");
}

static void t_secret_file_trimmed(void **st)
{
    char dir[512], path[600];
    assert_int_equal(test_mkdtemp(dir, sizeof dir, "fedsecret"), 0);
    snprintf(path, sizeof path, "%s/secret", dir);
    FILE *f = fopen(path, "w");
    fputs("from-a-file\n", f);
    fclose(f);
    chmod(path, 0600);
    setenv("GATEHOUSE_OIDC_GOOGLE_CLIENT_ID", "x", 1);
    setenv("GATEHOUSE_OIDC_GOOGLE_CLIENT_SECRET_FILE", path, 1);
    assert_int_equal(load(), GH_OK);
    assert_string_equal(fed_provider_find("google")->client_secret, "from-a-file");
    unlink(path);
    rmdir(dir);
}

static void t_apple_preset(void **st)
{
    char dir[512], path[600];
    assert_int_equal(test_mkdtemp(dir, sizeof dir, "fedapple"), 0);
    snprintf(path, sizeof path, "%s/AuthKey.p8", dir);
    char *pem = test_p256_pem();
    FILE *f = fopen(path, "w");
    fputs(pem, f);
    fclose(f);
    chmod(path, 0600);
    setenv("GATEHOUSE_OIDC_APPLE_CLIENT_ID", "com.example.web", 1);
    expect_config_error("GATEHOUSE_OIDC_APPLE_TEAM_ID");
    setenv("GATEHOUSE_OIDC_APPLE_TEAM_ID", "TEAM123456", 1);
    setenv("GATEHOUSE_OIDC_APPLE_KEY_ID", "KEY1234567", 1);
    expect_config_error("GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE");
    setenv("GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE", "/etc/hostname", 1);
    expect_config_error("not a usable EC P-256 private key");
    setenv("GATEHOUSE_OIDC_APPLE_PRIVATE_KEY_FILE", path, 1);
    assert_int_equal(load(), GH_OK);
    const struct fed_provider *p = fed_provider_find("apple");
    assert_string_equal(p->issuer, "https://appleid.apple.com");
    assert_string_equal(p->scopes, "openid email name");
    assert_string_equal(p->display, "Apple");
    assert_true(p->form_post);
    assert_null(p->client_secret);
    assert_non_null(p->private_key_pem);
    assert_string_equal(p->team_id, "TEAM123456");
    /* A static secret makes no sense for Apple (it expires). */
    setenv("GATEHOUSE_OIDC_APPLE_CLIENT_SECRET", "static", 1);
    expect_config_error("not used by Apple");
    free(pem);
    unlink(path);
    rmdir(dir);
}

static void t_generic(void **st)
{
    setenv("GATEHOUSE_OIDC_ACME_CLIENT_ID", "gatehouse", 1);
    expect_config_error("GATEHOUSE_OIDC_ACME_ISSUER is required");
    setenv("GATEHOUSE_OIDC_ACME_ISSUER", "http://idp.example.com", 1);
    expect_config_error("GATEHOUSE_OIDC_ACME_ISSUER must be");
    setenv("GATEHOUSE_OIDC_ACME_ISSUER", "https://idp.example.com?x=1", 1);
    expect_config_error("GATEHOUSE_OIDC_ACME_ISSUER must be");
    setenv("GATEHOUSE_OIDC_ACME_ISSUER", "http://127.0.0.1:9000/realms/x", 1);
    setenv("GATEHOUSE_OIDC_ACME_DISPLAY_NAME", "Acme SSO", 1);
    setenv("GATEHOUSE_OIDC_ACME_TRUST_PROVIDER_MFA", "on", 1);
    setenv("GATEHOUSE_OIDC_ACME_RESPONSE_MODE", "form_post", 1);
    assert_int_equal(load(), GH_OK);
    const struct fed_provider *p = fed_provider_find("acme");
    assert_string_equal(p->display, "Acme SSO");
    assert_true(p->trust_provider_mfa);
    assert_true(p->form_post);
    assert_null(p->client_secret); /* a public client: PKCE only */
    assert_int_equal(p->preset, FED_PRESET_GENERIC);
    /* Loopback http is for development: production wants https. */
    gh_cfg.production = true;
    expect_config_error("GATEHOUSE_OIDC_ACME_ISSUER must be an https:// URL");
    gh_cfg.production = false;
}

static void t_refusals(void **st)
{
    setenv("GATEHOUSE_OIDC_ACME_CLIENT_ID", "gatehouse", 1);
    setenv("GATEHOUSE_OIDC_ACME_ISSUER", "https://idp.example.com", 1);
    setenv("GATEHOUSE_OIDC_ACME_ISSUR", "https://typo.example.com", 1);
    expect_config_error("GATEHOUSE_OIDC_ACME_ISSUR is not a setting");
    unsetenv("GATEHOUSE_OIDC_ACME_ISSUR");
    setenv("GATEHOUSE_OIDC_OTHER_ISSUER", "https://x", 1); /* no client id */
    expect_config_error("GATEHOUSE_OIDC_OTHER_ISSUER is not a setting");
    unsetenv("GATEHOUSE_OIDC_OTHER_ISSUER");
    setenv("GATEHOUSE_OIDC_ACME_SCOPES", "email profile", 1);
    expect_config_error("openid");
    setenv("GATEHOUSE_OIDC_ACME_SCOPES", "openid  email", 1);
    expect_config_error("GATEHOUSE_OIDC_ACME_SCOPES");
    unsetenv("GATEHOUSE_OIDC_ACME_SCOPES");
    setenv("GATEHOUSE_OIDC_ACME_RESPONSE_MODE", "fragment", 1);
    expect_config_error("query or form_post");
    unsetenv("GATEHOUSE_OIDC_ACME_RESPONSE_MODE");
    setenv("GATEHOUSE_OIDC_ACME_PRESET", "facebook", 1);
    expect_config_error("google, apple or generic");
    unsetenv("GATEHOUSE_OIDC_ACME_PRESET");
    setenv("GATEHOUSE_OIDC_ACME_TRUST_PROVIDER_MFA", "yes", 1);
    expect_config_error("on or off");
    unsetenv("GATEHOUSE_OIDC_ACME_TRUST_PROVIDER_MFA");
    setenv("GATEHOUSE_OIDC_ACME_NATIVE_CLIENT_IDS", "a,b,c,d,e", 1);
    expect_config_error("at most 4");
    unsetenv("GATEHOUSE_OIDC_ACME_NATIVE_CLIENT_IDS");
    setenv("GATEHOUSE_OIDC_CLOCK_SKEW", "9999", 1);
    expect_config_error("GATEHOUSE_OIDC_CLOCK_SKEW");
    setenv("GATEHOUSE_OIDC_CLOCK_SKEW", "5", 1);
    setenv("GATEHOUSE_OIDC_CA_FILE", "/nonexistent/ca.pem", 1);
    expect_config_error("GATEHOUSE_OIDC_CA_FILE");
    unsetenv("GATEHOUSE_OIDC_CA_FILE");
    assert_int_equal(load(), GH_OK);
    assert_int_equal(fed_clock_skew(), 5);
    setenv("GATEHOUSE_OIDC__BAD_CLIENT_ID", "x", 1);
    expect_config_error("provider name");
}

static void t_order_and_limit(void **st)
{
    setenv("GATEHOUSE_OIDC_ZED_CLIENT_ID", "z", 1);
    setenv("GATEHOUSE_OIDC_ZED_ISSUER", "https://z.example.com", 1);
    setenv("GATEHOUSE_OIDC_ALPHA_2_CLIENT_ID", "a", 1);
    setenv("GATEHOUSE_OIDC_ALPHA_2_ISSUER", "https://a.example.com", 1);
    assert_int_equal(load(), GH_OK);
    assert_int_equal(fed_provider_count(), 2);
    assert_string_equal(fed_provider_at(0)->name, "alpha_2");
    assert_string_equal(fed_provider_at(0)->display, "Alpha_2");
    assert_string_equal(fed_provider_at(1)->name, "zed");
    char v[64];
    for (int i = 0; i < FED_MAX_PROVIDERS; i++) {
        snprintf(v, sizeof v, "GATEHOUSE_OIDC_P%d_CLIENT_ID", i);
        setenv(v, "c", 1);
        snprintf(v, sizeof v, "GATEHOUSE_OIDC_P%d_ISSUER", i);
        setenv(v, "https://p.example.com", 1);
    }
    expect_config_error("at most 8");
}

static void t_url_allowed(void **st)
{
    assert_true(fed_url_allowed("https://accounts.google.com/x", false));
    assert_false(fed_url_allowed("http://accounts.google.com", true));
    assert_false(fed_url_allowed("http://127.0.0.1:80", false));
    assert_true(fed_url_allowed("http://127.0.0.1:80/x", true));
    assert_true(fed_url_allowed("http://localhost", true));
    assert_true(fed_url_allowed("http://[::1]:3000", true));
    assert_false(fed_url_allowed("http://127.0.0.1.evil.com/", true));
    assert_false(fed_url_allowed("http://localhost@evil.com/", true));
    assert_false(fed_url_allowed("https:///path", true));
    assert_false(fed_url_allowed("http://localhost:80@evil.example/", true));
    assert_false(fed_url_allowed("https://user@idp.example/", true));
    assert_false(fed_url_allowed("ftp://x", true));
    assert_false(fed_url_allowed(NULL, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(t_none, setup_each),
        cmocka_unit_test_setup(t_google_preset, setup_each),
        cmocka_unit_test_setup(t_google_needs_secret, setup_each),
        cmocka_unit_test_setup(t_secret_file_trimmed, setup_each),
        cmocka_unit_test_setup(t_apple_preset, setup_each),
        cmocka_unit_test_setup(t_generic, setup_each),
        cmocka_unit_test_setup(t_refusals, setup_each),
        cmocka_unit_test_setup(t_order_and_limit, setup_each),
        cmocka_unit_test_setup(t_url_allowed, setup_each),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fed_config_free();
    return rc;
}
