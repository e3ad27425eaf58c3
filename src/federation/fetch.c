/* libcurl GET and POST to a provider (fetch.h). */
#include "federation/fetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "federation/providers.h"

fed_fetch_fn fed_fetch_hook;

struct sink {
    char *buf;
    size_t len, cap, max;
    bool too_big;
};

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t add = size * n;
    if (add > s->max - s->len) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + add + 1)
            cap *= 2;
        if (cap > s->max + 1) cap = s->max + 1;
        char *nb = malloc(cap);
        if (!nb) return 0;
        if (s->buf) {
            memcpy(nb, s->buf, s->len);
            gh_wipe(s->buf, s->cap);
            free(s->buf);
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

void fed_http_resp_free(struct fed_http_resp *r)
{
    if (!r) return;
    if (r->body) {
        gh_wipe(r->body, r->len);
        free(r->body);
    }
    r->body = NULL;
    r->len = 0;
}

/* The system's CA bundle plus GATEHOUSE_OIDC_CA_FILE, in memory once (curl's
 * CAINFO replaces the bundle; the setting adds to it). */
static pthread_once_t ca_once = PTHREAD_ONCE_INIT;
static char *ca_blob;
static size_t ca_blob_len;

static void ca_build(void)
{
    const char *extra = fed_ca_file();
    if (!extra || !extra[0]) return;
    char *sys = NULL, *add = NULL;
    const char *sys_path = NULL;
    CURL *h = curl_easy_init();
    if (h) curl_easy_getinfo(h, CURLINFO_CAINFO, &sys_path);
    if (sys_path && config_read_file(sys_path, 8 * 1024 * 1024, &sys) != GH_OK) sys = NULL;
    if (h) curl_easy_cleanup(h);
    if (config_read_file(extra, 1024 * 1024, &add) != GH_OK) {
        gh_log(GH_LOG_WARN, "GATEHOUSE_OIDC_CA_FILE %s cannot be read; using the system's CAs",
               extra);
        free(sys);
        return;
    }
    size_t a = sys ? strlen(sys) : 0, b = strlen(add);
    ca_blob = malloc(a + b + 2);
    if (ca_blob) {
        if (a) memcpy(ca_blob, sys, a);
        ca_blob[a] = '\n';
        memcpy(ca_blob + a + 1, add, b + 1);
        ca_blob_len = a + b + 1;
    }
    free(sys);
    free(add);
}

static enum gh_err curl_do(const struct fed_http_req *rq, struct fed_http_resp *out, char *why,
                           size_t whylen)
{
    struct sink s = {.max = rq->max_bytes ? rq->max_bytes : FED_FETCH_MAX};
    char ebuf[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    if (!h) return GH_ERR_NOMEM;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    bool http = strncmp(rq->url, "http://", 7) == 0;
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, FED_FETCH_CONNECT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, FED_FETCH_TOTAL_S);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Gatehouse/" GH_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL); /* no decompression bombs */
    pthread_once(&ca_once, ca_build);
    if (ca_blob) {
        struct curl_blob b = {.data = ca_blob, .len = ca_blob_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (rq->form) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->form);
    }
    if (rq->auth_user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->auth_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->auth_pass ? rq->auth_pass : "");
    }
    CURLcode cc = curl_easy_perform(h);
    enum gh_err rc = GH_OK;
    if (cc != CURLE_OK) {
        rc = s.too_big || cc == CURLE_FILESIZE_EXCEEDED ? GH_ERR_BUSY
             : cc == CURLE_OUT_OF_MEMORY                ? GH_ERR_NOMEM
                                                        : GH_ERR_BUSY;
        snprintf(why, whylen, "%s",
                 s.too_big || cc == CURLE_FILESIZE_EXCEEDED ? "response too large"
                                                            : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = s.buf ? s.buf : calloc(1, 1);
        out->len = s.len;
        s.buf = NULL;
        if (!out->body) rc = GH_ERR_NOMEM;
    }
    if (s.buf) {
        gh_wipe(s.buf, s.cap);
        free(s.buf);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

enum gh_err fed_fetch(const struct fed_http_req *rq, struct fed_http_resp *out, char *why,
                      size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!rq->url || !fed_url_allowed(rq->url, !gh_cfg.production) || strpbrk(rq->url, " \r\n\t")) {
        snprintf(why, whylen, "refused URL (https only)");
        return GH_ERR_BUSY;
    }
    enum gh_err rc =
        fed_fetch_hook ? fed_fetch_hook(rq, out, why, whylen) : curl_do(rq, out, why, whylen);
    size_t max = rq->max_bytes ? rq->max_bytes : FED_FETCH_MAX;
    if (rc == GH_OK && (!out->body || out->len > max)) {
        fed_http_resp_free(out);
        snprintf(why, whylen, "response too large");
        return GH_ERR_BUSY;
    }
    return rc;
}
