/* Unit tests for src/pages/pages_style.c (the colour parser, contrast, the
 * generated stylesheet) and the layout of src/pages/pages.c: every colour
 * pair of the palette meets WCAG AA in both schemes, a brand colour gets a
 * readable text colour, every class of the page vocabulary is styled, and
 * a "style guide" page using each of them renders. With
 * GH_STYLE_GUIDE_OUT=<file> set, the style guide page is written there (to
 * look at it in a browser: the stylesheet link is /assets/gatehouse.css). */
#include "testutil.h"

#include <stdlib.h>

#include "core/config.h"
#include "mfa/totp.h"
#include "pages/pages.h"
#include "pages/pages_style.h"

static void test_color_parse(void **state)
{
    (void)state;
    uint8_t c[3] = {1, 2, 3};
    assert_true(pages_color_parse("#1f5FbF", c));
    assert_int_equal(c[0], 0x1f);
    assert_int_equal(c[1], 0x5f);
    assert_int_equal(c[2], 0xbf);
    assert_true(pages_color_parse("#000000", c));
    assert_true(pages_color_parse("#FFFFFF", c));
    assert_int_equal(c[2], 255);
    static const char *const bad[] = {
        NULL,       "",         "#",        "#fff",     "1f5fbf",     "#1f5fbg",
        "#1f5fbf ", " #1f5fbf", "#1f5fbf0", "red",      "#1f5fb",     "##1f5fb",
        "#1f 5fb",  "#-1f5fb",  "#1f5fbf;", "#1f5f\nb", "rgb(1,2,3)", "#0x1f5f",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t k[3] = {7, 7, 7};
        assert_false(pages_color_parse(bad[i], k));
        assert_int_equal(k[0], 7); /* unchanged */
    }
}

static void test_contrast(void **state)
{
    (void)state;
    const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255}, grey[3] = {0x76, 0x76, 0x76};
    assert_true(pages_contrast(black, white) > 20.99 && pages_contrast(black, white) < 21.01);
    assert_true(pages_contrast(white, black) > 20.99);
    assert_true(pages_contrast(white, white) < 1.0001);
    /* #767676 on white is the well-known 4.54:1 */
    assert_true(pages_contrast(grey, white) > 4.5 && pages_contrast(grey, white) < 4.6);
}

static const char *color(const struct pages_color *p, size_t n, const char *name, bool dark)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0) return dark ? p[i].dark : p[i].light;
    fail_msg("no colour %s", name);
    return NULL;
}

static double ratio(const struct pages_color *p, size_t n, const char *a, const char *b, bool dark)
{
    uint8_t x[3], y[3];
    assert_true(pages_color_parse(color(p, n, a, dark), x));
    assert_true(pages_color_parse(color(p, n, b, dark), y));
    return pages_contrast(x, y);
}

/* Text on its backgrounds at 4.5:1, field borders and the focus ring at
 * 3:1 (WCAG 1.4.3 and 1.4.11), in both schemes. */
static void check_palette(const char *accent)
{
    struct pages_color p[64];
    size_t n = pages_palette(p, 64, accent);
    static const struct {
        const char *fg, *bg;
        double min;
    } pairs[] = {
        {"fg", "bg", 4.5},
        {"fg", "card", 4.5},
        {"muted", "card", 4.5},
        {"muted", "bg", 4.5},
        {"muted", "code-bg", 4.5},
        {"fg", "code-bg", 4.5},
        {"fg", "input", 4.5},
        {"link", "card", 4.5},
        {"accent-fg", "accent", 4.5},
        {"alert-fg", "alert-bg", 4.5},
        {"notice-fg", "notice-bg", 4.5},
        {"danger-fg", "danger", 4.5},
        {"tag-fg", "tag-bg", 4.5},
        {"field", "card", 3.0},
        {"field", "input", 3.0},
        {"focus", "card", 3.0},
        {"focus", "bg", 3.0},
        {"alert-line", "card", 3.0},
    };
    for (int dark = 0; dark < 2; dark++)
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            double r = ratio(p, n, pairs[i].fg, pairs[i].bg, dark);
            if (r < pairs[i].min)
                fail_msg("accent %s, %s scheme: %s on %s is %.2f:1 (< %.1f)",
                         accent ? accent : "built-in", dark ? "dark" : "light", pairs[i].fg,
                         pairs[i].bg, r, pairs[i].min);
        }
}

