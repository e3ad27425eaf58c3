/* Unit tests for src/pages/page.c: the template filler escapes every value
 * for text and quoted attributes alike, sections show or hide, and a
 * template mistake fails whole instead of giving half a page. */
#include "testutil.h"

#include "pages/page.h"

static char *filled(const char *tmpl, const struct page_var *v, size_t n, enum gh_err want)
{
    static char keep[4096];
    struct page_buf b = {0};
    enum gh_err rc = page_fill(&b, tmpl, v, n);
    assert_int_equal(rc, want);
    snprintf(keep, sizeof keep, "%s", b.data ? b.data : "");
    page_buf_free(&b);
    return keep;
}

static void test_escape(void **state)
{
    (void)state;
    const struct page_var v[] = {{"x", "<a href='j'>\"&`</a>"}, {"empty", ""}, {"null", NULL}};
    assert_string_equal(filled("<p title=\"{{x}}\">{{x}}</p>", v, 3, GH_OK),
                        "<p title=\"&lt;a href=&#39;j&#39;&gt;&quot;&amp;&#96;&lt;/a&gt;\">"
                        "&lt;a href=&#39;j&#39;&gt;&quot;&amp;&#96;&lt;/a&gt;</p>");
    assert_string_equal(filled("[{{empty}}][{{null}}]", v, 3, GH_OK), "[][]");
    assert_string_equal(filled("plain text, no tags", v, 3, GH_OK), "plain text, no tags");
    /* a value's own braces are text, never a tag */
    const struct page_var w[] = {{"x", "{{x}}"}};
    assert_string_equal(filled("{{x}}", w, 1, GH_OK), "{{x}}");
}

static void test_sections(void **state)
{
    (void)state;
    const struct page_var v[] = {{"on", "yes"}, {"off", ""}, {"name", "N"}};
    assert_string_equal(filled("a{{#on}}[{{name}}]{{/on}}b", v, 3, GH_OK), "a[N]b");
    assert_string_equal(filled("a{{#off}}[{{name}}]{{/off}}b", v, 3, GH_OK), "ab");
    assert_string_equal(filled("a{{^off}}none{{/off}}b{{^on}}x{{/on}}", v, 3, GH_OK), "anoneb");
    assert_string_equal(filled("{{#on}}1{{#off}}2{{/off}}3{{/on}}", v, 3, GH_OK), "13");
}

static void test_template_errors(void **state)
{
    (void)state;
    const struct page_var v[] = {{"x", "1"}};
    filled("{{y}}", v, 1, GH_ERR_INVALID);        /* unknown name */
    filled("{{x", v, 1, GH_ERR_INVALID);          /* unclosed tag */
    filled("{{#x}}no end", v, 1, GH_ERR_INVALID); /* unclosed section */
    filled("{{/x}}", v, 1, GH_ERR_INVALID);       /* a stray end */
    filled("{{}}", v, 1, GH_ERR_INVALID);         /* no name */
    /* a page past PAGE_MAX_BYTES fails whole */
    static char big[PAGE_MAX_BYTES / 2 + 16];
    memset(big, 'a', sizeof big - 1);
    const struct page_var b[] = {{"big", big}};
    struct page_buf out = {0};
    assert_int_equal(page_fill(&out, "{{big}}{{big}}{{big}}", b, 1), GH_ERR_INVALID);
    page_buf_free(&out);
}

/* {{{name}}} puts rows that page_fill already escaped, as they are; the
 * rows' own values stay escaped. */
static void test_verbatim(void **state)
{
    (void)state;
    struct page_buf rows = {0};
    const char *items[] = {"<b>1</b>", "a&b"};
    for (size_t i = 0; i < 2; i++) {
        const struct page_var r[] = {{"item", items[i]}};
        assert_int_equal(page_fill(&rows, "<li>{{item}}</li>", r, 1), GH_OK);
    }
    const struct page_var v[] = {{"rows", rows.data}, {"none", NULL}, {"x", "<i>"}};
    assert_string_equal(filled("<ol>{{{rows}}}</ol>", v, 3, GH_OK),
                        "<ol><li>&lt;b&gt;1&lt;/b&gt;</li><li>a&amp;b</li></ol>");
    assert_string_equal(filled("[{{{none}}}]{{x}}", v, 3, GH_OK), "[]&lt;i&gt;");
    assert_string_equal(filled("{{#rows}}<ol>{{{rows}}}</ol>{{/rows}}", v, 1, GH_OK),
                        "<ol><li>&lt;b&gt;1&lt;/b&gt;</li><li>a&amp;b</li></ol>");
    page_buf_free(&rows);
    filled("{{{rows}}", v, 3, GH_ERR_INVALID); /* unclosed */
    filled("{{{y}}}", v, 3, GH_ERR_INVALID);   /* unknown name */
    filled("{{{}}}", v, 3, GH_ERR_INVALID);    /* no name */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_verbatim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
