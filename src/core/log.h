/* Structured logs: one JSON object per line on stderr, written with a single
 * write(2) so lines from several threads never interleave. Never pass a
 * secret (password, token, key) to these functions. */
#ifndef GH_CORE_LOG_H
#define GH_CORE_LOG_H

#include <jansson.h>

enum gh_log_level { GH_LOG_DEBUG, GH_LOG_INFO, GH_LOG_WARN, GH_LOG_ERROR, GH_LOG_CRIT };

/** Sets the minimum level written (default INFO). */
void gh_log_set_level(enum gh_log_level lvl);

/** Logs a message line: {"ts","level","msg"}. */
void gh_log(enum gh_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Writes obj as one line, adding "ts" and "level". Steals the reference to obj. */
void gh_log_json(enum gh_log_level lvl, json_t *obj);

/** Writes the current UTC time as "2026-11-24T04:25:02.586Z" into out
 *  (needs 25 bytes); cheap: the date part is cached per thread per second. */
void gh_log_ts(char out[25]);

/** Writes len bytes of complete log lines with one write(2). */
void gh_log_write(const char *buf, size_t len);

#endif
