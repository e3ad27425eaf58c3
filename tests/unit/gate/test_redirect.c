/* Unit tests for src/gate/redirect.c: the return-URL validator behind rd=.
 * One policy, a table of known open-redirect tricks that must be refused
 * (OWASP's unvalidated-redirects cheat sheet, PortSwigger's URL validation
 * bypass list, WHATWG parser quirks) and a table of URLs that must pass
 * with their normalised form. */
#include "testutil.h"

#include "gate/redirect.h"

static const char *const hosts[] = {
    "app.example.com",    "Admin.Example.com:8443",
    "*.apps.example.org", "localhost",
    "127.0.0.1",          "[::1]:8080",
    "10.0.0.5",
};

static const struct redirect_policy dev = {
    .hosts = hosts,
    .nhosts = sizeof hosts / sizeof hosts[0],
    .cookie_domain = ".example.net",
    .dev_loopback_http = true,
    .public_base = "https://auth.example.com/base/path",
};

static struct redirect_policy prod(void)
{
    struct redirect_policy p = dev;
    p.dev_loopback_http = false;
    return p;
}

static enum gh_err check(const struct redirect_policy *p, const char *url, char *out)
{
    return redirect_check(p, url, url ? strlen(url) : 0, out, REDIRECT_OUT_MAX);
}

/* Each must be refused (under the development policy, the lenient one). */
static const char *const refused[] = {
    "",                                             /* empty */
    "//evil.com",                                   /* scheme-relative */
    "///evil.com",                                  /* triple slash */
    "/\\evil.com",                                  /* browsers read '\' as '/' */
    "\\\\evil.com",                                 /* two backslashes */
    "/\\/evil.com",                                 /* mixed */
    "https:evil.com",                               /* no "//" */
    "https:/evil.com",                              /* one slash */
    "https:///evil.com",                            /* empty host, WHATWG skips slashes */
    "https:\\\\evil.com",                           /* backslashes after the scheme */
    "javascript:alert(1)",                          /* script scheme */
    "JaVaScRiPt:alert(1)",                          /* mixed case */
    "java\nscript:alert(1)",                        /* browsers drop the newline */
    "java%0ascript:alert(1)",                       /* no scheme, and an encoded LF */
    "javascript://app.example.com/%0aalert(1)",     /* an allowed host in a script URL */
    "data:text/html;base64,PHNjcmlwdD4=",           /* data: */
    "vbscript:msgbox(1)",                           /* vbscript: */
    "file:///etc/passwd",                           /* file: */
    "ftp://app.example.com/",                       /* other scheme, allowed host */
    "https://evil.com",                             /* not allowed */
    "https://app.example.com.evil.com/",            /* allowed name as a prefix */
    "https://evil.com#.app.example.com",            /* host ends at '#' */
    "https://evil.com?.app.example.com",            /* host ends at '?' */
    "https://evil.com\\.app.example.com",           /* host ends at '\' for browsers */
    "https://evil.com%23.app.example.com",          /* encoded '#' in the authority */
    "https://app.example.com@evil.com/",            /* userinfo: the host is evil.com */
    "https://user:pw@app.example.com/",             /* userinfo, even to an allowed host */
    "https://app.example.com:8443@evil.com",        /* userinfo that looks like a port */
    "https://app.example.com;@evil.com",            /* userinfo with a sub-delim */
    "https://app.example.com%40evil.com",           /* encoded '@' */
    "https://app.example.com%2f%2fevil.com",        /* encoded slashes in the authority */
    "https://app.example.com%09.evil.com",          /* encoded tab in the authority */
    "/%2f%2fevil.com",                              /* decodes to //evil.com */
    "/%5cevil.com",                                 /* decodes to /\evil.com */
    "/%2F%5Cevil.com",                              /* the same in upper case */
    "%2f%2fevil.com",                               /* not a path at all */
    "/\t/evil.com",                                 /* tab: browsers drop it, "//" */
    "/\n/evil.com",                                 /* newline, same */
    "https://app.example.com\t/",                   /* whitespace in the authority */
    " https://app.example.com/",                    /* leading space */
    "https://app.example.com/ ",                    /* trailing space */
    "https://app.example.com/\r\nSet-Cookie:a=1",   /* header injection */
    "https://app.example.com/%0d%0aSet-Cookie:a=1", /* encoded CRLF */
    "https://app.example.com/%00",                  /* encoded NUL */
    "/\x7f",                                        /* DEL */
    "https://ex\xc3\xa4mple.example.net/",          /* raw non-ASCII host (IDN homograph) */
    "https://app.example.com/\xe2\x80\xae",         /* raw RTL override in the path */
    "https://app.example.com./",                    /* trailing dot */
    "https://example.net./",                        /* trailing dot on the cookie domain */
    "https://app..example.net/",                    /* empty label */
    "https://.example.net/",                        /* leading dot */
    "https://-app.example.net/",                    /* label starting with '-' */
    "https://93.184.216.34/",                       /* IP literal not named */
    "https://0x7f.1/",                              /* WHATWG reads this as 127.0.0.1 */
    "https://2130706433/",                          /* decimal 127.0.0.1 */
    "https://1.example.net.0/",                     /* numeric last label: an IPv4 to WHATWG */
    "https://[::1]/",                               /* IPv6 named only with :8080 */
    "https://[::ffff:7f00:1]/",                     /* IPv4-mapped loopback, not named */
    "http://app.example.com/",                      /* http outside loopback */
    "http://127.0.0.1:8080/",                       /* loopback, but the port is not named */
    "https://app.example.com:8443/",                /* port not named for this host */
    "https://app.example.com:0443/",                /* leading zero */
    "https://app.example.com:/",                    /* empty port */
    "https://app.example.com:65536/",               /* out of range */
    "https://app.example.com:443:443/",             /* two ports */
    "https://x.apps.example.org:8443/",             /* wildcards grant no other port */
    "https://apps.example.org/",                    /* the wildcard's base alone */
    "https://xapps.example.org/",                   /* suffix without a label boundary */
    "https://evilexample.net/",                     /* the same for the cookie domain */
    "https://example.net.evil.com/",                /* cookie domain as a prefix */
    "https://evil.com/.example.net",                /* cookie domain in the path */
    "https://*.apps.example.org/",                  /* a literal '*' host */
    "https://app.example.com//evil.com",            /* "//" in the path */
    "/..//evil.com",                                /* dot segment then "//" */
    "/%2e%2e/evil",                                 /* encoded dot segment */
    "/a/./b",                                       /* dot segment */
    "https://app.example.com/%zz",                  /* bad escape */
    "https://app.example.com/%",                    /* truncated escape */
    "https://app.example.com/<script>",             /* raw '<' */
    "https://app.example.com/a|b",                  /* raw '|' */
    "https://app.example.com/#a#b",                 /* two fragments */
    "evil.com",                                     /* no scheme, no slash */
    "app.example.com/x",                            /* the same with an allowed name */
    "?next=//evil.com",                             /* query only */
    "#frag",                                        /* fragment only */
    "https://",                                     /* no host */
    "https://?x",                                   /* no host, query */
    "https://:443/",                                /* no host, port */
};

