#include "import/import_rows.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "import/import_line.h"

static enum gh_err fail(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return GH_ERR_INVALID;
}

static enum gh_err slurp(FILE *f, struct import_rows *r, char *why, size_t whylen)
{
    size_t cap = 0;
    for (;;) {
        if (r->len + 65536 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 1 << 20;
            if (ncap > IMPORT_FILE_MAX + 65536 + 1) ncap = IMPORT_FILE_MAX + 65536 + 1;
            if (ncap <= cap) return fail(why, whylen, "the file is larger than 1 GiB");
            char *n = malloc(ncap);
            if (!n) return fail(why, whylen, "out of memory");
            if (r->buf) {
                memcpy(n, r->buf, r->len);
                gh_wipe(r->buf, r->len);
                free(r->buf);
            }
            r->buf = n;
            cap = ncap;
        }
        size_t got = fread(r->buf + r->len, 1, 65536, f);
        r->len += got;
        if (r->len > IMPORT_FILE_MAX) return fail(why, whylen, "the file is larger than 1 GiB");
        if (got < 65536) break;
    }
    if (ferror(f)) return fail(why, whylen, "the file cannot be read");
    r->buf[r->len] = '\0';
    return GH_OK;
}

/* A JSON array is parsed whole; JSON lines are parsed a line at a time. */
static enum gh_err rows_parse(struct import_rows *r, char *why, size_t whylen)
{
    size_t lead = strspn(r->buf, " \t\r\n");
    if (r->buf[lead] == '[') {
        json_error_t jerr;
        r->array = json_loadb(r->buf, r->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_array(r->array)) {
            char m[128];
            snprintf(m, sizeof m, "not a JSON array of rows (line %d, column %d)", jerr.line,
                     jerr.column);
            return fail(why, whylen, m);
        }
    }
    return GH_OK;
}

enum gh_err import_rows_open(struct import_rows *r, const char *path, char *why, size_t whylen)
{
    memset(r, 0, sizeof *r);
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return fail(why, whylen, "the file cannot be opened");
    enum gh_err rc = slurp(f, r, why, whylen);
    if (f != stdin) fclose(f);
    return rc ? rc : rows_parse(r, why, whylen);
}

enum gh_err import_rows_from(struct import_rows *r, const void *data, size_t len, char *why,
                             size_t whylen)
{
    memset(r, 0, sizeof *r);
    if (len > IMPORT_FILE_MAX) return fail(why, whylen, "the file is larger than 1 GiB");
    if (!(r->buf = malloc(len + 1))) return fail(why, whylen, "out of memory");
    if (len) memcpy(r->buf, data, len);
    r->buf[len] = '\0';
    r->len = len;
    return rows_parse(r, why, whylen);
}

bool import_rows_line(struct import_rows *r, const char **p, size_t *len, size_t *line)
{
    while (r->pos < r->len) {
        const char *s = r->buf + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t n = nl ? (size_t)(nl - s) : r->len - r->pos;
        r->pos += n + (nl ? 1 : 0);
        r->line++;
        if (n && s[n - 1] == '\r') n--;
        size_t blank = 0;
        while (blank < n && (s[blank] == ' ' || s[blank] == '\t'))
            blank++;
        if (blank == n) continue;
        *p = s;
        *len = n;
        *line = r->line;
        return true;
    }
    return false;
}

int import_rows_next(struct import_rows *r, json_t **row, size_t *n, char *why, size_t whylen)
{
    *row = NULL;
    if (r->array) {
        if (r->line >= json_array_size(r->array)) return 0;
        *n = ++r->line;
        json_t *o = json_array_get(r->array, r->line - 1);
        if (!json_is_object(o)) return fail(why, whylen, "not a JSON object"), -1;
        *row = json_incref(o);
        return 1;
    }
    const char *p;
    size_t len;
    if (!import_rows_line(r, &p, &len, n)) return 0;
    if (len > IMPORT_LINE_MAX) return fail(why, whylen, "the line is longer than 64 KiB"), -1;
    json_error_t jerr;
    json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        char m[96];
        snprintf(m, sizeof m, "not one JSON object (column %d)", jerr.column);
        return fail(why, whylen, m), -1;
    }
    *row = o;
    return 1;
}

void import_rows_close(struct import_rows *r)
{
    if (r->buf) {
        gh_wipe(r->buf, r->len);
        free(r->buf);
    }
    if (r->array) {
        gh_json_wipe(r->array);
        json_decref(r->array);
    }
    memset(r, 0, sizeof *r);
}

const char *import_rows_text(const json_t *row, const char *col, char *buf, size_t cap)
{
    const json_t *v = json_object_get(row, col);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

int import_rows_time(const json_t *row, const char *col, int64_t *t)
{
    const json_t *v = json_object_get(row, col);
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i > INT64_C(100000000000)) i /= 1000; /* milliseconds */
        if (i < 0 || i > IMPORT_TIME_MAX) return -1;
        *t = (int64_t)i;
        return 1;
    }
    if (json_is_string(v)) {
        /* PostgreSQL prints "2024-05-01 10:00:00.123+00": accepted as is. */
        return import_parse_time(json_string_value(v), t) == GH_OK ? 1 : -1;
    }
    return -1;
}

bool import_links_add(json_t *links, const char *user_id, const char *provider, const char *subject)
{
    char p[64];
    size_t n = 0;
    for (const char *c = provider; *c && n < sizeof p - 1; c++)
        p[n++] = *c == '-' ? '_' : (*c >= 'A' && *c <= 'Z') ? (char)(*c + 32) : *c;
    p[n] = '\0';
    json_t *list = json_object_get(links, user_id);
    if (!list) {
        if (!(list = json_array()) || json_object_set_new(links, user_id, list)) return false;
    }
    return json_array_append_new(list, json_pack("{s:s,s:s}", "provider", p, "subject", subject)) ==
           0;
}

void import_name_copy(json_t *obj, const json_t *name)
{
    if (!json_is_string(name)) return;
    const char *s = json_string_value(name);
    size_t n = json_string_length(name);
    if (n == 0 || n > IMPORT_NAME_MAX || strlen(s) != n) return;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return;
    json_object_set_new(obj, "name", json_string(s));
}