static void test_palette_contrast(void **state)
{
    (void)state;
    check_palette(NULL);
    /* brand colours light, dark, saturated and mid-grey: the text on the
     * accent flips between white and black, links fall back to the text
     * colour where the accent does not read */
    static const char *const brands[] = {"#ffd400", "#000000", "#ffffff", "#e11d48", "#0a7d5a",
                                         "#777777", "#7c3aed", "#00ffff", "#1f5fbf", "#3b3b3b"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        check_palette(brands[i]);
    struct pages_color p[64];
    size_t n = pages_palette(p, 64, "#ffd400");
    assert_string_equal(color(p, n, "accent", false), "#ffd400");
    assert_string_equal(color(p, n, "accent", true), "#ffd400");
    assert_string_equal(color(p, n, "accent-fg", false), "#000000");
    assert_string_equal(color(p, n, "link", false), color(p, n, "fg", false)); /* yellow on white */
    assert_string_equal(color(p, n, "link", true), "#ffd400");                 /* reads on dark */
    n = pages_palette(p, 64, "#0A7D5A");
    assert_string_equal(color(p, n, "accent-fg", false), "#ffffff");
    assert_string_equal(color(p, n, "link", false), "#0a7d5a");
}

/* Every class of the page vocabulary (docs/api.md "Pages"). */
static const char *const VOCABULARY[] = {
    "p.lead",
    ".alert",
    ".notice",
    ".field",
    "p.hint",
    "input[type=text]",
    "input[type=email]",
    "input[type=password]",
    "button",
    "button.secondary",
    "button.danger",
    "a.button",
    ".actions",
    ".links",
    ".divider",
    "section",
    "h1",
    "h2",
    ".codes",
    ".secret",
    "img.qr",
    "table.sessions",
    ".tag",
    "form.inline",
    ".muted",
    ":focus-visible",
    "main.card.wide",
    "header.site",
    "footer.site",
    "prefers-color-scheme:dark",
    "max-width:40rem",
};

static void test_stylesheet(void **state)
{
    (void)state;
    char *css = NULL;
    size_t len = 0;
    assert_int_equal(pages_style_build(NULL, &css, &len), GH_OK);
    assert_int_equal(strlen(css), len);
    assert_true(len < 12 * 1024); /* a few KB */
    for (size_t i = 0; i < sizeof VOCABULARY / sizeof VOCABULARY[0]; i++)
        if (!strstr(css, VOCABULARY[i])) fail_msg("the stylesheet lacks %s", VOCABULARY[i]);
    assert_non_null(strstr(css, ":root{color-scheme:light dark;--bg:#f3f4f6;"));
    assert_non_null(strstr(css, "--accent:#1f5fbf;"));
    /* the QR code keeps its white quiet zone in the dark scheme too */
    assert_non_null(strstr(css, "background:#fff;"));
    /* no url(): the sheet fetches nothing */
    assert_null(strstr(css, "url("));
    /* braces balance */
    int depth = 0;
    for (const char *p = css; *p; p++) {
        depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
        assert_true(depth >= 0);
    }
    assert_int_equal(depth, 0);
    free(css);

    assert_int_equal(pages_style_build("#FFD400", &css, &len), GH_OK);
    assert_non_null(strstr(css, "--accent:#ffd400;--accent-fg:#000000;"));
    free(css);
    css = (char *)"x";
    assert_int_equal(pages_style_build("#ffd40", &css, &len), GH_ERR_INVALID);
    assert_null(css);
    assert_int_equal(len, 0);
}

static void test_wait_words(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        const char *words;
    } t[] = {
        {0, "Try again in a moment."},       {-5, "Try again in a moment."},
        {1, "Try again in 1 second."},       {30, "Try again in 30 seconds."},
        {60, "Try again in 1 minute."},      {90, "Try again in 90 seconds."},
        {119, "Try again in 119 seconds."},  {120, "Try again in 2 minutes."},
        {121, "Try again in 3 minutes."},    {900, "Try again in 15 minutes."},
        {3600, "Try again in 1 hour."},      {3601, "Try again in 61 minutes."},
        {7200, "Try again in 2 hours."},     {86400, "Try again in 1 day."},
        {3 * 86400, "Try again in 3 days."},
    };
    char out[64];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pages_wait_words(t[i].s, out, sizeof out);
        assert_string_equal(out, t[i].words);
    }
}

