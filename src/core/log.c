#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum gh_log_level min_level = GH_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "crit"};

void gh_log_set_level(enum gh_log_level lvl)
{
    min_level = lvl;
}

static void write_line(char *s)
{
    size_t len = strlen(s);
    s[len] = '\n'; /* the caller left room: replace the NUL, write len+1 */
    gh_log_write(s, len + 1);
}

void gh_log_ts(char out[25])
{
    static __thread time_t cached_sec = -1;
    static __thread char cached[21];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = tv.tv_sec;
    }
    int ms = (int)(tv.tv_usec / 1000);
    memcpy(out, cached, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

void gh_log_write(const char *p, size_t left)
{
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, p, left);
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
    }
}

void gh_log_json(enum gh_log_level lvl, json_t *obj)
{
    if (!obj) return;
    if (lvl < min_level) {
        json_decref(obj);
        return;
    }
    char ts[25];
    gh_log_ts(ts);
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(obj, "level", json_string(level_names[lvl]));
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!s) return;
    /* json_dumps allocates exactly; grow by one for the newline. */
    size_t len = strlen(s);
    char *line = realloc(s, len + 2);
    if (!line) {
        free(s);
        return;
    }
    line[len + 1] = '\0';
    write_line(line);
    free(line);
}

void gh_log(enum gh_log_level lvl, const char *fmt, ...)
{
    if (lvl < min_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    if (!o) return;
    json_object_set_new(o, "msg", json_string(msg));
    gh_log_json(lvl, o);
}
