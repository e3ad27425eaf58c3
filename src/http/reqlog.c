/* The request log: one JSON line per request, batched per loop. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "http/internal.h"

void http_log_flush(struct gh_loop *l)
{
    if (l->loglen) gh_log_write(l->logbuf, l->loglen);
    l->loglen = 0;
}

void http_on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    http_log_flush(arg);
}

/* Appends s as a JSON string body (quotes added by the caller). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

/* Written by hand, not through jansson: it runs on every request, and every
 * value is either ours or escaped. The loop flushes the batch when it has
 * nothing else to do (lowest-priority event) or when the buffer is full.
 * user_id may be NULL; error (an error table code, ours) too. */
void http_log_line(struct gh_loop *l, const char *request_id, int method, const char *route,
                   int status, int64_t start_us, const char *user_id, const char *error)
{
    char line[512], ts[25], uid[STORE_ID_LEN * 6 + 1], rid[(GH_REQUEST_ID_MAX + 1) * 6];
    gh_log_ts(ts);
    json_escape(rid, sizeof rid, request_id);
    int64_t us = gh_mono_us() - start_us;
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"info\",\"request_id\":\"%s\",\"method\":\"%s\","
                     "\"route\":\"%s\",\"status\":%d,\"duration_ms\":%lld.%03lld",
                     ts, rid, gh_method_name(method), route, status, (long long)(us / 1000),
                     (long long)(us % 1000));
    if (n < 0 || (size_t)n >= sizeof line - 64) return;
    if (user_id) {
        json_escape(uid, sizeof uid, user_id);
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"user_id\":\"%s\"", uid);
    }
    if (error && (size_t)n < sizeof line - 64)
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"error\":\"%s\"", error);
    if ((size_t)n + 2 >= sizeof line) return;
    line[n++] = '}';
    line[n++] = '\n';
    if (l->loglen + (size_t)n > LOGBUF_SIZE) http_log_flush(l);
    if (l->loglen == 0) event_active(l->log_ev, EV_WRITE, 0);
    memcpy(l->logbuf + l->loglen, line, (size_t)n);
    l->loglen += (size_t)n;
}

void http_log_request(struct gh_req *r)
{
    const char *route = !r->route ? "unmatched" : r->route->name ? r->route->name : r->route->path;
    http_log_line(r->loop, r->request_id, r->method, route, r->status, r->start_us,
                  r->authed ? r->ident.user_id : NULL, r->error_code);
}
