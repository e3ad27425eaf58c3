/* The sources of `gatehouse import` (docs/import.md): each opens its input
 * files and yields accounts through a struct import_source (import_run.h).
 * CLI only. Close a source that opened, also after a failed run. */
#ifndef GH_IMPORT_SOURCES_H
#define GH_IMPORT_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "import/import_run.h"

/** The generic JSON lines (import_line.h), one account per line. */
enum gh_err import_users_open(const char *path, struct import_source *src, char *why,
                              size_t whylen) GH_WUR;

/** An Auth.js (NextAuth) database: its users table and, optionally, its
 *  accounts table, each exported as rows (import_rows.h). Accounts of type
 *  oauth/oidc become identities ("google" stays "google"); their OAuth
 *  tokens are never read into an account. A user's emailVerified time
 *  makes it verified. */
enum gh_err authjs_open(const char *users, const char *accounts, struct import_source *src,
                        char *why, size_t whylen) GH_WUR;

/** A Supabase export: auth.users rows and, optionally, auth.identities
 *  rows. encrypted_password is the bcrypt hash; email_confirmed_at makes
 *  it verified; raw_user_meta_data's full_name (or name) is the name;
 *  identities other than "email" and "phone" become identities; a user
 *  with deleted_at is skipped. */
enum gh_err supabase_open(const char *users, const char *identities, struct import_source *src,
                          char *why, size_t whylen) GH_WUR;

struct import_rows;

/** The links file's rows (Auth.js accounts, Supabase identities) into
 *  links (user id -> identities). GH_ERR_INVALID with why (naming the
 *  row) when a row is not an object or lacks its columns. */
enum gh_err import_links_read(bool supabase, struct import_rows *rows, json_t *links, char *why,
                              size_t whylen) GH_WUR;

/** One user row as the generic line's object (a new reference: wipe and
 *  release it), with its identities from links; NULL with why when the row
 *  is refused, or skipped (*skip: a deleted Supabase user). */
json_t *import_row_object(bool supabase, const json_t *links, const json_t *row, bool *skip,
                          char *why, size_t whylen);

/** Frees what an *_open made. */
void import_source_close(struct import_source *src);

#endif
