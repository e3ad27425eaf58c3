#include "pages/pages_reply.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "core/util.h"
#include "http/reqparse.h"
#include "pages/pages.h"

void pages_send_width(struct gh_req *r, int status, enum pages_width w, const char *title,
                      const char *body, const struct page_var *vars, size_t n)
{
    struct page_buf b = {0};
    enum gh_err rc = pages_render_width(&b, w == PAGES_WIDE, title, body, vars, n);
    if (rc) {
        page_buf_free(&b);
        gh_reply_fail(r, rc == GH_ERR_NOMEM ? GH_ERR_NOMEM : GH_ERR_INTERNAL);
        return;
    }
    gh_reply_body(r, status, PAGES_HTML, b.data, b.len); /* the server frees it */
}

void pages_send(struct gh_req *r, int status, const char *title, const char *body,
                const struct page_var *vars, size_t n)
{
    pages_send_width(r, status, PAGES_NARROW, title, body, vars, n);
}

void pages_see_other(struct gh_req *r, const char *url)
{
    gh_reply(r, 303, NULL);
    if (gh_reply_header(r, "Location", url) != GH_OK) gh_reply_fail(r, GH_ERR_INTERNAL);
}

/* The query of r parsed as a form, or NULL (absent, cut or malformed). */
static json_t *query_of(struct gh_req *r)
{
    size_t ql = strlen(r->query);
    json_t *q = NULL;
    if (ql == 0 || ql >= sizeof r->query - 1 ||
        reqparse_form_body(r->query, ql, &q) != REQPARSE_BODY_OK)
        return NULL;
    return q;
}

/* The origin (scheme://host[:port]) of an absolute URL into out; false
 * when it has none, does not fit, or holds a character that could end a
 * CSP source (only URL host characters pass). */
static bool origin_of(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    if (!h) return false;
    size_t n = (size_t)(h + 3 - url) + strcspn(h + 3, "/?#");
    if (n >= cap) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (!isalnum(c) && !strchr(".-:/[]", c)) return false;
    }
    memcpy(out, url, n);
    out[n] = '\0';
    return true;
}

/* A checked return URL on another origin than ours: the page's form leads
 * there by a 303 after its POST, and browsers hold that redirect to the
 * page CSP's form-action, so the origin is added to it (http/reply.c). */
static void allow_form_origin(struct gh_req *r, const char *rd)
{
    char ours[REDIRECT_OUT_MAX], o[GH_FORM_ORIGIN_MAX], mine[GH_FORM_ORIGIN_MAX];
    pages_url(ours, "/");
    if (!origin_of(rd, o, sizeof o)) return;
    if (origin_of(ours, mine, sizeof mine) && strcasecmp(o, mine) == 0) return;
    memcpy(r->form_origin, o, strlen(o) + 1);
}

/* A checked rd longer than a Location header may be (gh_reply_header
 * refuses more than 1023 bytes) is dropped like a refused one: the page's
 * own success page follows, never a 500 after the change was made. */
static void cap_location(struct gh_req *r, char out[REDIRECT_OUT_MAX])
{
    if (strlen(out) <= 1023) return;
    out[0] = '\0';
    r->form_origin[0] = '\0';
}

void pages_rd(struct gh_req *r, char out[REDIRECT_OUT_MAX])
{
    out[0] = '\0';
    json_t *v = r->body ? json_object_get(r->body, "rd") : NULL;
    if (json_is_string(v)) {
        if (pages_return_url(json_string_value(v), json_string_length(v), out))
            allow_form_origin(r, out);
        cap_location(r, out);
        return;
    }
    json_t *q = query_of(r);
    v = json_object_get(q, "rd");
    if (json_is_string(v) && pages_return_url(json_string_value(v), json_string_length(v), out))
        allow_form_origin(r, out);
    json_decref(q);
    cap_location(r, out);
}

bool pages_query_param(struct gh_req *r, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *q = query_of(r);
    json_t *v = json_object_get(q, name);
    bool ok = json_is_string(v) && json_string_length(v) < cap;
    if (ok) memcpy(out, json_string_value(v), json_string_length(v) + 1);
    gh_json_wipe(q); /* a parameter may be an emailed link's token */
    json_decref(q);
    return ok;
}

bool pages_session_csrf(struct gh_req *r, char out[COOKIE_CSRF_LEN + 1])
{
    out[0] = '\0';
    if (!r->cookie_auth) return true;
    if (cookie_csrf_token(r->ident.session_id, out) == GH_OK) return true;
    gh_reply_fail(r, GH_ERR_INTERNAL);
    return false;
}