/* A page using every class, as the other page files will. */
static const char STYLE_GUIDE[] =
    "<h1>Style guide: every class</h1>\n"
    "<p class=\"lead\">A muted intro line under the heading, as on every form.</p>\n"
    "<p class=\"alert\" role=\"alert\" id=\"email-error\">Incorrect email or password.</p>\n"
    "<p class=\"notice\" role=\"status\">Your password was changed. Sign in with the new one.</p>\n"
    "<form method=\"post\" action=\"{{base}}/nowhere\">\n"
    "<div class=\"field\"><label for=\"email\">Email</label>"
    "<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" "
    "aria-invalid=\"true\" "
    "aria-describedby=\"email-error\" value=\"ada@example.com\"></div>\n"
    "<div class=\"field\"><label for=\"password\">Password</label>"
    "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" "
    "aria-describedby=\"password-hint\">"
    "<p class=\"hint\" id=\"password-hint\">At least 12 characters. A few words make a good "
    "one.</p></div>\n"
    "<div class=\"field\"><label for=\"code\">Code from the app</label>"
    "<input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"one-time-code\"></div>\n"
    "<button type=\"submit\">Sign in</button>\n"
    "</form>\n"
    "<ul class=\"links\"><li><a href=\"{{base}}/forgot-password\">Forgot password?</a></li>"
    "<li><a href=\"{{base}}/signup\">Create an account</a></li></ul>\n"
    "<p class=\"divider\">or</p>\n"
    "<div class=\"actions\"><button type=\"submit\" class=\"secondary\">Email me a sign-in "
    "link</button><a class=\"button\" href=\"{{base}}/account\">Continue</a></div>\n"
    "<section><h2>Two-step verification</h2>\n"
    "<img class=\"qr\" alt=\"QR code\" width=\"240\" height=\"240\" src=\"{{qr}}\">\n"
    "<p>Or type this key into the app:</p>\n"
    "<code class=\"secret\" id=\"totp-secret\">JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP</code>\n"
    "<ol class=\"codes\" id=\"backup-codes\">"
    "<li>pzi5-c355-e6yk-wrx3-uf3p-wt3c</li>"
    "<li>5duz-rtev-elon-lecf-ec4g-dh5h</li>"
    "<li>ot35-g2oy-dazx-qgu4-mb7n-k2pa</li>"
    "<li>w3rb-n6xt-qa2m-h7ke-p4zc-9dvu</li>"
    "<li>c8mf-2hq5-rj3x-vt6n-y4wb-e7ka</li>"
    "<li>k5ny-u3pd-9qzw-m2ct-x8re-f6hb</li>"
    "<li>t2vg-h9ka-6xmw-q3uf-b7zd-n4pe</li>"
    "<li>r6ce-y2mt-k8xb-w4qa-h3nf-5zuv</li>"
    "<li>m9wd-a5rk-2tyc-e8hx-u6qn-b3pg</li>"
    "<li>f4hu-x7nb-q2ke-c9ta-w5my-r8dz</li>"
    "</ol>\n"
    "<p class=\"muted\">Each code works once.</p>\n"
    "</section>\n"
    "<section><h2>Sessions</h2>\n"
    "<table class=\"sessions\"><thead><tr><th scope=\"col\">Device</th>"
    "<th scope=\"col\">Last active</th><th scope=\"col\"><span class=\"muted\">Action</span>"
    "</th></tr></thead><tbody>\n"
    "<tr><td data-label=\"Device\">Firefox on Linux <span class=\"tag\">This device</span></td>"
    "<td data-label=\"Last active\">Now</td><td></td></tr>\n"
    "<tr><td data-label=\"Device\">Safari on iPhone</td><td data-label=\"Last active\">2 days "
    "ago</td><td><form class=\"inline\" method=\"post\" action=\"{{base}}/nowhere\">"
    "<button type=\"submit\" class=\"secondary\" aria-label=\"Sign out Safari on iPhone\">Sign "
    "out</button></form></td></tr>\n"
    "</tbody></table>\n"
    "<div class=\"actions\"><button type=\"submit\" class=\"danger\">Sign out everywhere "
    "else</button></div>\n"
    "</section>\n";

