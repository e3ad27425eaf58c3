#include "pages/pages_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/util.h"
#include "pages/pages_style.h"

struct pages_config pages_cfg;

static char *css; /* heap: ours with the accent, or the operator's */
static size_t css_len;
static unsigned char *logo; /* heap */
static size_t logo_len;

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n > t && strcasecmp(s + n - t, tail) == 0;
}

enum gh_err pages_config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    memset(&pages_cfg, 0, sizeof pages_cfg);
    const char *c = config_env("GATEHOUSE_BRAND_COLOR");
    uint8_t rgb[3];
    if (c && !pages_color_parse(c, rgb)) {
        snprintf(err, errlen,
                 "GATEHOUSE_BRAND_COLOR must be a colour written #rrggbb (like #1f5fbf)");
        return GH_ERR_CONFIG;
    }
    if (c)
        snprintf(pages_cfg.accent, sizeof pages_cfg.accent, "#%02x%02x%02x", rgb[0], rgb[1],
                 rgb[2]);
    if ((rc = config_env_str(pages_cfg.logo, sizeof pages_cfg.logo, "GATEHOUSE_BRAND_LOGO", "", err,
                             errlen)))
        return rc;
    if (pages_cfg.logo[0] && !ends_with(pages_cfg.logo, ".png") &&
        !ends_with(pages_cfg.logo, ".svg")) {
        snprintf(err, errlen, "GATEHOUSE_BRAND_LOGO must name a .png or .svg file");
        return GH_ERR_CONFIG;
    }
    pages_cfg.logo_svg = ends_with(pages_cfg.logo, ".svg");
    return config_env_str(pages_cfg.css, sizeof pages_cfg.css, "GATEHOUSE_PAGES_CSS", "", err,
                          errlen);
}

/* Reads the regular file at path, at most PAGES_ASSET_MAX bytes, into
 * *out (heap, NUL-terminated). A message naming var and path in err. */
static enum gh_err read_asset(const char *var, const char *path, unsigned char **out, size_t *len,
                              char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read %s (%s)", var, path,
                 fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) close(fd);
        return GH_ERR_CONFIG;
    }
    if (st.st_size <= 0 || st.st_size > PAGES_ASSET_MAX) {
        snprintf(err, errlen, "%s: %s must hold 1 to %d bytes (it has %lld)", var, path,
                 PAGES_ASSET_MAX, (long long)st.st_size);
        close(fd);
        return GH_ERR_CONFIG;
    }
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *b = malloc(n + 1);
    while (b && got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (!b || got != n) {
        free(b);
        snprintf(err, errlen, "%s: cannot read %s", var, path);
        return b ? GH_ERR_CONFIG : GH_ERR_NOMEM;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return GH_OK;
}

/* What the logo's bytes must look like: PNG's signature, or SVG text. */
static bool logo_kind_ok(const unsigned char *b, size_t n, bool svg)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!svg) return n > sizeof png && memcmp(b, png, sizeof png) == 0;
    return memchr(b, '\0', n) == NULL && gh_utf8_valid((const char *)b, n) &&
           strstr((const char *)b, "<svg") != NULL;
}

enum gh_err pages_assets_init(char *err, size_t errlen)
{
    pages_assets_free();
    enum gh_err rc;
    if (pages_cfg.logo[0]) {
        if ((rc =
                 read_asset("GATEHOUSE_BRAND_LOGO", pages_cfg.logo, &logo, &logo_len, err, errlen)))
            return rc;
        if (!logo_kind_ok(logo, logo_len, pages_cfg.logo_svg)) {
            snprintf(err, errlen, "GATEHOUSE_BRAND_LOGO: %s is not a %s file", pages_cfg.logo,
                     pages_cfg.logo_svg ? "SVG" : "PNG");
            pages_assets_free();
            return GH_ERR_CONFIG;
        }
    }
    if (pages_cfg.css[0]) {
        unsigned char *b = NULL;
        rc = read_asset("GATEHOUSE_PAGES_CSS", pages_cfg.css, &b, &css_len, err, errlen);
        if (rc == GH_OK && (memchr(b, '\0', css_len) || !gh_utf8_valid((char *)b, css_len))) {
            snprintf(err, errlen, "GATEHOUSE_PAGES_CSS: %s is not UTF-8 text", pages_cfg.css);
            free(b);
            rc = GH_ERR_CONFIG;
        }
        if (rc) {
            pages_assets_free();
            return rc;
        }
        css = (char *)b;
        return GH_OK;
    }
    rc = pages_style_build(pages_cfg.accent[0] ? pages_cfg.accent : NULL, &css, &css_len);
    if (rc) {
        snprintf(err, errlen, "cannot build the pages' stylesheet (out of memory?)");
        pages_assets_free();
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

void pages_assets_free(void)
{
    free(css);
    free(logo);
    css = NULL;
    logo = NULL;
    css_len = logo_len = 0;
}

/* Before pages_assets_init (unit tests, or a page rendered by a command):
 * ours in the built-in colours, built once. */
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static char *default_css;
static size_t default_len;

static void build_default(void)
{
    if (pages_style_build(NULL, &default_css, &default_len) != GH_OK) default_len = 0;
}

const char *pages_assets_css(size_t *len)
{
    if (css) {
        *len = css_len;
        return css;
    }
    pthread_once(&default_once, build_default);
    *len = default_len;
    return default_css ? default_css : "";
}

const unsigned char *pages_assets_logo(size_t *len, const char **type)
{
    *len = logo_len;
    *type = pages_cfg.logo_svg ? "image/svg+xml" : "image/png";
    return logo;
}
