#include "mail/mail.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "http/server.h"
#include "sessions/sessions.h"
#include "vault/vault.h"

enum gh_err mail_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? GH_OK : GH_ERR_INTERNAL;
}

void mail_shutdown(void)
{
    curl_global_cleanup();
}

/* The address part of "Name <addr>" or "addr". */
static void from_addr(char *out, size_t cap)
{
    const char *lt = strchr(gh_cfg.smtp_from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1)
        snprintf(out, cap, "<%.*s>", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(out, cap, "<%s>", gh_cfg.smtp_from);
}

/* A growing message buffer. It holds links: wiped whenever it moves. */
struct mbuf {
    char *p;
    size_t len, cap;
    enum gh_err err; /* GH_ERR_NOMEM, or GH_ERR_INVALID past MAIL_MESSAGE_MAX */
};

static void mb_put(struct mbuf *b, const char *s, size_t n)
{
    if (b->err) return;
    if (n > MAIL_MESSAGE_MAX - b->len) {
        b->err = GH_ERR_INVALID;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = malloc(cap);
        if (!q) {
            b->err = GH_ERR_NOMEM;
            return;
        }
        if (b->p) {
            memcpy(q, b->p, b->len);
            gh_wipe(b->p, b->cap);
            free(b->p);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void mb_str(struct mbuf *b, const char *s)
{
    mb_put(b, s, strlen(s));
}

static void mb_free(struct mbuf *b)
{
    if (b->p) gh_wipe(b->p, b->cap);
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* The longest line of s in octets; CRLF, a lone LF and a lone CR each end one. */
static size_t longest_line(const char *s)
{
    size_t max = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') {
            if (*s == '\r' && s[1] == '\n') s++;
            cur = 0;
        } else if (++cur > max) {
            max = cur;
        }
    }
    return max;
}

/* s with every line ending as CRLF: SMTP has no other (RFC 5321 2.3.8). */
static void put_crlf(struct mbuf *b, const char *s)
{
    while (*s) {
        size_t run = strcspn(s, "\r\n");
        mb_put(b, s, run);
        s += run;
        if (!*s) break;
        mb_put(b, "\r\n", 2);
        s += s[0] == '\r' && s[1] == '\n' ? 2 : 1;
    }
}

/* One body part: 8bit when every line fits, otherwise base64 (a long link
 * in a one-line HTML body must not be cut or break the 998-octet limit). */
static void put_part(struct mbuf *b, const char *id, const char *type, const char *body)
{
    bool b64 = longest_line(body) > MAIL_LINE_MAX;
    mb_str(b, "--gh-");
    mb_str(b, id);
    mb_str(b, "\r\nContent-Type: ");
    mb_str(b, type);
    mb_str(b, "; charset=utf-8\r\nContent-Transfer-Encoding: ");
    mb_str(b, b64 ? "base64\r\n\r\n" : "8bit\r\n\r\n");
    if (!b64) {
        put_crlf(b, body);
        mb_put(b, "\r\n", 2);
        return;
    }
    struct mbuf norm = {0};
    put_crlf(&norm, body);
    if (norm.err) b->err = norm.err;
    for (size_t i = 0; !b->err && i < norm.len; i += 57) { /* 57 octets: 76 characters */
        char line[80];
        size_t n = norm.len - i < 57 ? norm.len - i : 57;
        sodium_bin2base64(line, sizeof line, (const unsigned char *)norm.p + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        mb_str(b, line);
        mb_put(b, "\r\n", 2);
    }
    mb_free(&norm);
}

/* "Subject: ..." as is when printable ASCII, otherwise as RFC 2047 encoded
 * words of whole UTF-8 characters, each line within 78 characters. */
static void put_subject(struct mbuf *b, const char *s)
{
    size_t n = strlen(s);
    bool plain = !strstr(s, "=?");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) plain = false;
    mb_str(b, "Subject:");
    if (plain) {
        mb_put(b, " ", 1);
        mb_put(b, s, n);
    }
    for (size_t i = 0; !plain && i < n;) {
        size_t j = n - i > 42 ? i + 42 : n; /* 42 octets: 56 characters of base64 */
        while (j < n && j > i && ((unsigned char)s[j] & 0xc0) == 0x80)
            j--; /* not inside a character */
        char enc[64];
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)s + i, j - i,
                          sodium_base64_VARIANT_ORIGINAL);
        mb_str(b, i ? "\r\n =?UTF-8?B?" : " =?UTF-8?B?");
        mb_str(b, enc);
        mb_str(b, "?=");
        i = j;
    }
    mb_put(b, "\r\n", 2);
}

enum gh_err mail_build(const char *to, const char *subject, const char *text, const char *html,
                       const char *id, int64_t now, char **out, size_t *len)
{
    if (strpbrk(to, "\r\n") || strpbrk(subject, "\r\n") || !gh_utf8_valid(subject, strlen(subject)))
        return GH_ERR_INVALID;
    char date[64];
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    struct mbuf b = {0};
    mb_str(&b, "From: ");
    mb_str(&b, gh_cfg.smtp_from);
    mb_str(&b, "\r\nTo: <");
    mb_str(&b, to);
    mb_str(&b, ">\r\n");
    put_subject(&b, subject);
    mb_str(&b, "Date: ");
    mb_str(&b, date);
    mb_str(&b, "\r\nMessage-ID: <");
    mb_str(&b, id);
    mb_str(&b, "@gatehouse>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/alternative; boundary=\"gh-");
    mb_str(&b, id);
    mb_str(&b, "\"\r\n\r\n");
    put_part(&b, id, "text/plain", text);
    put_part(&b, id, "text/html", html);
    mb_str(&b, "--gh-");
    mb_str(&b, id);
    mb_str(&b, "--\r\n");
    if (b.err) {
        enum gh_err rc = b.err;
        mb_free(&b);
        return rc;
    }
    *out = b.p;
    *len = b.len;
    return GH_OK;
}

enum gh_err mail_enqueue(const struct store_ops *ops, struct store_conn *c, const char *to,
                         const char *subject, const char *text, const char *html)
{
    char id[STORE_ID_LEN + 1];
    sessions_new_id(id);
    char *msg = NULL, *sealed = NULL;
    size_t len = 0;
    enum gh_err rc = mail_build(to, subject, text, html, id, gh_now_s(), &msg, &len);
    if (rc) return rc;
    rc = vault_seal("mail_queue", "message_sealed", id, (const uint8_t *)msg, len, &sealed);
    if (rc == GH_OK) rc = ops->mail.insert(c, id, to, sealed, gh_now_s());
    gh_wipe(msg, len);
    free(msg);
    free(sealed);
    return rc;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nitems < u->left ? size * nitems : u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/* Shutdown must not wait for a slow or silent SMTP server. */
static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)arg, (void)dt, (void)dn, (void)ut, (void)un;
    return server_draining() ? 1 : 0;
}