static void test_style_guide(void **state)
{
    (void)state;
    memset(&gh_cfg, 0, sizeof gh_cfg);
    snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "Acme Cloud");
    snprintf(gh_cfg.public_url, sizeof gh_cfg.public_url, "https://auth.example.com");
    /* a real QR code, as the TOTP page will show it */
    char *svg = NULL;
    assert_int_equal(
        totp_qr_svg("otpauth://totp/Acme:ada@example.com?secret=JBSWY3DPEHPK3PXP", &svg), GH_OK);
    size_t blen = sodium_base64_encoded_len(strlen(svg), sodium_base64_VARIANT_ORIGINAL);
    char *qr = malloc(blen + 32);
    assert_non_null(qr);
    static const char prefix[] = "data:image/svg+xml;base64,";
    memcpy(qr, prefix, sizeof prefix);
    sodium_bin2base64(qr + strlen(qr), blen, (const unsigned char *)svg, strlen(svg),
                      sodium_base64_VARIANT_ORIGINAL);
    free(svg);
    const struct page_var v[] = {{"qr", qr}};
    struct page_buf b = {0};
    assert_int_equal(pages_render_width(&b, true, "Style guide", STYLE_GUIDE, v, 1), GH_OK);
    free(qr);
    assert_non_null(strstr(b.data, "<html lang=\"en\">"));
    assert_non_null(strstr(b.data, "<title>Style guide - Acme Cloud</title>"));
    assert_non_null(strstr(b.data, "<body class=\"wide\">"));
    assert_non_null(strstr(b.data, "<main class=\"card wide\">"));
    assert_non_null(strstr(b.data, "<p class=\"brand\">Acme Cloud</p>"));
    assert_null(strstr(b.data, "/assets/logo")); /* none configured */
    assert_null(strstr(b.data, "style="));       /* the CSP allows no inline style */
    assert_null(strstr(b.data, "<script"));
    const char *out = getenv("GH_STYLE_GUIDE_OUT");
    if (out) {
        FILE *f = fopen(out, "w");
        assert_non_null(f);
        fwrite(b.data, 1, b.len, f);
        fclose(f);
    }
    page_buf_free(&b);
    /* an error page: the wait in words, the request id to quote */
    const struct page_var e[] = {{"heading", "Something went wrong"},
                                 {"message", "Nothing was changed."},
                                 {"wait", "Try again in 2 minutes."},
                                 {"signin", ""},
                                 {"request_id", "abc123"}};
    assert_int_equal(pages_render(&b, "Something went wrong", PAGES_ERROR, e, 5), GH_OK);
    assert_non_null(strstr(b.data, "<p role=\"alert\">Nothing was changed. Try again in 2 "
                                   "minutes.</p>\n"));
    assert_non_null(strstr(b.data, "quote this reference: <code>abc123</code></p>"));
    assert_null(strstr(b.data, "Sign in</a>"));
    page_buf_free(&b);
    assert_int_equal(pages_render(&b, "Narrow", "<h1>x</h1>", NULL, 0), GH_OK);
    assert_non_null(strstr(b.data, "<body>\n"));
    assert_non_null(strstr(b.data, "<main class=\"card\">"));
    page_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_color_parse),      cmocka_unit_test(test_contrast),
        cmocka_unit_test(test_palette_contrast), cmocka_unit_test(test_stylesheet),
        cmocka_unit_test(test_wait_words),       cmocka_unit_test(test_style_guide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
