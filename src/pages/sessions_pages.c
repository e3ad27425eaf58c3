#include "pages/sessions_pages.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "pages/account_pages.h"
#include "pages/pages.h"
#include "pages/pages_reply.h"
#include "sessions/sessions.h"
#include "sessions/sessions_http.h"

const char SESSIONS_PAGE[] =
    "<h1>Sessions and devices</h1>\n"
    "<p class=\"lead\">Where your account is signed in now. If you don't recognise one, sign it "
    "out and change your password.</p>\n"
    "{{#notice}}<p class=\"notice\" role=\"status\">{{notice}}</p>\n"
    "{{/notice}}<table class=\"sessions\">\n"
    "<thead><tr><th scope=\"col\">Device</th><th scope=\"col\">IP address</th><th "
    "scope=\"col\">Signed in</th><th scope=\"col\">Last active</th><th scope=\"col\"><span "
    "class=\"muted\">Sign out</span></th></tr></thead>\n"
    "<tbody>\n"
    "{{{rows}}}</tbody>\n"
    "</table>\n"
    "{{#more}}<p class=\"muted\">Showing the {{more}} most recent sessions.</p>\n"
    "{{/more}}<form method=\"post\" action=\"{{base}}/account/sessions/revoke-others\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<button type=\"submit\" class=\"danger\">Sign out everywhere else</button>\n"
    "</form>\n"
    "<p class=\"links\"><a href=\"{{base}}/account\">Back to your account</a></p>\n";

const char SESSIONS_ROW[] =
    "<tr><td>{{device}}{{#app}} <span class=\"muted\">(app)</span>{{/app}}{{#current}} <span "
    "class=\"tag\">This device</span>{{/current}}</td><td data-label=\"IP address\">{{ip}}</td><td "
    "data-label=\"Signed in\"><time datetime=\"{{created}}\">{{created_h}}</time></td><td "
    "data-label=\"Last active\"><time "
    "datetime=\"{{used}}\">{{used_h}}</time></td><td>{{^current}}<form class=\"inline\" "
    "method=\"post\" action=\"{{action}}\"><input type=\"hidden\" name=\"csrf\" "
    "value=\"{{csrf}}\"><input type=\"hidden\" name=\"id\" value=\"{{id}}\"><button "
    "type=\"submit\" class=\"secondary\" aria-label=\"Sign out {{device}}\">Sign "
    "out</button></form>{{/current}}</td></tr>\n";

/* First match wins: the order matters (Edge and Opera say "Chrome" too,
 * Chrome says "Safari"). */
static const struct {
    const char *needle, *name;
} browsers[] = {{"Edg/", "Edge"},      {"OPR/", "Opera"},         {"Firefox/", "Firefox"},
                {"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"},
                {"curl/", "curl"},     {"Wget/", "Wget"},         {"node", "Node.js"},
                {"python", "Python"},  {"Go-http-client", "Go"}},
  systems[] = {{"Android", "Android"}, {"iPhone", "iPhone"},   {"iPad", "iPad"},
               {"CrOS", "ChromeOS"},   {"Windows", "Windows"}, {"Mac OS X", "macOS"},
               {"Linux", "Linux"}};

void sessions_pages_device(const char *ua, char *out, size_t cap)
{
    const char *b = NULL, *os = NULL;
    for (size_t i = 0; !b && i < sizeof browsers / sizeof browsers[0]; i++)
        if (strstr(ua, browsers[i].needle)) b = browsers[i].name;
    for (size_t i = 0; !os && i < sizeof systems / sizeof systems[0]; i++)
        if (strstr(ua, systems[i].needle)) os = systems[i].name;
    if (b && os)
        snprintf(out, cap, "%s on %s", b, os);
    else if (b || os)
        snprintf(out, cap, "%s", b ? b : os);
    else if (!ua[0])
        snprintf(out, cap, "Unknown device");
    else {
        size_t n = strlen(ua);
        if (n >= cap) { /* cut before a UTF-8 continuation byte, never inside a character */
            n = cap - 1;
            while (n > 0 && ((unsigned char)ua[n] & 0xC0) == 0x80)
                n--;
        }
        memcpy(out, ua, n);
        out[n] = '\0';
    }
}

