#include "pages/page.h"

#include <stdlib.h>
#include <string.h>

static enum gh_err put(struct page_buf *b, const char *s, size_t n)
{
    if (n > PAGE_MAX_BYTES || b->len + n > PAGE_MAX_BYTES) return GH_ERR_INVALID;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return GH_ERR_NOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return GH_OK;
}

enum gh_err page_escape(struct page_buf *out, const char *s)
{
    enum gh_err rc = GH_OK;
    for (const char *p = s ? s : ""; *p && rc == GH_OK; p++) {
        size_t run = strcspn(p, "&<>\"'`");
        if (run) {
            rc = put(out, p, run);
            p += run;
            if (!*p || rc) break;
        }
        switch (*p) {
        case '&':
            rc = put(out, "&amp;", 5);
            break;
        case '<':
            rc = put(out, "&lt;", 4);
            break;
        case '>':
            rc = put(out, "&gt;", 4);
            break;
        case '"':
            rc = put(out, "&quot;", 6);
            break;
        case '\'':
            rc = put(out, "&#39;", 5);
            break;
        default: /* '`' */
            rc = put(out, "&#96;", 5);
            break;
        }
    }
    return rc;
}

void page_buf_free(struct page_buf *out)
{
    free(out->data);
    *out = (struct page_buf){0};
}

/* The variable called name (n bytes), or NULL. */
static const struct page_var *lookup(const struct page_var *vars, size_t nv, const char *name,
                                     size_t n)
{
    for (size_t i = 0; i < nv; i++)
        if (strlen(vars[i].name) == n && memcmp(vars[i].name, name, n) == 0) return &vars[i];
    return NULL;
}

/* {{{name}}} starting at name (after the three braces): puts the value
 * as it is and sets *next past the closing braces. */
static enum gh_err verbatim(struct page_buf *out, const char *name, const char *end,
                            const struct page_var *vars, size_t nv, const char **next)
{
    const char *close = NULL;
    for (const char *p = name; p + 2 < end; p++)
        if (p[0] == '}' && p[1] == '}' && p[2] == '}') {
            close = p;
            break;
        }
    if (!close) return GH_ERR_INVALID;
    size_t n = (size_t)(close - name);
    const struct page_var *v = n && n <= PAGE_NAME_MAX ? lookup(vars, nv, name, n) : NULL;
    if (!v) return GH_ERR_INVALID;
    *next = close + 3;
    return v->value ? put(out, v->value, strlen(v->value)) : GH_OK;
}

/* Fills tmpl[0..len) (sections may nest, by different names). */
static enum gh_err fill(struct page_buf *out, const char *t, size_t len,
                        const struct page_var *vars, size_t nv, int depth)
{
    if (depth > 8) return GH_ERR_INVALID;
    const char *end = t + len;
    while (t < end) {
        const char *open = NULL;
        for (const char *p = t; p + 1 < end; p++)
            if (p[0] == '{' && p[1] == '{') {
                open = p;
                break;
            }
        if (!open) return put(out, t, (size_t)(end - t));
        enum gh_err rc = put(out, t, (size_t)(open - t));
        if (rc) return rc;
        if (open + 2 < end && open[2] == '{') { /* {{{name}}}: verbatim (page.h) */
            if ((rc = verbatim(out, open + 3, end, vars, nv, &t))) return rc;
            continue;
        }
        const char *close = NULL;
        for (const char *p = open + 2; p + 1 < end; p++)
            if (p[0] == '}' && p[1] == '}') {
                close = p;
                break;
            }
        if (!close) return GH_ERR_INVALID;
        const char *name = open + 2;
        char kind = (*name == '#' || *name == '^') ? *name++ : 0;
        size_t n = (size_t)(close - name);
        const struct page_var *v = n && n <= PAGE_NAME_MAX ? lookup(vars, nv, name, n) : NULL;
        if (!v) return GH_ERR_INVALID;
        bool set = v->value && v->value[0];
        t = close + 2;
        if (!kind) {
            if ((rc = page_escape(out, v->value))) return rc;
            continue;
        }
        /* The section runs to its own {{/name}}. */
        char tag[PAGE_NAME_MAX + 6];
        tag[0] = '{';
        tag[1] = '{';
        tag[2] = '/';
        memcpy(tag + 3, name, n);
        memcpy(tag + 3 + n, "}}", 2);
        size_t tl = n + 5;
        const char *stop = NULL;
        for (const char *p = t; p + tl <= end; p++)
            if (memcmp(p, tag, tl) == 0) {
                stop = p;
                break;
            }
        if (!stop) return GH_ERR_INVALID;
        if ((kind == '#') == set && (rc = fill(out, t, (size_t)(stop - t), vars, nv, depth + 1)))
            return rc;
        t = stop + tl;
    }
    return GH_OK;
}

enum gh_err page_fill(struct page_buf *out, const char *tmpl, const struct page_var *vars, size_t n)
{
    return fill(out, tmpl, strlen(tmpl), vars, n, 0);
}
