/* The pages' branding settings (decision 0022: the module reads its own),
 * and the assets they make: the stylesheet and the logo.
 *
 * pages_config_load (every command, at start) reads and checks:
 *   GATEHOUSE_BRAND_COLOR  "#rrggbb": the accent (buttons, links, focus);
 *   GATEHOUSE_BRAND_LOGO   the path of a .png or .svg file;
 *   GATEHOUSE_PAGES_CSS    the path of a stylesheet that replaces ours.
 * pages_assets_init (serve only, before any thread starts) reads the two
 * files (each at most PAGES_ASSET_MAX bytes; a missing, unreadable,
 * oversized or wrong-kind file stops the start with its name) and builds
 * the stylesheet with the accent in it. Afterwards everything is
 * read-only: any thread may read it without locks.
 *
 * Ownership: the assets are heap memory of this module, freed by
 * pages_assets_free (at shutdown). Pointers handed out stay valid until
 * then. */
#ifndef GH_PAGES_PAGES_CONFIG_H
#define GH_PAGES_PAGES_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define PAGES_ASSET_MAX (256 * 1024)

struct pages_config {
    char accent[8];  /* "#rrggbb" (lower case), or "": the built-in palette */
    char logo[1024]; /* "": no logo */
    char css[1024];  /* "": the built-in stylesheet */
    bool logo_svg;   /* the logo is SVG (else PNG) */
};
extern struct pages_config pages_cfg;

/** Reads the settings above into pages_cfg; GH_ERR_CONFIG with err naming
 *  the variable at fault. */
enum gh_err pages_config_load(char *err, size_t errlen) GH_WUR;

/** Reads the logo and the operator's stylesheet, builds ours; GH_ERR_CONFIG
 *  with err naming the setting and the file. Call once, before serving. */
enum gh_err pages_assets_init(char *err, size_t errlen) GH_WUR;

/** Frees what pages_assets_init made. */
void pages_assets_free(void);

/** The stylesheet to serve: the operator's file, or ours with the accent;
 *  before pages_assets_init, ours in the built-in colours. *len its length.
 *  Never NULL (a static empty sheet if memory ran out). */
const char *pages_assets_css(size_t *len);

/** The logo's bytes and *type its Content-Type ("image/png",
 *  "image/svg+xml"), or NULL when none is configured (or not loaded). */
const unsigned char *pages_assets_logo(size_t *len, const char **type);

#endif
