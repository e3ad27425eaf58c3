/* Unit tests for src/pages/sessions_pages.c's device names: a readable
 * name for the common User-Agents, else the start of the header cut at a
 * character boundary, and a name for an empty one. */
#include "testutil.h"

#include "pages/sessions_pages.h"

static const char *device(const char *ua, size_t cap)
{
    static char out[SESSIONS_PAGES_DEVICE];
    sessions_pages_device(ua, out, cap);
    return out;
}

static void test_names(void **state)
{
    (void)state;
    const size_t cap = SESSIONS_PAGES_DEVICE;
    assert_string_equal(
        device("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", cap),
        "Firefox on Linux");
    assert_string_equal(device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                               "(KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0",
                               cap),
                        "Edge on Windows");
    assert_string_equal(device("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                               "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
                               "Mobile/15E148 Safari/604.1",
                               cap),
                        "Safari on iPhone");
    assert_string_equal(device("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like "
                               "Gecko) Chrome/120.0 Mobile Safari/537.36",
                               cap),
                        "Chrome on Android");
    assert_string_equal(device("curl/8.5.0", cap), "curl");
    assert_string_equal(device("", cap), "Unknown device");
    assert_string_equal(device("SomeBot/1.0", cap), "SomeBot/1.0"); /* the page escapes it */
}

static void test_cut(void **state)
{
    (void)state;
    /* 15 bytes fit in 16: "abcdefghijklmn" + the first byte of "é" would
     * split it, so the cut goes before it */
    assert_string_equal(device("abcdefghijklmn\xc3\xa9z", 16), "abcdefghijklmn");
    assert_string_equal(device("abcdefghijklmnop", 16), "abcdefghijklmno");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
