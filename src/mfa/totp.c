#include "mfa/totp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <qrencode.h>

#include "core/util.h"

enum gh_err totp_init(void)
{
    return oath_init() == OATH_OK ? GH_OK : GH_ERR_INTERNAL;
}

void totp_shutdown(void)
{
    oath_done();
}

void totp_new_secret(uint8_t secret[TOTP_SECRET_BYTES])
{
    gh_random(secret, TOTP_SECRET_BYTES);
}

enum gh_err totp_base32(const uint8_t secret[TOTP_SECRET_BYTES], char out[TOTP_BASE32_LEN + 1])
{
    char *b32 = NULL;
    size_t len = 0;
    if (oath_base32_encode((const char *)secret, TOTP_SECRET_BYTES, &b32, &len) != OATH_OK || !b32)
        return GH_ERR_INTERNAL;
    while (len > 0 && b32[len - 1] == '=')
        len--; /* apps want it unpadded */
    enum gh_err rc = GH_ERR_INTERNAL;
    if (len == TOTP_BASE32_LEN) {
        memcpy(out, b32, len);
        out[len] = '\0';
        rc = GH_OK;
    }
    gh_wipe(b32, strlen(b32));
    free(b32);
    return rc;
}

/* RFC 3986 percent-encoding of everything but the unreserved characters;
 * cut where it no longer fits. */
static size_t pct(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    (void)gh_pct_append(out, cap, &o, s, NULL);
    return o;
}

enum gh_err totp_uri(const uint8_t secret[TOTP_SECRET_BYTES], const char *issuer,
                     const char *account, char **out)
{
    char b32[TOTP_BASE32_LEN + 1];
    if (!issuer) issuer = "";
    if (!account) account = "";
    /* Percent-encoding at most triples a string: size from the inputs. */
    size_t il = strlen(issuer) * 3 + 4, al = strlen(account) * 3 + 4;
    char *iss = malloc(il), *acc = malloc(al);
    enum gh_err rc = (iss && acc) ? totp_base32(secret, b32) : GH_ERR_NOMEM;
    if (rc) {
        free(iss);
        free(acc);
        return rc;
    }
    pct(iss, il, issuer);
    pct(acc, al, account);
    size_t cap = strlen(iss) * 2 + strlen(acc) + sizeof b32 + 128;
    char *s = malloc(cap);
    if (s) {
        snprintf(s, cap,
                 "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d", iss,
                 acc, b32, iss, TOTP_DIGITS, TOTP_STEP);
        *out = s;
    }
    free(iss);
    free(acc);
    gh_wipe(b32, sizeof b32);
    return s ? GH_OK : GH_ERR_NOMEM;
}

/* A growable string with a hard cap (a QR code has at most 177x177 modules). */
struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n;
        if (ncap > 4u << 20) {
            b->failed = true;
            return;
        }
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

enum gh_err totp_qr_svg(const char *text, char **out)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return GH_ERR_INTERNAL;
    const int quiet = 4, w = qr->width, size = w + 2 * quiet;
    struct sbuf b = {.p = malloc(16384), .cap = 16384};
    if (!b.p) {
        QRcode_free(qr);
        return GH_ERR_NOMEM;
    }
    b.p[0] = '\0';
    sb_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
              "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
              "<path fill=\"#000\" d=\"",
              size, size, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (qr->data[y * w + x] & 1) sb_printf(&b, "M%d %dh1v1h-1z", x + quiet, y + quiet);
    sb_printf(&b, "\"/></svg>\n");
    QRcode_free(qr);
    if (b.failed) {
        gh_wipe(b.p, b.cap);
        free(b.p);
        return GH_ERR_NOMEM;
    }
    *out = b.p;
    return GH_OK;
}

enum gh_err totp_code_at(const uint8_t secret[TOTP_SECRET_BYTES], int64_t step,
                         char out[TOTP_DIGITS + 1])
{
    if (step < 0 || step > INT64_MAX / TOTP_STEP) return GH_ERR_INVALID;
    if (oath_totp_generate((const char *)secret, TOTP_SECRET_BYTES, (time_t)(step * TOTP_STEP),
                           TOTP_STEP, 0, TOTP_DIGITS, out) != OATH_OK)
        return GH_ERR_INTERNAL;
    return GH_OK;
}

enum gh_err totp_check(const uint8_t secret[TOTP_SECRET_BYTES], const char *code, int64_t now,
                       int64_t last_step, int64_t *step)
{
    if (!code || strlen(code) != TOTP_DIGITS) return GH_ERR_DENIED;
    for (int i = 0; i < TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9') return GH_ERR_DENIED;
    int64_t cur = now / TOTP_STEP;
    enum gh_err rc = GH_ERR_DENIED;
    /* Every candidate is computed and compared, matched or not, so the
     * time does not say which step matched. */
    for (int64_t d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
        int64_t s = cur + d;
        char want[TOTP_DIGITS + 1];
        if (totp_code_at(secret, s, want) != GH_OK) continue;
        bool eq = gh_ct_equal(want, TOTP_DIGITS, code, TOTP_DIGITS);
        gh_wipe(want, sizeof want);
        if (eq && s > last_step && rc != GH_OK) {
            *step = s;
            rc = GH_OK;
        }
    }
    return rc;
}