struct accepted {
    const char *in, *out;
};

static const struct accepted accepted[] = {
    /* relative paths resolve against the public base's origin */
    {"/", "https://auth.example.com/"},
    {"/dashboard?tab=1#top", "https://auth.example.com/dashboard?tab=1#top"},
    {"/?x=1", "https://auth.example.com/?x=1"},
    {"https://app.example.com", "https://app.example.com/"},
    /* the public base's own origin, written out */
    {"https://Auth.example.com/x", "https://auth.example.com/x"},
    /* scheme and host are lower-cased, the rest kept */
    {"HTTPS://App.Example.COM/Path?Q=A", "https://app.example.com/Path?Q=A"},
    /* the scheme's own port is dropped */
    {"https://app.example.com:443/x", "https://app.example.com/x"},
    {"https://app.example.com?x=1", "https://app.example.com/?x=1"},
    {"https://app.example.com#f", "https://app.example.com/#f"},
    /* a port named by an exact entry (entries match case-insensitively) */
    {"https://admin.example.com:8443/users", "https://admin.example.com:8443/users"},
    /* wildcards: one label below the base, or more */
    {"https://x.apps.example.org/", "https://x.apps.example.org/"},
    {"https://a.b.apps.example.org/p", "https://a.b.apps.example.org/p"},
    /* the cookie domain itself and its subdomains */
    {"https://example.net/", "https://example.net/"},
    {"https://deep.sub.example.net/p", "https://deep.sub.example.net/p"},
    /* punycode is plain ASCII */
    {"https://xn--exmple-cua.example.net/", "https://xn--exmple-cua.example.net/"},
    /* http to a loopback host, development only */
    {"http://localhost/cb", "http://localhost/cb"},
    {"http://127.0.0.1/cb", "http://127.0.0.1/cb"},
    {"http://[::1]:8080/", "http://[::1]:8080/"},
    /* an IP literal the policy names */
    {"https://10.0.0.5/", "https://10.0.0.5/"},
    /* encoded '/' in the query is an ordinary return URL */
    {"https://app.example.com/s?next=%2Fhome%2F&q=a%20b",
     "https://app.example.com/s?next=%2Fhome%2F&q=a%20b"},
    /* percent-encoded UTF-8 is the deliberate form of non-ASCII */
    {"https://app.example.com/caf%C3%A9", "https://app.example.com/caf%C3%A9"},
    /* dots inside segments are not dot segments; '@' and ':' in the path */
    {"https://app.example.com/a/b.c/d..e/.f/@x:y", "https://app.example.com/a/b.c/d..e/.f/@x:y"},
    {"https://app.example.com/a/?q=//x#//y", "https://app.example.com/a/?q=//x#//y"},
};

static void test_refused(void **state)
{
    (void)state;
    char out[REDIRECT_OUT_MAX];
    assert_true(sizeof refused / sizeof refused[0] >= 40);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        memcpy(out, "junk", 5);
        if (check(&dev, refused[i], out) != GH_ERR_INVALID)
            fail_msg("accepted \"%s\" as \"%s\"", refused[i], out);
        assert_string_equal(out, "");
    }
}