/* One delivery over SMTP. err gets libcurl's reason on failure; 1 means
 * abandoned because the server is shutting down (not an attempt). */
static int send_smtp(const char *to, const char *msg, size_t len, char *err, size_t errlen)
{
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "curl init failed");
        return -1;
    }
    char from[300], rcpt[STORE_EMAIL_MAX + 3], ebuf[CURL_ERROR_SIZE] = "";
    from_addr(from, sizeof from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    struct upload u = {msg, len};
    curl_easy_setopt(curl, CURLOPT_URL, gh_cfg.smtp_url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(curl, CURLOPT_READDATA, &u);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (strncmp(gh_cfg.smtp_url, "smtp://", 7) == 0)
        curl_easy_setopt(curl, CURLOPT_USE_SSL,
                         gh_cfg.smtp_starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
    if (gh_cfg.smtp_ca_file[0]) curl_easy_setopt(curl, CURLOPT_CAINFO, gh_cfg.smtp_ca_file);
    if (gh_cfg.smtp_user) curl_easy_setopt(curl, CURLOPT_USERNAME, gh_cfg.smtp_user);
    if (gh_cfg.smtp_password) curl_easy_setopt(curl, CURLOPT_PASSWORD, gh_cfg.smtp_password);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(curl);
    if (cc == CURLE_ABORTED_BY_CALLBACK) return 1;
    return cc == CURLE_OK ? 0 : -1;
}

/* Development without SMTP: <data dir>/outbox/<id>.eml, mode 0600. Written
 * beside the outbox and renamed in, so a reader never sees half a message. */
static int send_outbox(const char *id, const char *msg, size_t len, char *err, size_t errlen)
{
    char dir[1200], path[1300], tmp[1300];
    snprintf(dir, sizeof dir, "%s/outbox", gh_cfg.data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the outbox directory");
        return -1;
    }
    int pn = snprintf(path, sizeof path, "%s/%s.eml", dir, id);
    int tn = snprintf(tmp, sizeof tmp, "%s/.outbox-%s.tmp", gh_cfg.data_dir, id);
    if (pn < 0 || (size_t)pn >= sizeof path || tn < 0 || (size_t)tn >= sizeof tmp) {
        snprintf(err, errlen, "outbox path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, msg, len) == (ssize_t)len;
    if (fd >= 0 && close(fd) != 0) ok = false;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write to the outbox");
        unlink(tmp);
        return -1;
    }
    return 0;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* A refused template: the operator hears why, the user gets the built-in text. */
static enum gh_err template_refused(const char *path, const char *why)
{
    gh_log(GH_LOG_WARN, "email template %s %s: using the built-in text", path, why);
    return GH_ERR_INVALID;
}

enum gh_err mail_template(const char *name, const char *ext, const char *link, long long minutes,
                          char **out)
{
    if (!gh_cfg.template_dir[0]) return GH_ERR_NOT_FOUND;
    char path[1200], *tpl = NULL, num[24];
    int pn = snprintf(path, sizeof path, "%s/%s.%s", gh_cfg.template_dir, name, ext);
    if (pn < 0 || (size_t)pn >= sizeof path) return GH_ERR_NOT_FOUND;
    struct stat st;
    if (stat(path, &st) != 0) return GH_ERR_NOT_FOUND;
    if (st.st_size > MAIL_TEMPLATE_FILE_MAX)
        return template_refused(path, "is over " STR(MAIL_TEMPLATE_FILE_MAX) " bytes");
    if (config_read_file(path, MAIL_TEMPLATE_FILE_MAX, &tpl) != GH_OK) return GH_ERR_NOT_FOUND;
    size_t tlen = strlen(tpl);
    const char *why = NULL;
    if (tlen != (size_t)st.st_size)
        why = "holds a NUL byte or changed while read";
    else if (!gh_utf8_valid(tpl, tlen))
        why = "is not UTF-8";
    if (why) {
        free(tpl);
        return template_refused(path, why);
    }
    snprintf(num, sizeof num, "%lld", minutes);
    const char *keys[] = {"{{link}}", "{{brand}}", "{{minutes}}"};
    const char *vals[] = {link, gh_cfg.brand, num};
    size_t cap = MAIL_TEMPLATE_OUT_MAX + 1, o = 0;
    char *buf = malloc(cap);
    if (!buf) {
        free(tpl);
        return GH_ERR_NOMEM;
    }
    for (const char *p = tpl; *p;) {
        size_t k;
        for (k = 0; k < 3 && strncmp(p, keys[k], strlen(keys[k])) != 0; k++) {
        }
        const char *v = k < 3 ? vals[k] : p;
        size_t vl = k < 3 ? strlen(vals[k]) : 1;
        if (vl > cap - 1 - o) {
            why = "expands past " STR(MAIL_TEMPLATE_OUT_MAX) " bytes";
            break;
        }
        memcpy(buf + o, v, vl);
        o += vl;
        p += k < 3 ? strlen(keys[k]) : 1;
    }
    buf[o] = '\0';
    free(tpl);
    if (!why && longest_line(buf) > MAIL_LINE_MAX)
        why = "has a line over " STR(MAIL_LINE_MAX) " octets once filled in";
    if (why) {
        gh_wipe(buf, cap);
        free(buf);
        return template_refused(path, why);
    }
    *out = buf;
    return GH_OK;
}

void mail_deliver(const struct store_ops *ops, struct store_conn *c)
{
    struct store_mail due[16];
    size_t n = 0;
    if (ops->mail.due(c, gh_now_s(), due, 16, &n) != GH_OK) return;
    for (size_t i = 0; i < n; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        char err[256] = "";
        int ok = -1;
        if (server_draining())
            ok = 1;
        else if (vault_open("mail_queue", "message_sealed", due[i].id, due[i].message_sealed, &msg,
                            &len) != GH_OK)
            snprintf(err, sizeof err, "the queued message does not open");
        else if (gh_cfg.smtp_url)
            ok = send_smtp(due[i].to_addr, (const char *)msg, len, err, sizeof err);
        else if (!gh_cfg.production)
            ok = send_outbox(due[i].id, (const char *)msg, len, err, sizeof err);
        else
            snprintf(err, sizeof err, "GATEHOUSE_SMTP_URL is not set");
        vault_free(msg, len);
        free(due[i].message_sealed);
        if (ok == 1) { /* shutting down: still due, the next start sends it */
            for (size_t j = i + 1; j < n; j++)
                free(due[j].message_sealed);
            return;
        }
        int attempts = due[i].attempts + 1;
        /* Backoff 5 s, 20 s, 45 s, 80 s, ... (5 n^2): a sign-in link is wanted
         * now, and it expires; after MAIL_MAX_ATTEMPTS the message stays
         * queued, unsent, until pruned. */
        int64_t next = ok == 0 || attempts >= MAIL_MAX_ATTEMPTS
                           ? INT64_MAX
                           : gh_now_s() + 5 * (int64_t)attempts * attempts;
        if (ok != 0)
            gh_log(attempts >= MAIL_MAX_ATTEMPTS ? GH_LOG_ERROR : GH_LOG_WARN,
                   "mail %s: delivery attempt %d failed: %s", due[i].id, attempts, err);
        if (ops->mail.result(c, due[i].id, ok == 0, err, next) != GH_OK)
            gh_log(GH_LOG_ERROR, "mail %s: cannot record the delivery result", due[i].id);
    }
}

enum gh_err mail_enqueue_notice(const struct store_ops *ops, struct store_conn *c, const char *to,
                                const char *name, const char *subject, const char *text,
                                const char *html)
{
    char *t_text = NULL, *t_html = NULL;
    if (mail_template(name, "txt", "", 0, &t_text) != GH_OK) t_text = NULL;
    if (mail_template(name, "html", "", 0, &t_html) != GH_OK) t_html = NULL;
    enum gh_err rc =
        mail_enqueue(ops, c, to, subject, t_text ? t_text : text, t_html ? t_html : html);
    free(t_text);
    free(t_html);
    return rc;
}
