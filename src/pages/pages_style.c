#include "pages/pages_style.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The palette, light and dark. Each text colour reads at 4.5:1 or more on
 * the backgrounds it is used on, field borders at 3:1 on the card
 * (tests/unit/pages/test_pages_style.c checks every pair). */
static const struct pages_color PALETTE[] = {
    {"bg", "#f3f4f6", "#0f1115"},          {"fg", "#1b1f27", "#e7e9ee"},
    {"muted", "#4b5361", "#a9b0bd"},       {"card", "#ffffff", "#1a1d24"},
    {"line", "#d5d9e0", "#353b47"},        {"field", "#6b7280", "#8b93a1"},
    {"input", "#ffffff", "#12151a"},       {"accent", "#1f5fbf", "#7aa7ff"},
    {"accent-fg", "#ffffff", "#0b1220"},   {"link", "#1f5fbf", "#8fb5ff"},
    {"focus", "#1f5fbf", "#8fb5ff"},       {"alert-bg", "#fdecea", "#3a1c1a"},
    {"alert-fg", "#8a1c12", "#ffb4a9"},    {"alert-line", "#c5221f", "#f28b82"},
    {"notice-bg", "#e6f4ea", "#15301f"},   {"notice-fg", "#14532d", "#a8e6bd"},
    {"notice-line", "#1e8e3e", "#5bb974"}, {"danger", "#b3261e", "#f28b82"},
    {"danger-fg", "#ffffff", "#2b0b08"},   {"code-bg", "#f1f3f6", "#242933"},
    {"tag-bg", "#e3ebfa", "#243350"},      {"tag-fg", "#1a4a94", "#c4d6ff"},
};
#define NCOLORS (sizeof PALETTE / sizeof PALETTE[0])

/* Everything but the colours. Plain, phone-sized, no script, no font or
 * image to fetch. Readable without it: the pages are ordinary HTML. */