static void test_accepted(void **state)
{
    (void)state;
    char out[REDIRECT_OUT_MAX], again[REDIRECT_OUT_MAX];
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        if (check(&dev, accepted[i].in, out) != GH_OK) fail_msg("refused \"%s\"", accepted[i].in);
        assert_string_equal(out, accepted[i].out);
        /* the output is a fixed point: checking it again changes nothing */
        assert_int_equal(check(&dev, out, again), GH_OK);
        assert_string_equal(again, out);
    }
}

static void test_production(void **state)
{
    (void)state;
    struct redirect_policy p = prod();
    char out[REDIRECT_OUT_MAX];
    assert_int_equal(check(&p, "http://localhost/cb", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "http://[::1]:8080/", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "https://localhost/cb", out), GH_OK);
    assert_string_equal(out, "https://localhost/cb");
}

static void test_edges(void **state)
{
    (void)state;
    char out[REDIRECT_OUT_MAX];
    /* a NUL inside the given length */
    static const char nul[] = "https://app.example.com\0.evil.com/";
    assert_int_equal(redirect_check(&dev, nul, sizeof nul - 1, out, sizeof out), GH_ERR_INVALID);
    /* only len bytes are read */
    assert_int_equal(redirect_check(&dev, "https://app.example.comX", 23, out, sizeof out), GH_OK);
    assert_string_equal(out, "https://app.example.com/");
    assert_int_equal(redirect_check(&dev, NULL, 5, out, sizeof out), GH_ERR_INVALID);
    assert_int_equal(redirect_check(NULL, "/", 1, out, sizeof out), GH_ERR_INVALID);
    assert_int_equal(redirect_check(&dev, "/", 1, NULL, 10), GH_ERR_INVALID);
    /* too small an output buffer */
    assert_int_equal(redirect_check(&dev, "/", 1, out, 10), GH_ERR_INVALID);
    assert_string_equal(out, "");
    /* the length cap */
    static char big[REDIRECT_MAX_LEN + 2];
    memset(big, 'a', sizeof big);
    memcpy(big, "https://app.example.com/", 24);
    assert_int_equal(redirect_check(&dev, big, REDIRECT_MAX_LEN, out, sizeof out), GH_OK);
    assert_int_equal(redirect_check(&dev, big, REDIRECT_MAX_LEN + 1, out, sizeof out),
                     GH_ERR_INVALID);
    /* a relative path that grows past the cap once resolved */
    memset(big, 'a', sizeof big);
    big[0] = '/';
    assert_int_equal(redirect_check(&dev, big, REDIRECT_MAX_LEN - 30, out, sizeof out), GH_OK);
    assert_int_equal(strlen(out), REDIRECT_MAX_LEN - 30 + strlen("https://auth.example.com"));
    assert_int_equal(redirect_check(&dev, big, REDIRECT_MAX_LEN - 20, out, sizeof out),
                     GH_ERR_INVALID);
    /* no public base (or a bad one): relative paths are refused */
    struct redirect_policy p = dev;
    p.public_base = NULL;
    assert_int_equal(check(&p, "/", out), GH_ERR_INVALID);
    p.public_base = "auth.example.com";
    assert_int_equal(check(&p, "/", out), GH_ERR_INVALID);
    p.public_base = "http://localhost:8080/";
    assert_int_equal(check(&p, "/x", out), GH_OK);
    assert_string_equal(out, "http://localhost:8080/x");
    p.dev_loopback_http = false; /* the base is held to the scheme rule */
    assert_int_equal(check(&p, "/x", out), GH_ERR_INVALID);
    p.public_base = "http://auth.example.com";
    assert_int_equal(check(&p, "/x", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "http://auth.example.com/x", out), GH_ERR_INVALID);
    /* no hosts, no cookie domain: only relative paths pass */
    p = dev;
    p.hosts = NULL;
    p.nhosts = 0;
    p.cookie_domain = NULL;
    assert_int_equal(check(&p, "https://app.example.com/", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "https://example.net/", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "/ok", out), GH_OK);
}

/* Entries that are malformed match nothing instead of everything. */
static void test_bad_entries(void **state)
{
    (void)state;
    static const char *const bad[] = {"*",
                                      "*.",
                                      "*.com",
                                      "*example.com",
                                      "",
                                      NULL,
                                      "[::1",
                                      "app.example.com:x",
                                      "app.example.com:"};
    struct redirect_policy p = {.hosts = bad,
                                .nhosts = sizeof bad / sizeof bad[0],
                                .cookie_domain = "com",
                                .public_base = "https://a.example.com"};
    char out[REDIRECT_OUT_MAX];
    assert_int_equal(check(&p, "https://evil.com/", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "https://app.example.com/", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "https://x.example.com/", out), GH_ERR_INVALID);
    assert_int_equal(check(&p, "https://com/", out), GH_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),     cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_production),  cmocka_unit_test(test_edges),
        cmocka_unit_test(test_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
