/* The look of the pages: the built-in stylesheet (light and dark, every
 * class of the page vocabulary in docs/api.md "Pages"), its colours, and
 * the brand's accent colour put into it. The page CSP allows no inline
 * style, so the accent cannot go into a page: the stylesheet itself is
 * generated once, at start, with the accent in its :root variables, and a
 * text colour on the accent chosen by contrast (WCAG 2 relative
 * luminance).
 *
 * Pure functions over caller memory, except pages_style_build's output
 * (heap, the caller frees it). Any thread. */
#ifndef GH_PAGES_PAGES_STYLE_H
#define GH_PAGES_PAGES_STYLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PAGES_STYLE_MAX (16 * 1024) /* the generated sheet; a few KB */

/** Parses "#rrggbb" (hex digits in either case; nothing else: no "#rgb",
 *  no names, no spaces) into rgb. false leaves rgb unchanged. */
bool pages_color_parse(const char *s, uint8_t rgb[3]);

/** WCAG 2 relative luminance of an sRGB colour, 0 (black) to 1 (white). */
double pages_luminance(const uint8_t rgb[3]);

/** WCAG 2 contrast ratio of two colours, 1 to 21 (order does not matter). */
double pages_contrast(const uint8_t a[3], const uint8_t b[3]);

/** One colour of the palette: its CSS variable name (without "--") and its
 *  value in the light and the dark scheme ("#rrggbb"). */
struct pages_color {
    const char *name;
    char light[8], dark[8];
};

/** The palette the stylesheet uses, with accent ("#rrggbb", or NULL for
 *  the built-in blue) applied: --accent in both schemes, --accent-fg black
 *  or white (the one with more contrast on it), --link and --focus the
 *  accent where it reads at 4.5:1 on the card, else the text colour.
 *  Writes at most cap entries into out; returns how many there are. */
size_t pages_palette(struct pages_color *out, size_t cap, const char *accent);

/** The whole stylesheet for accent (as pages_palette) into *out (heap,
 *  NUL-terminated, the caller frees it), *len its length. GH_ERR_INVALID
 *  for an accent pages_color_parse refuses, GH_ERR_NOMEM. */
enum gh_err pages_style_build(const char *accent, char **out, size_t *len) GH_WUR;

#endif
