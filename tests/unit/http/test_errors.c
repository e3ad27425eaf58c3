/* The error table (src/http/errors.h) and docs/api.md tell the same story:
 * the "### Error codes" table of docs/api.md lists every row of GH_ERRORS,
 * in the same order, with the same code, status and default message; and
 * wherever else the document writes a status next to a code ("403
 * `proof_failed`", or a "| 403 | `proof_failed` |" row of an endpoint's
 * table), the status is that code's. GH_SOURCE_DIR (a compile definition)
 * is the source tree, so the test reads the document a reader reads.
 * History is exempt: "was 403 `invalid_code`" and the closing section
 * "Changes in this version". */
#include "testutil.h"

#include <regex.h>

#include "http/errors.h"

#ifndef GH_SOURCE_DIR
#error "GH_SOURCE_DIR must name the source tree (tests/unit/CMakeLists.txt)"
#endif

static char *read_doc(void)
{
    FILE *f = fopen(GH_SOURCE_DIR "/docs/api.md", "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Copies the cell text between p and end, without surrounding blanks and
 * without backticks (the document may set a setting's name as code). */
static void cell_text(const char *p, const char *end, char *out, size_t cap)
{
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    size_t o = 0;
    for (; p < end && o + 1 < cap; p++)
        if (*p != '`') out[o++] = *p;
    out[o] = '\0';
}

/* Splits one "| a | b | c |" line into three cells; false if it is not. */
static bool split_row(const char *line, const char *eol, char cells[3][600])
{
    if (*line != '|') return false;
    const char *p = line + 1;
    for (int i = 0; i < 3; i++) {
        const char *bar = memchr(p, '|', (size_t)(eol - p));
        if (!bar) return false;
        cell_text(p, bar, cells[i], sizeof cells[i]);
        p = bar + 1;
    }
    return true;
}

static void test_doc_table_matches_errors_h(void **state)
{
    (void)state;
    char *doc = read_doc();
    const char *h = strstr(doc, "\n### Error codes\n");
    assert_non_null(h);
    /* the table starts at the first line beginning with '|' */
    const char *line = strstr(h, "\n|");
    assert_non_null(line);
    line++;
    const char *eol = strchr(line, '\n');
    char cells[3][600];
    assert_true(split_row(line, eol, cells)); /* header */
    assert_string_equal(cells[0], "code");
    line = eol + 1;
    eol = strchr(line, '\n');
    assert_true(split_row(line, eol, cells)); /* |---|---|---| */
    int i = 0;
    for (line = eol + 1; *line == '|'; line = eol + 1, i++) {
        eol = strchr(line, '\n');
        assert_non_null(eol);
        assert_true(split_row(line, eol, cells));
        if (i >= GH_E_COUNT) fail_msg("docs/api.md lists more codes than GH_ERRORS: %s", cells[0]);
        const struct gh_error_row *row = gh_error_row((enum gh_error)i);
        char status[8];
        snprintf(status, sizeof status, "%d", row->status);
        if (strcmp(cells[0], row->code) != 0)
            fail_msg("docs/api.md error table row %d is %s; errors.h says %s", i + 1, cells[0],
                     row->code);
        if (strcmp(cells[1], status) != 0)
            fail_msg("%s: docs/api.md says %s, errors.h %s", row->code, cells[1], status);
        if (strcmp(cells[2], row->message) != 0)
            fail_msg("%s: docs/api.md says \"%s\", errors.h \"%s\"", row->code, cells[2],
                     row->message);
    }
    if (i != GH_E_COUNT)
        fail_msg("docs/api.md lists %d codes, errors.h %d (missing from %s on)", i, GH_E_COUNT,
                 gh_error_row((enum gh_error)i)->code);
    free(doc);
}

/* One status written next to one code; counts a disagreement. */
static void check_one(int status, const char *code, size_t n, int *bad, int *seen)
{
    char c[64];
    if (n == 0 || n >= sizeof c) return;
    memcpy(c, code, n);
    c[n] = '\0';
    const struct gh_error_row *row = gh_error_by_code(c);
    (*seen)++;
    if (!row) {
        print_error("docs/api.md: %d `%s`: errors.h has no such code\n", status, c);
        (*bad)++;
    } else if (row->status != status) {
        print_error("docs/api.md: %d `%s`, but errors.h gives %s the status %d\n", status, c, c,
                    row->status);
        (*bad)++;
    }
}

/* Every status written next to a code elsewhere in the document: "NNN
 * `code`" in prose, and a table row "| NNN | `code` |" (or "| NNN |
 * `a` / `b` |"), NNN a 4xx or 5xx. Returns the number of disagreements. */
static int check_mentions(const char *doc)
{
    regex_t prose, row;
    assert_int_equal(regcomp(&prose, "(^|[^0-9A-Za-z_])([45][0-9][0-9]) `([a-z_]+)`", REG_EXTENDED),
                     0);
    assert_int_equal(regcomp(&row, "^\\| ([45][0-9][0-9]) \\|([^|]*)\\|", REG_EXTENDED), 0);
    int bad = 0, seen = 0;
    char line[4096];
    for (const char *p = doc; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol ? eol + 1 : p + len;
        regmatch_t m[4];
        if (regexec(&row, line, 3, m, 0) == 0) {
            int status = atoi(line + m[1].rm_so);
            /* each `code` in the second cell */
            for (const char *c = line + m[2].rm_so; c < line + m[2].rm_eo;) {
                const char *a = memchr(c, '`', (size_t)(line + m[2].rm_eo - c));
                if (!a) break;
                const char *z = memchr(a + 1, '`', (size_t)(line + m[2].rm_eo - a - 1));
                if (!z) break;
                check_one(status, a + 1, (size_t)(z - a - 1), &bad, &seen);
                c = z + 1;
            }
        }
        /* "was 403 `invalid_code`" tells history (a "Changed in" note) */
        for (const char *s = line; regexec(&prose, s, 4, m, s == line ? 0 : REG_NOTBOL) == 0;
             s += m[0].rm_eo)
            if (!(s + m[2].rm_so - line >= 4 && memcmp(s + m[2].rm_so - 4, "was ", 4) == 0))
                check_one(atoi(s + m[2].rm_so), s + m[3].rm_so, (size_t)(m[3].rm_eo - m[3].rm_so),
                          &bad, &seen);
    }
    regfree(&prose);
    regfree(&row);
    /* the scan must have found the endpoints' tables, or it checked nothing */
    if (seen < 40) {
        print_error("docs/api.md: only %d status/code mentions found\n", seen);
        bad++;
    }
    return bad;
}

static void test_doc_mentions_use_the_table_status(void **state)
{
    (void)state;
    char *doc = read_doc();
    /* the closing "Changes in this version" says what the statuses were */
    char *changes = strstr(doc, "\n## Changes in this version\n");
    if (changes) changes[1] = '\0';
    int bad = check_mentions(doc);
    free(doc);
    assert_int_equal(bad, 0);
}

/* The scan above on hand-made text: it must catch a stale status. */
static void test_mention_scan_catches_stale_status(void **state)
{
    (void)state;
    char good[8192] = "";
    for (int i = 0; i < 40; i++) {
        size_t n = strlen(good);
        snprintf(good + n, sizeof good - n,
                 "| 401 | `invalid_token` | x |\nsee 403 `proof_failed`\n");
    }
    assert_int_equal(check_mentions(good), 0);
    size_t n = strlen(good);
    const char *bads[] = {
        "| 403 | `invalid_credentials` | wrong |\n",
        "Errors: 422 `invalid_code` here.\n",
        "| 403 | `proof_failed` / `invalid_code` | x |\n",
        "(was 403 `invalid_code`) and then 401 `no_such_code` and 403 `invalid_code`.\n",
    };
    const int expect[] = {1, 1, 1, 2};
    for (size_t k = 0; k < sizeof bads / sizeof bads[0]; k++) {
        good[n] = '\0';
        strncat(good, bads[k], sizeof good - n - 1);
        assert_int_equal(check_mentions(good), expect[k]);
    }
}

static void test_lookups(void **state)
{
    (void)state;
    assert_int_equal(gh_error_row(GH_E_PROOF_FAILED)->status, 403);
    assert_string_equal(gh_error_row(GH_E_CODE_MISMATCH)->code, "code_mismatch");
    assert_int_equal(gh_error_by_code("invalid_credentials")->status, 401);
    assert_null(gh_error_by_code("no_such_code"));
    /* out of range: internal_error, never a crash */
    assert_string_equal(gh_error_row(GH_E_COUNT)->code, "internal_error");
    /* codes are unique */
    for (int i = 0; i < GH_E_COUNT; i++)
        assert_ptr_equal(gh_error_by_code(gh_error_row((enum gh_error)i)->code),
                         gh_error_row((enum gh_error)i));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_table_matches_errors_h),
        cmocka_unit_test(test_doc_mentions_use_the_table_status),
        cmocka_unit_test(test_mention_scan_catches_stale_status),
        cmocka_unit_test(test_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