static const char SHEET[] =
    "*,*::before,*::after{box-sizing:border-box}\n"
    /* hidden wins over the display the rules below give inputs (the
     * reset page's username field for password managers) */
    "[hidden]{display:none!important}\n"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"
    "body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;"
    "padding:0 1rem 1.5rem;background:var(--bg);color:var(--fg);"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",sans-serif}\n"
    "header.site,main.card,footer.site{width:100%;max-width:27rem}\n"
    "body.wide header.site,main.card.wide,body.wide footer.site{max-width:48rem}\n"
    "header.site{display:flex;align-items:center;gap:.6rem;margin:8vh 0 1rem;"
    "font-size:1.05rem;font-weight:650}\n"
    "header.site p{margin:0;display:flex;align-items:center;gap:.6rem}\n"
    "header.site img{display:block;height:2.25rem;width:auto;max-width:12rem}\n"
    "main.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;"
    "padding:2rem 1.75rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}\n"
    "footer.site{margin-top:1.25rem;color:var(--muted);font-size:.85rem;text-align:center}\n"
    "main.card>:last-child{margin-bottom:0}\n"
    "footer.site p{margin:0}\n"
    "@media (max-width:32rem){body{padding:0}header.site{margin:1rem 0 .75rem;padding:0 1.25rem}"
    "main.card{border-width:1px 0;border-radius:0;padding:1.5rem 1.25rem;box-shadow:none}"
    "footer.site{padding:0 1.25rem}}\n"
    "h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem;overflow-wrap:anywhere}\n"
    "h2{font-size:1.125rem;line-height:1.3;margin:0 0 .6rem}\n"
    "h3{font-size:1rem;line-height:1.3;margin:1.25rem 0 .5rem}\n"
    "p,ul,ol,dl{margin:0 0 1rem}\n"
    "p.lead,.muted{color:var(--muted)}\n"
    "a{color:var(--link);text-underline-offset:.15em}\n"
    "a:hover{text-decoration-thickness:2px}\n"
    ":focus-visible{outline:3px solid var(--focus);outline-offset:2px}\n"
    ".field{margin:0 0 1.1rem}\n"
    "label{display:block;font-weight:600;margin:0 0 .35rem}\n"
    "p.hint{color:var(--muted);font-size:.875rem;margin:.35rem 0 0}\n"
    "input[type=text],input[type=email],input[type=password]{display:block;width:100%;"
    "min-height:2.75rem;margin:0;padding:.55rem .75rem;font:inherit;color:var(--fg);"
    "background:var(--input);border:1px solid var(--field);border-radius:.5rem}\n"
    "input:focus-visible{outline-offset:0;border-color:var(--focus)}\n"
    "input[aria-invalid=true]{border:2px solid var(--alert-line)}\n"
    "button,a.button{display:inline-flex;align-items:center;justify-content:center;"
    "min-height:2.75rem;margin:0;padding:.55rem 1.2rem;font:inherit;font-weight:600;"
    "line-height:1.25;text-align:center;text-decoration:none;cursor:pointer;"
    "color:var(--accent-fg);background:var(--accent);border:1px solid var(--accent);"
    "border-radius:.5rem}\n"
    "button{width:100%}\n"
    /* the wide card (account pages): buttons to their text, fields a form's width */
    "main.card.wide button{width:auto;min-width:10rem}\n"
    "main.card.wide .field{max-width:27rem}\n"
    "button:hover,a.button:hover{filter:brightness(1.1)}\n"
    "button.secondary,a.button.secondary{color:var(--fg);background:transparent;"
    "border-color:var(--field)}\n"
    "button.secondary:hover,a.button.secondary:hover{filter:none;background:var(--code-bg)}\n"
    "button.danger,a.button.danger{color:var(--danger-fg);background:var(--danger);"
    "border-color:var(--danger)}\n"
    "form+form,form+.actions,form+p{margin-top:1rem}\n"
    ".actions{display:flex;flex-wrap:wrap;align-items:center;gap:.75rem;margin:1.25rem 0 0}\n"
    ".actions>*{flex:1 1 auto;width:auto;margin:0}\n"
    ".actions>a:not(.button),main.card.wide .actions>*{flex:0 1 auto}\n"
    ".links{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem 1rem;"
    "margin:1.25rem 0 0;padding:0;list-style:none;font-size:.9375rem}\n"
    ".links li{margin:0}\n"
    ".links a{display:inline-block;padding:.3rem 0}\n"
    ".divider{display:flex;align-items:center;gap:.75rem;margin:1.5rem 0;color:var(--muted);"
    "font-size:.875rem}\n"
    ".divider::before,.divider::after{content:\"\";flex:1;border-top:1px solid var(--line)}\n"
    ".providers{display:flex;flex-direction:column;gap:.5rem}\n"
    "section{margin:1.5rem 0 0;padding:1.5rem 0 0;border-top:1px solid var(--line)}\n"
    "section>:last-child{margin-bottom:0}\n"
    ".alert,.notice{padding:.7rem .9rem;border-radius:.5rem;border:1px solid;"
    "border-left-width:4px}\n"
    ".alert{color:var(--alert-fg);background:var(--alert-bg);border-color:var(--alert-line)}\n"
    ".notice{color:var(--notice-fg);background:var(--notice-bg);border-color:var(--notice-line)}\n"
    ".alert a,.notice a{color:inherit}\n"
    "code,kbd,.secret,.codes{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"
    "\"Liberation Mono\",monospace}\n"
    "code{font-size:.9375em;overflow-wrap:anywhere}\n"
    ".secret{display:block;margin:0 0 1rem;padding:.65rem .8rem;font-size:1.05rem;"
    "letter-spacing:.06em;line-height:1.6;background:var(--code-bg);border-radius:.5rem;"
    "overflow-wrap:anywhere;word-break:break-all;-webkit-user-select:all;user-select:all}\n"
    /* two columns where two codes fit side by side (the wide card), else one */
    ".codes{display:grid;grid-template-columns:repeat(auto-fill,minmax(max(min(100%,33ch),"
    "calc(50% - .75rem)),1fr));gap:.4rem 1.5rem;padding:.9rem 1rem;background:var(--code-bg);"
    "border-radius:.5rem;font-size:.95rem;list-style-position:inside}\n"
    ".codes li{overflow-wrap:anywhere}\n"
    /* 01. to 10.: one marker width, so the codes line up */
    ".codes li::marker{content:counter(list-item,decimal-leading-zero) \". \";"
    "color:var(--muted);font-size:.85em}\n"
    "img.qr{display:block;width:15rem;max-width:100%;height:auto;aspect-ratio:1;"
    "margin:0 auto 1rem;padding:.9rem;background:#fff;border:1px solid var(--line);"
    "border-radius:.5rem;image-rendering:pixelated}\n"
    "table.sessions{width:100%;margin:0 0 1rem;border-collapse:collapse}\n"
    "table.sessions th,table.sessions td{padding:.7rem .5rem;text-align:left;"
    "vertical-align:middle;border-bottom:1px solid var(--line)}\n"
    "table.sessions th{color:var(--muted);font-size:.875rem;font-weight:600}\n"
    "table.sessions td:last-child{text-align:right}\n"
    "@media (max-width:40rem){table.sessions thead{position:absolute;width:1px;height:1px;"
    "overflow:hidden;clip-path:inset(50%)}"
    "table.sessions,table.sessions tbody,table.sessions tr,table.sessions td{display:block}"
    "table.sessions tr{padding:.75rem 0;border-bottom:1px solid var(--line)}"
    "table.sessions td{padding:.15rem 0;border:0;text-align:left}"
    "table.sessions td:last-child{text-align:left;padding-top:.5rem}"
    "table.sessions td[data-label]::before{content:attr(data-label) \": \";color:var(--muted)}}\n"
    ".tag{display:inline-block;margin-left:.35rem;padding:.05rem .55rem;font-size:.75rem;"
    "font-weight:600;line-height:1.5;vertical-align:.1em;color:var(--tag-fg);"
    "background:var(--tag-bg);border-radius:999px}\n"
    "form.inline{display:inline-block;margin:0}\n"
    "form.inline button,main.card.wide form.inline button{width:auto;min-width:0;"
    "font-size:.9375rem;padding:.4rem .9rem}\n"
    "@media (forced-colors:active){button,a.button,.tag{border:1px solid}}\n";

