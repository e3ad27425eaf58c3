/* Filling HTML templates: the one way a value reaches a page. Templates
 * are built into the binary (trusted text); every value is escaped for
 * HTML text and quoted attributes alike (& < > " ' and `), so the same
 * value is safe in either place. Templates always quote attributes. A
 * value that goes into an href or action must also be a URL we checked
 * (escaping does not make "javascript:" safe): callers pass only URLs from
 * the configuration or redirect_check.
 *
 * Template syntax (no logic beyond this):
 *   {{name}}             the value of name, escaped
 *   {{#name}}...{{/name}} the part between, only when name is non-empty
 *   {{^name}}...{{/name}} the part between, only when name is empty
 *   {{{name}}}           the value of name VERBATIM, not escaped. ONLY for
 *                        text that is itself page_fill output: rows of a
 *                        list or table, each rendered by page_fill from a
 *                        trusted template with its values escaped, then
 *                        joined (templates have no loops). Never a value
 *                        from a request, the store or the configuration.
 * A name the variable list lacks, an unclosed tag or section, or a
 * document past PAGE_MAX_BYTES fails: a template bug is never half a page.
 *
 * Ownership: pure functions over caller memory; the output buffer is heap
 * memory the caller frees (page_buf_free, or hands its data on). */
#ifndef GH_PAGES_PAGE_H
#define GH_PAGES_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define PAGE_MAX_BYTES (64 * 1024) /* a page is small; more is a bug */
#define PAGE_NAME_MAX 32

/** One variable: a name and its value (NULL reads as ""). Borrowed. */
struct page_var {
    const char *name;
    const char *value;
};

/** A growing output buffer, NUL-terminated; data is heap (NULL until the
 *  first byte). */
struct page_buf {
    char *data;
    size_t len, cap;
};

/** Appends tmpl filled with vars to out. GH_ERR_INVALID for a template
 *  error (above) or a page past PAGE_MAX_BYTES, GH_ERR_NOMEM; out keeps
 *  what it had plus whatever was appended (free it either way). */
enum gh_err page_fill(struct page_buf *out, const char *tmpl, const struct page_var *vars,
                      size_t n) GH_WUR;

/** Appends s escaped for HTML text or a quoted attribute. */
enum gh_err page_escape(struct page_buf *out, const char *s) GH_WUR;

/** Frees out's data and empties it. */
void page_buf_free(struct page_buf *out);

#endif