/* "2026-01-02 03:04 UTC" from "2026-01-02T03:04:05Z". */
static void readable_time(const char *rfc3339, char out[24])
{
    snprintf(out, 24, "%.16s UTC", rfc3339);
    if (strlen(out) > 10 && out[10] == 'T') out[10] = ' ';
}

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* One row of the table for session s (an object of GET /v1/sessions). */
static enum gh_err row(struct page_buf *rows, json_t *s, const char *action, const char *csrf)
{
    char device[SESSIONS_PAGES_DEVICE], created[24], used[24];
    sessions_pages_device(str(s, "user_agent"), device, sizeof device);
    readable_time(str(s, "created_at"), created);
    readable_time(str(s, "last_used_at"), used);
    bool current = json_is_true(json_object_get(s, "current"));
    const struct page_var v[] = {
        {"device", device},
        {"app", strcmp(str(s, "mode"), "bearer") == 0 ? "1" : ""},
        {"current", current ? "1" : ""},
        {"ip", str(s, "ip")},
        {"created", str(s, "created_at")},
        {"created_h", created},
        {"used", str(s, "last_used_at")},
        {"used_h", used},
        {"action", action},
        {"csrf", csrf},
        {"id", str(s, "id")},
    };
    return page_fill(rows, SESSIONS_ROW, v, sizeof v / sizeof v[0]);
}

void sessions_pages_list(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    char notice_key[16];
    const char *notice = NULL;
    if (pages_query_param(r, "revoked", notice_key, sizeof notice_key))
        notice = strcmp(notice_key, "1") == 0        ? "That session was signed out."
                 : strcmp(notice_key, "others") == 0 ? "Every other session was signed out."
                                                     : NULL;
    sessions_http_list(r, ops, c);
    if (r->status != 200) return; /* a failure: an error page */
    json_t *list = json_object_get(r->resp, "sessions"), *s;
    char csrf[COOKIE_CSRF_LEN + 1], action[REDIRECT_OUT_MAX], more[16] = "";
    if (!pages_session_csrf(r, csrf)) return;
    pages_url(action, "/account/sessions/revoke");
    struct page_buf rows = {0};
    enum gh_err rc = GH_OK;
    size_t i;
    json_array_foreach(list, i, s)
    {
        if (i == SESSIONS_PAGES_ROWS) {
            snprintf(more, sizeof more, "%d", SESSIONS_PAGES_ROWS);
            break;
        }
        if ((rc = row(&rows, s, action, csrf))) break;
    }
    if (rc) {
        gh_reply_fail(r, rc == GH_ERR_NOMEM ? rc : GH_ERR_INTERNAL);
    } else {
        const struct page_var v[] = {
            {"notice", notice}, {"rows", rows.data}, {"more", more}, {"csrf", csrf}};
        pages_send_width(r, 200, PAGES_WIDE, "Sessions and devices", SESSIONS_PAGE, v, 4);
    }
    page_buf_free(&rows);
    gh_wipe(csrf, sizeof csrf);
}

void sessions_pages_revoke(struct gh_req *r, const struct store_ops *ops, struct store_conn *c)
{
    const char *id = NULL;
    size_t id_len = 0;
    const struct gh_field f[] = {{"id", true, &id, &id_len}};
    if (gh_body_fields(r, f, 1)) return;
    /* A session id is a UUID: anything else names no session (and never
     * reaches the audit row's JSON). */
    if (id_len == 0 || id_len > STORE_ID_LEN || strspn(id, "0123456789abcdefABCDEF-") != id_len) {
        gh_fail_msg(r, GH_E_NOT_FOUND, "No such session.");
        return;
    }
    /* The twin reads the id from the path (DELETE /v1/sessions/{id}). */
    memcpy(r->param, id, id_len + 1);
    sessions_http_revoke(r, ops, c);
    if (r->status != 204) return; /* 404 (another account's id is audited), a failure */
    bool own = strcmp(r->param, r->ident.session_id) == 0;
    char url[REDIRECT_OUT_MAX];
    pages_url(url, own ? "/signout/done" : "/account/sessions?revoked=1");
    pages_see_other(r, url);
}

void sessions_pages_revoke_others(struct gh_req *r, const struct store_ops *ops,
                                  struct store_conn *c)
{
    struct store_audit base;
    size_t n;
    enum gh_err rc =
        sessions_revoke_others(ops, c, gh_audit_event(r, &base, NULL, NULL, NULL, NULL),
                               r->ident.user_id, r->ident.session_id, &n);
    if (rc) {
        gh_reply_fail(r, rc);
        return;
    }
    char url[REDIRECT_OUT_MAX];
    pages_url(url, "/account/sessions?revoked=others");
    pages_see_other(r, url);
}