bool pages_color_parse(const char *s, uint8_t rgb[3])
{
    if (!s || s[0] != '#' || strlen(s) != 7) return false;
    uint8_t v[3];
    for (int i = 0; i < 3; i++) {
        int b = 0;
        for (int j = 1; j <= 2; j++) {
            char c = s[2 * i + j];
            int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (d < 0) return false;
            b = b * 16 + d;
        }
        v[i] = (uint8_t)b;
    }
    memcpy(rgb, v, 3);
    return true;
}

static double channel(uint8_t c)
{
    double x = c / 255.0;
    return x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4);
}

double pages_luminance(const uint8_t rgb[3])
{
    return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]);
}

double pages_contrast(const uint8_t a[3], const uint8_t b[3])
{
    double la = pages_luminance(a), lb = pages_luminance(b);
    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

static struct pages_color *find(struct pages_color *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0) return &p[i];
    return NULL;
}

/* The accent where it reads on card (4.5:1), else the text colour. */
static void readable_on(char out[8], const uint8_t accent[3], const char *card, const char *fg,
                        const char *hex)
{
    uint8_t c[3];
    bool ok = pages_color_parse(card, c) && pages_contrast(accent, c) >= 4.5;
    snprintf(out, 8, "%s", ok ? hex : fg);
}

size_t pages_palette(struct pages_color *out, size_t cap, const char *accent)
{
    size_t n = NCOLORS < cap ? NCOLORS : cap;
    memcpy(out, PALETTE, n * sizeof *out);
    uint8_t a[3];
    if (n < NCOLORS || !accent || !pages_color_parse(accent, a)) return n;
    char hex[8];
    snprintf(hex, sizeof hex, "#%02x%02x%02x", a[0], a[1], a[2]);
    static const uint8_t white[3] = {255, 255, 255}, ink[3] = {0, 0, 0};
    const char *on = pages_contrast(a, white) >= pages_contrast(a, ink) ? "#ffffff" : "#000000";
    struct pages_color *ac = find(out, n, "accent"), *af = find(out, n, "accent-fg"),
                       *card = find(out, n, "card"), *fg = find(out, n, "fg");
    memcpy(ac->light, hex, 8);
    memcpy(ac->dark, hex, 8);
    memcpy(af->light, on, 8);
    memcpy(af->dark, on, 8);
    static const char *const follow[] = {"link", "focus"};
    for (size_t i = 0; i < 2; i++) {
        struct pages_color *c = find(out, n, follow[i]);
        readable_on(c->light, a, card->light, fg->light, hex);
        readable_on(c->dark, a, card->dark, fg->dark, hex);
    }
    return n;
}

enum gh_err pages_style_build(const char *accent, char **out, size_t *len)
{
    uint8_t a[3];
    *out = NULL;
    *len = 0;
    if (accent && !pages_color_parse(accent, a)) return GH_ERR_INVALID;
    struct pages_color p[NCOLORS];
    size_t n = pages_palette(p, NCOLORS, accent);
    size_t cap = PAGES_STYLE_MAX, used = 0;
    char *s = malloc(cap);
    if (!s) return GH_ERR_NOMEM;
    /* Each piece fits: the palette is ~1 KB, the sheet under cap (a unit
     * test holds the total under PAGES_STYLE_MAX). */
    used += (size_t)snprintf(s + used, cap - used, ":root{color-scheme:light dark");
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(s + used, cap - used, ";--%s:%s", p[i].name, p[i].light);
    if (used < cap)
        used +=
            (size_t)snprintf(s + used, cap - used, "}\n@media (prefers-color-scheme:dark){:root{");
    for (size_t i = 0; i < n && used < cap; i++)
        used +=
            (size_t)snprintf(s + used, cap - used, "%s--%s:%s", i ? ";" : "", p[i].name, p[i].dark);
    if (used < cap) used += (size_t)snprintf(s + used, cap - used, "}}\n%s", SHEET);
    if (used >= cap) {
        free(s);
        return GH_ERR_INVALID;
    }
    *out = s;
    *len = used;
    return GH_OK;
}
