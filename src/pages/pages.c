#include "pages/pages.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/util.h"
#include "gate/gate.h"
#include "pages/pages_config.h"

/* ---- templates ---- */

/* The layout: the brand above the card (the logo, when configured, beside
 * the name: alt="" since the name is right there), the card (narrow for
 * forms, wide for account pages), a small footer. No script; the only
 * focusable things are the page's own links and fields, in reading order. */
static const char LAYOUT_HEAD[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"robots\" content=\"noindex\">\n"
    "<meta name=\"color-scheme\" content=\"light dark\">\n"
    "<title>{{title}} - {{brand}}</title>\n"
    "<link rel=\"stylesheet\" href=\"{{base}}/assets/gatehouse.css\">\n"
    "</head>\n"
    "<body{{#wide}} class=\"wide\"{{/wide}}>\n"
    "<header class=\"site\">\n"
    "<p class=\"brand\">{{#logo}}<img src=\"{{base}}/assets/logo\" alt=\"\" height=\"36\">"
    "{{/logo}}{{brand}}</p>\n"
    "</header>\n"
    "<main class=\"card{{#wide}} wide{{/wide}}\">\n";

static const char LAYOUT_TAIL[] = "</main>\n"
                                  "<footer class=\"site\">\n"
                                  "<p>Secured by Gatehouse</p>\n"
                                  "</footer>\n"
                                  "</body>\n"
                                  "</html>\n";

const char PAGES_STEP_UP[] =
    "<h1>Confirm it's you</h1>\n"
    "<p class=\"lead\">Enter a code from your authenticator app, or one of your backup "
    "codes.</p>\n"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"code-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/step-up\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
    "<div class=\"field\">\n"
    "<label for=\"code\">Authenticator or backup code</label>\n"
    "<input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"one-time-code\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\" required autofocus"
    "{{#error}} aria-invalid=\"true\" aria-describedby=\"code-error\"{{/error}}>\n"
    "</div>\n"
    "<button type=\"submit\">Confirm</button>\n"
    "</form>\n";

const char PAGES_STEPPED_UP[] =
    "<h1>Confirmed</h1>\n"
    "<p class=\"lead\">Thank you. You can go back to what you were doing.</p>\n";

const char PAGES_SIGN_OUT[] =
    "<h1>Sign out?</h1>\n"
    "<p class=\"lead\">You will be signed out of {{brand}} on this device.</p>\n"
    "<form method=\"post\" action=\"{{base}}/signout\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
    "<button type=\"submit\">Sign out</button>\n"
    "</form>\n";

const char PAGES_SIGNED_OUT[] = "<h1>You are signed out</h1>\n"
                                "<p class=\"lead\">You can close this page.</p>\n"
                                "{{#signin}}<p><a class=\"button\" href=\"{{signin}}\">Sign in "
                                "again</a></p>\n{{/signin}}";

const char PAGES_ERROR[] =
    "<h1>{{heading}}</h1>\n"
    "<p role=\"alert\">{{message}}{{#wait}} {{wait}}{{/wait}}</p>\n"
    "{{#signin}}<p><a class=\"button\" href=\"{{signin}}\">Sign in</a></p>\n{{/signin}}"
    "{{#request_id}}<p class=\"muted\">If this keeps happening, tell the people who run this "
    "site and quote this reference: <code>{{request_id}}</code></p>\n{{/request_id}}";

const char PAGES_DENIED[] =
    "<h1>You don't have access</h1>\n"
    "<p class=\"lead\">You are signed in, but not with an account that may open this page. If "
    "you think it should, ask the people who run this site.</p>\n"
    "<div class=\"actions\">\n"
    "{{#back}}<a class=\"button\" href=\"{{back}}\">Go back</a>\n{{/back}}"
    "<a class=\"button secondary\" href=\"{{signout}}\">Sign in with another account</a>\n"
    "</div>\n";

const char *pages_stylesheet(size_t *len)
{
    return pages_assets_css(len);
}

/* ---- settings, read once ---- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char base_path[256];   /* the public URL's path, no trailing '/' */
static char public_root[512]; /* the public URL, no trailing '/' */
static char signin_url[1024];

static void setup(void)
{
    snprintf(public_root, sizeof public_root, "%s", gh_cfg.public_url);
    size_t n = strlen(public_root);
    while (n > 0 && public_root[n - 1] == '/')
        public_root[--n] = '\0';
    const char *h = strstr(public_root, "://");
    const char *path = h ? strchr(h + 3, '/') : NULL;
    snprintf(base_path, sizeof base_path, "%s", path ? path : "");
    base_path[strcspn(base_path, "?#")] = '\0';
    const char *s = config_env("GATEHOUSE_SIGNIN_URL");
    /* Only an absolute http(s) URL becomes a link (never "javascript:"). */
    if (s && (strncasecmp(s, "https://", 8) == 0 || strncasecmp(s, "http://", 7) == 0) &&
        strlen(s) < sizeof signin_url && !strpbrk(s, " \t\r\n\"'<>`"))
        snprintf(signin_url, sizeof signin_url, "%s", s);
    else if (!s && (strncasecmp(public_root, "https://", 8) == 0 ||
                    strncasecmp(public_root, "http://", 7) == 0))
        snprintf(signin_url, sizeof signin_url, "%s/signin", public_root); /* our own page */
}

#define LAYOUT_VARS 5 /* title, brand, base, wide, logo */

enum gh_err pages_render_width(struct page_buf *out, bool wide, const char *title, const char *body,
                               const struct page_var *vars, size_t n)
{
    pthread_once(&once, setup);
    struct page_var all[PAGES_VARS_MAX + LAYOUT_VARS];
    if (n > PAGES_VARS_MAX) return GH_ERR_INVALID;
    all[0] = (struct page_var){"title", title};
    all[1] = (struct page_var){"brand", gh_cfg.brand};
    all[2] = (struct page_var){"base", base_path};
    all[3] = (struct page_var){"wide", wide ? "1" : ""};
    size_t logo_len;
    const char *type;
    all[4] = (struct page_var){"logo", pages_assets_logo(&logo_len, &type) ? "1" : ""};
    if (n) memcpy(all + LAYOUT_VARS, vars, n * sizeof *vars);
    enum gh_err rc = page_fill(out, LAYOUT_HEAD, all, n + LAYOUT_VARS);
    if (rc == GH_OK) rc = page_fill(out, body, all, n + LAYOUT_VARS);
    if (rc == GH_OK) rc = page_fill(out, LAYOUT_TAIL, all, n + LAYOUT_VARS);
    return rc;
}

enum gh_err pages_render(struct page_buf *out, const char *title, const char *body,
                         const struct page_var *vars, size_t n)
{
    return pages_render_width(out, false, title, body, vars, n);
}

/* The gate's own rule: where the gate may send a person back to, a page
 * may too (the hosts its rules name as well). */
bool pages_return_url(const char *rd, size_t len, char out[REDIRECT_OUT_MAX])
{
    return gate_rd_check(rd, len, out, REDIRECT_OUT_MAX);
}

void pages_url(char out[REDIRECT_OUT_MAX], const char *path)
{
    pthread_once(&once, setup);
    snprintf(out, REDIRECT_OUT_MAX, "%s%s", public_root, path);
}

/* Percent-encodes s for a query value (RFC 3986 unreserved kept). false
 * when it does not fit. */
static bool pct_encode(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    return gh_pct_append(out, cap, &o, s, NULL);
}

void pages_url_rd(char *out, size_t cap, const char *path, const char *rd)
{
    char url[REDIRECT_OUT_MAX], enc[3 * REDIRECT_OUT_MAX];
    pages_url(url, path);
    int n = rd && rd[0] && pct_encode(enc, sizeof enc, rd)
                ? snprintf(out, cap, "%s?rd=%s", url, enc)
                : snprintf(out, cap, "%s", url);
    if (n < 0 || (size_t)n >= cap) snprintf(out, cap, "%s", url);
}

void pages_signin_link(char *out, size_t cap, const char *rd)
{
    pthread_once(&once, setup);
    char enc[3 * REDIRECT_OUT_MAX];
    out[0] = '\0';
    if (!signin_url[0]) return;
    if (!rd || !rd[0]) {
        snprintf(out, cap, "%s", signin_url);
        return;
    }
    if (!pct_encode(enc, sizeof enc, rd)) return;
    int n = snprintf(out, cap, "%s%crd=%s", signin_url, strchr(signin_url, '?') ? '&' : '?', enc);
    if (n < 0 || (size_t)n >= cap) out[0] = '\0';
}

void pages_wait_words(int64_t s, char *out, size_t cap)
{
    static const struct {
        int64_t secs;
        const char *one, *many;
    } units[] = {{86400, "day", "days"}, {3600, "hour", "hours"}, {60, "minute", "minutes"}};
    if (s <= 0) {
        snprintf(out, cap, "Try again in a moment.");
        return;
    }
    /* The largest unit that fits twice (or exactly once), rounded up: never
     * sooner than the server allows, and never off by more than half (119 s
     * is "119 seconds", 120 s "2 minutes", 3601 s "61 minutes"). */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        int64_t n = (s + units[i].secs - 1) / units[i].secs;
        if (s >= 2 * units[i].secs || s == units[i].secs) {
            snprintf(out, cap, "Try again in %lld %s.", (long long)n,
                     n == 1 ? units[i].one : units[i].many);
            return;
        }
    }
    snprintf(out, cap, "Try again in %lld %s.", (long long)s, s == 1 ? "second" : "seconds");
}
