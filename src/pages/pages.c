#include "pages/pages.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "gate/gate.h"

/* ---- templates ---- */

static const char LAYOUT_HEAD[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"robots\" content=\"noindex\">\n"
    "<title>{{title}} - {{brand}}</title>\n"
    "<link rel=\"stylesheet\" href=\"{{base}}/assets/gatehouse.css\">\n"
    "</head>\n"
    "<body>\n"
    "<main class=\"card{{#wide}} wide{{/wide}}\">\n"
    "<p class=\"brand\">{{brand}}</p>\n";

static const char LAYOUT_TAIL[] = "</main>\n"
                                  "</body>\n"
                                  "</html>\n";

const char PAGES_STEP_UP[] =
    "<h1>Confirm it's you</h1>\n"
    "<p>Enter a code from your authenticator app, or one of your backup codes.</p>\n"
    "{{#error}}<p class=\"alert\" role=\"alert\" id=\"code-error\">{{error}}</p>\n{{/error}}"
    "<form method=\"post\" action=\"{{base}}/step-up\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
    "<label for=\"code\">Authenticator or backup code</label>\n"
    "<input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"one-time-code\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\" required autofocus"
    "{{#error}} aria-invalid=\"true\" aria-describedby=\"code-error\"{{/error}}>\n"
    "<button type=\"submit\">Confirm</button>\n"
    "</form>\n";

const char PAGES_STEPPED_UP[] = "<h1>Confirmed</h1>\n"
                                "<p>Thank you. You can go back to what you were doing.</p>\n";

const char PAGES_SIGN_OUT[] = "<h1>Sign out?</h1>\n"
                              "<p>You will be signed out of {{brand}} on this device.</p>\n"
                              "<form method=\"post\" action=\"{{base}}/signout\">\n"
                              "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
                              "<input type=\"hidden\" name=\"rd\" value=\"{{rd}}\">\n"
                              "<button type=\"submit\">Sign out</button>\n"
                              "</form>\n";

const char PAGES_SIGNED_OUT[] = "<h1>You are signed out</h1>\n"
                                "<p>You can close this page.</p>\n"
                                "{{#signin}}<p><a class=\"button\" href=\"{{signin}}\">Sign in "
                                "again</a></p>\n{{/signin}}";

const char PAGES_ERROR[] =
    "<h1>{{heading}}</h1>\n"
    "<p role=\"alert\">{{message}}</p>\n"
    "{{#signin}}<p><a class=\"button\" href=\"{{signin}}\">Sign in</a></p>\n{{/signin}}";

/* Plain, readable, phone-sized; light and dark. Served as a file: the page
 * CSP allows style-src 'self' only. */
static const char STYLESHEET[] =
    ":root{color-scheme:light dark;--bg:#f4f5f7;--fg:#1d2330;--muted:#5a6272;--card:#fff;"
    "--line:#c9ced8;--accent:#1f5fbf;--accent-fg:#fff;--alert-bg:#fdecea;--alert-fg:#8a1c12}\n"
    "@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e6e9ef;--muted:#a3abba;"
    "--card:#1e232b;--line:#3a4250;--accent:#6ea0ff;--accent-fg:#0b1220;--alert-bg:#3a1d1a;"
    "--alert-fg:#ffb4a9}}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;"
    "background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,\"Segoe UI\","
    "Roboto,sans-serif;padding:1rem}\n"
    ".card{width:100%;max-width:26rem;margin-top:10vh;background:var(--card);border:1px solid "
    "var(--line);border-radius:.75rem;padding:1.5rem}\n"
    ".card.wide{max-width:48rem}\n"
    ".brand{margin:0 0 1rem;color:var(--muted);font-size:.9rem;font-weight:600}\n"
    "h1{font-size:1.4rem;line-height:1.25;margin:0 0 .75rem}\n"
    "p{margin:0 0 1rem}\n"
    "label{display:block;font-weight:600;margin:0 0 .35rem}\n"
    "input[type=text]{display:block;width:100%;font:inherit;font-size:1.1rem;padding:.6rem .7rem;"
    "border:1px solid var(--line);border-radius:.5rem;background:transparent;color:inherit;"
    "margin:0 0 1rem;letter-spacing:.05em}\n"
    "input[aria-invalid=true]{border-color:var(--alert-fg)}\n"
    "button,.button{display:inline-block;font:inherit;font-weight:600;padding:.65rem 1.2rem;"
    "border:0;border-radius:.5rem;background:var(--accent);color:var(--accent-fg);"
    "text-decoration:none;cursor:pointer;min-height:2.75rem}\n"
    "button{width:100%}\n"
    ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}\n"
    ".alert{background:var(--alert-bg);color:var(--alert-fg);border-radius:.5rem;"
    "padding:.6rem .8rem}\n";

const char *pages_stylesheet(size_t *len)
{
    *len = sizeof STYLESHEET - 1;
    return STYLESHEET;
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

enum gh_err pages_render_width(struct page_buf *out, bool wide, const char *title, const char *body,
                               const struct page_var *vars, size_t n)
{
    pthread_once(&once, setup);
    struct page_var all[32];
    if (n > sizeof all / sizeof all[0] - 4) return GH_ERR_INVALID;
    all[0] = (struct page_var){"title", title};
    all[1] = (struct page_var){"brand", gh_cfg.brand};
    all[2] = (struct page_var){"base", base_path};
    all[3] = (struct page_var){"wide", wide ? "1" : ""};
    if (n) memcpy(all + 4, vars, n * sizeof *vars);
    enum gh_err rc = page_fill(out, LAYOUT_HEAD, all, n + 4);
    if (rc == GH_OK) rc = page_fill(out, body, all, n + 4);
    if (rc == GH_OK) rc = page_fill(out, LAYOUT_TAIL, all, n + 4);
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

/* Percent-encodes s for a query value (RFC 3986 unreserved kept). */
static bool pct_encode(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        if (o + (keep ? 1 : 3) >= cap) return false;
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return true;
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
