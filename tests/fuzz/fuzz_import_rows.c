/* Fuzzes the export readers of gatehouse import (import_rows.c and the
 * Auth.js / Supabase row converters of sources.c): the first byte picks
 * the source, the rest is a file, read once as the links file (accounts,
 * identities) and once as the users file; every row becomes the generic
 * object and goes through import_record_from_json. Properties: a refused
 * row says why; a converted row passes or fails the record checks without
 * crashing; the row numbers only grow. */
#include <string.h>

#include "fuzz.h"
#include "import/import_line.h"
#include "import/import_rows.h"
#include "import/sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool supabase = data[0] & 1;
    struct import_rows r;
    char why[IMPORT_REASON_MAX];
    json_t *links = json_object();
    FUZZ_CHECK(links != NULL);
    if (import_rows_from(&r, data + 1, size - 1, why, sizeof why) == GH_OK) {
        if (import_links_read(supabase, &r, links, why, sizeof why) != GH_OK)
            FUZZ_CHECK(why[0] != '\0');
    }
    import_rows_close(&r);
    if (import_rows_from(&r, data + 1, size - 1, why, sizeof why) == GH_OK) {
        json_t *row;
        size_t n = 0, last = 0;
        int got;
        while ((got = import_rows_next(&r, &row, &n, why, sizeof why)) != 0) {
            FUZZ_CHECK(n > last);
            last = n;
            if (got < 0) {
                FUZZ_CHECK(why[0] != '\0');
                continue;
            }
            bool skip = false;
            json_t *o = import_row_object(supabase, links, row, &skip, why, sizeof why);
            if (!o) {
                FUZZ_CHECK(why[0] != '\0');
            } else {
                struct import_record rec;
                if (import_record_from_json(o, &rec, why, sizeof why) == GH_OK)
                    import_record_clear(&rec);
                else
                    FUZZ_CHECK(why[0] != '\0');
                json_decref(o);
            }
            json_decref(row);
        }
    }
    import_rows_close(&r);
    json_decref(links);
    return 0;
}
