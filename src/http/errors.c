/* The error table's rows (the JSON error replies built from them are in
 * reply.c, so the table depends on nothing of the server). */
#include "http/errors.h"

#include <string.h>

static const struct gh_error_row rows[GH_E_COUNT] = {
#define GH_ERROR_ROW(name, code, status, message) [GH_E_##name] = {code, status, message},
    GH_ERRORS(GH_ERROR_ROW)
#undef GH_ERROR_ROW
};

const struct gh_error_row *gh_error_row(enum gh_error e)
{
    if ((unsigned)e >= GH_E_COUNT) e = GH_E_INTERNAL_ERROR;
    return &rows[e];
}

const struct gh_error_row *gh_error_by_code(const char *code)
{
    for (size_t i = 0; i < GH_E_COUNT; i++)
        if (strcmp(rows[i].code, code) == 0) return &rows[i];
    return NULL;
}
