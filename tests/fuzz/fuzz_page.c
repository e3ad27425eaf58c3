/* Fuzzes the page filler with hostile values (src/pages/page.c), the way
 * a reflected rd or an error message reaches a page. Properties: a filled
 * value holds none of < > " ' ` and every & starts one of our entities, and
 * decoding them gives the value back (nothing lost or added); a whole page
 * with the value in every variable has exactly as many '<' as with empty
 * values (no markup from a value); rows filled one by one and joined into
 * a list through {{{rows}}} carry exactly the list's own markup. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pages/pages.h"

static const struct {
    const char *ent;
    char c;
} ents[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
            {"&quot;", '"'}, {"&#39;", '\''}, {"&#96;", '`'}};

static size_t count_lt(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '<';
    return n;
}

static size_t page_lts(const char *body, const char *value)
{
    const struct page_var v[] = {{"error", value},   {"csrf", value},    {"rd", value},
                                 {"heading", value}, {"message", value}, {"signin", value}};
    struct page_buf b = {0};
    enum gh_err rc = pages_render(&b, value, body, v, 6);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_INVALID); /* INVALID: past PAGE_MAX_BYTES */
    size_t n = rc == GH_OK ? count_lt(b.data) : (size_t)-1;
    page_buf_free(&b);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    char *value = malloc(size + 1);
    if (!value) return 0;
    memcpy(value, data, size);
    value[size] = '\0'; /* a value is a C string: up to the first NUL */
    const struct page_var v[] = {{"v", value}};
    struct page_buf b = {0};
    FUZZ_CHECK(page_fill(&b, "[{{v}}]", v, 1) == GH_OK);
    const char *p = b.data + 1, *end = b.data + b.len - 1;
    FUZZ_CHECK(b.data[0] == '[' && *end == ']');
    size_t o = 0;
    while (p < end) {
        FUZZ_CHECK(!strchr("<>\"'`", *p));
        if (*p != '&') {
            FUZZ_CHECK(value[o++] == *p++);
            continue;
        }
        size_t k = 0;
        while (k < sizeof ents / sizeof ents[0] && strncmp(p, ents[k].ent, strlen(ents[k].ent)))
            k++;
        FUZZ_CHECK(k < sizeof ents / sizeof ents[0]);
        FUZZ_CHECK(value[o++] == ents[k].c);
        p += strlen(ents[k].ent);
    }
    FUZZ_CHECK(value[o] == '\0');
    page_buf_free(&b);
    const char *bodies[] = {PAGES_STEP_UP, PAGES_SIGN_OUT, PAGES_SIGNED_OUT, PAGES_ERROR};
    for (size_t i = 0; i < 4; i++) {
        size_t with = page_lts(bodies[i], value),
               without = page_lts(bodies[i], value[0] ? "x" : "");
        if (with != (size_t)-1) FUZZ_CHECK(with == without);
    }
    /* A list the way the account pages build one: each row escaped, the
     * joined rows put verbatim. Two rows: the markup is the template's. */
    struct page_buf rows = {0};
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++)
        ok = page_fill(&rows, "<li><code>{{v}}</code></li>", v, 1) == GH_OK;
    if (ok) {
        const struct page_var lv[] = {{"rows", rows.data}};
        struct page_buf list = {0};
        FUZZ_CHECK(page_fill(&list, "<ol>{{{rows}}}</ol>", lv, 1) == GH_OK);
        FUZZ_CHECK(count_lt(list.data) == 2 + 2 * 4);
        page_buf_free(&list);
    }
    page_buf_free(&rows);
    free(value);
    return 0;
}
