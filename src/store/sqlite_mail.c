/* SQLite backend: the outgoing mail queue. */
#include "store/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

enum gh_err sq_mail_insert(struct store_conn *c, const char *id, const char *to, const char *sealed,
                           int64_t now)
{
    return SQ_RUN(c, S_MAIL_INSERT, "mail insert", SQ_TEXT(id), SQ_TEXT(to), SQ_TEXT(sealed),
                  SQ_INT(now));
}

enum gh_err sq_mail_due(struct store_conn *c, int64_t now, struct store_mail *out, size_t max,
                        size_t *n)
{
    sqlite3_stmt *s = SQ_QUERY(c, S_MAIL_DUE, SQ_INT(now), SQ_INT((sqlite3_int64)max));
    if (!s) return GH_ERR_INTERNAL;
    size_t i = 0;
    int r = SQLITE_DONE;
    enum gh_err rc = GH_OK;
    while (i < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&out[i], 0, sizeof out[i]);
        col_text(s, 0, out[i].id, sizeof out[i].id);
        col_text(s, 1, out[i].to_addr, sizeof out[i].to_addr);
        out[i].message_sealed = strdup(ctext(s, 2));
        out[i].attempts = sqlite3_column_int(s, 3);
        if (!out[i].message_sealed) {
            rc = GH_ERR_NOMEM;
            break;
        }
        i++;
    }
    done(s);
    if (rc == GH_OK && r != SQLITE_DONE && r != SQLITE_ROW) rc = sq_fail(c, "mail due");
    if (rc) {
        for (size_t j = 0; j < i; j++)
            free(out[j].message_sealed);
        return rc;
    }
    *n = i;
    return GH_OK;
}

enum gh_err sq_mail_result(struct store_conn *c, const char *id, bool sent, const char *error,
                           int64_t next_attempt_at)
{
    sqlite3_stmt *s = sq_stmt(c, sent ? S_MAIL_SENT : S_MAIL_FAILED);
    if (!s) return GH_ERR_INTERNAL;
    bind_text(s, 1, id);
    if (sent) {
        sqlite3_bind_int64(s, 2, gh_now_s());
    } else {
        bind_text(s, 2, error ? error : "");
        sqlite3_bind_int64(s, 3, next_attempt_at);
    }
    return sq_exec(c, s, "mail result");
}
