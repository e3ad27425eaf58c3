/* Reading an export file for `gatehouse import`: the whole file (or stdin)
 * in memory, at most IMPORT_FILE_MAX bytes, then one line or one row at a
 * time. A row file is either a JSON array of objects (what `sqlite3 -json`
 * prints) or JSON lines, one object per line (what `psql -At -c "select
 * row_to_json(t) from t"` prints). The buffer holds password hashes: it is
 * wiped when closed. CLI only. */
#ifndef GH_IMPORT_IMPORT_ROWS_H
#define GH_IMPORT_IMPORT_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

#define IMPORT_FILE_MAX ((size_t)1 << 30) /* 1 GiB */

struct import_rows {
    char *buf; /* the file, NUL-terminated; wiped and freed by close */
    size_t len, pos;
    size_t line;   /* number of the line (or the array's row) last read */
    json_t *array; /* the parsed array, or NULL for JSON lines */
};

/** Reads path ("-": stdin) into r. GH_ERR_INVALID with why when it cannot
 *  be read, is too large, or starts with '[' and is not a JSON array. */
enum gh_err import_rows_open(struct import_rows *r, const char *path, char *why,
                             size_t whylen) GH_WUR;

/** The same from len bytes at data (copied; tests and the fuzz target). */
enum gh_err import_rows_from(struct import_rows *r, const void *data, size_t len, char *why,
                             size_t whylen) GH_WUR;

/** The next line as bytes (no newline, a trailing CR dropped), skipping
 *  lines of only spaces; *line its 1-based number. false at the end. */
bool import_rows_line(struct import_rows *r, const char **p, size_t *len, size_t *line);

/** The next row: 1 with *row (a new reference: gh_json_wipe and
 *  json_decref it) and *n its number; -1 a line that is not one JSON
 *  object (why; *n its number); 0 the end. */
int import_rows_next(struct import_rows *r, json_t **row, size_t *n, char *why, size_t whylen);

/** Wipes and frees; safe on a zeroed or closed r. */
void import_rows_close(struct import_rows *r);

/** A row's column as text: a string, or an integer printed (ids are
 *  numbers in some schemas); NULL for anything else. buf holds the
 *  printed integer. */
const char *import_rows_text(const json_t *row, const char *col, char *buf, size_t cap);

/** A timestamp column: RFC 3339 or PostgreSQL text, or a number of
 *  milliseconds (above 10^11) or seconds. 1 with *t, 0 null or absent,
 *  -1 malformed. */
int import_rows_time(const json_t *row, const char *col, int64_t *t);

/** Adds the identity (provider, subject) to user_id's list in links (an
 *  object: user id -> [{"provider", "subject"}]). The provider is lower-cased
 *  with '-' turned into '_' ("azure-ad" -> "azure_ad"), the name Gatehouse
 *  would configure it under. false when out of memory. */
bool import_links_add(json_t *links, const char *user_id, const char *provider,
                      const char *subject);

/** Copies a display name from a source's row into obj's "name" when it is
 *  a string the record checks accept; silently leaves it out otherwise (a
 *  profile's free text must not cost the account). */
void import_name_copy(json_t *obj, const json_t *name);

#endif
