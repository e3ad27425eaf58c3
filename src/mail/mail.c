#include "mail/mail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

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

enum gh_err mail_enqueue(const struct store_ops *ops, struct store_conn *c, const char *to,
                         const char *subject, const char *text, const char *html)
{
    if (strpbrk(to, "\r\n") || strpbrk(subject, "\r\n")) return GH_ERR_INVALID;
    char id[STORE_ID_LEN + 1], date[64];
    sessions_new_id(id);
    time_t now = (time_t)gh_now_s();
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    size_t cap = strlen(text) + strlen(html) + strlen(to) + strlen(subject) + 1024;
    char *msg = malloc(cap);
    if (!msg) return GH_ERR_NOMEM;
    int n = snprintf(msg, cap,
                     "From: %s\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
                     "Message-ID: <%s@gatehouse>\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: multipart/alternative; boundary=\"gh-%s\"\r\n\r\n"
                     "--gh-%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
                     "--gh-%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--gh-%s--\r\n",
                     gh_cfg.smtp_from, to, subject, date, id, id, id, text, id, html, id);
    enum gh_err rc = GH_ERR_INTERNAL;
    char *sealed = NULL;
    if (n > 0 && (size_t)n < cap &&
        (rc = vault_seal("mail_queue", "message_sealed", id, (const uint8_t *)msg, (size_t)n,
                         &sealed)) == GH_OK)
        rc = ops->mail_insert(c, id, to, sealed, gh_now_s());
    gh_wipe(msg, cap);
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

/* Development without SMTP: <data dir>/outbox/<id>.eml, mode 0600. */
static int send_outbox(const char *id, const char *msg, size_t len, char *err, size_t errlen)
{
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/outbox", gh_cfg.data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the outbox directory");
        return -1;
    }
    int pn = snprintf(path, sizeof path, "%s/%s.eml", dir, id);
    if (pn < 0 || (size_t)pn >= sizeof path) {
        snprintf(err, errlen, "outbox path too long");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, msg, len) != (ssize_t)len) {
        snprintf(err, errlen, "cannot write to the outbox");
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

enum gh_err mail_template(const char *name, const char *ext, const char *link, long long minutes,
                          char **out)
{
    if (!gh_cfg.template_dir[0]) return GH_ERR_NOT_FOUND;
    char path[1200], *tpl = NULL, num[24];
    int pn = snprintf(path, sizeof path, "%s/%s.%s", gh_cfg.template_dir, name, ext);
    if (pn < 0 || (size_t)pn >= sizeof path) return GH_ERR_NOT_FOUND;
    if (config_read_file(path, 16384, &tpl) != GH_OK) return GH_ERR_NOT_FOUND;
    snprintf(num, sizeof num, "%lld", minutes);
    const char *keys[] = {"{{link}}", "{{brand}}", "{{minutes}}"};
    const char *vals[] = {link, gh_cfg.brand, num};
    size_t cap = strlen(tpl) * 2 + 4096, o = 0;
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
        if (o + vl + 1 > cap) break; /* cut rather than overflow */
        memcpy(buf + o, v, vl);
        o += vl;
        p += k < 3 ? strlen(keys[k]) : 1;
    }
    buf[o] = '\0';
    free(tpl);
    *out = buf;
    return GH_OK;
}

void mail_deliver(const struct store_ops *ops, struct store_conn *c)
{
    struct store_mail due[16];
    size_t n = 0;
    if (ops->mail_due(c, gh_now_s(), due, 16, &n) != GH_OK) return;
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
        if (ops->mail_result(c, due[i].id, ok == 0, err, next) != GH_OK)
            gh_log(GH_LOG_ERROR, "mail %s: cannot record the delivery result", due[i].id);
    }
}
