/* Fuzzes the form body parser of page routes (reqparse_form_body,
 * http/reqparse.c). Properties: an accepted body gives an object with one
 * string per '&'-separated piece (none for an empty body), every name
 * non-empty, names and values valid UTF-8 without NUL, and no longer than
 * their encoded form; a refused one gives NULL. */
#include <string.h>

#include "core/util.h"
#include "fuzz.h"
#include "http/reqparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    json_t *o = (json_t *)1;
    enum reqparse_body res = reqparse_form_body((const char *)data, size, &o);
    if (res != REQPARSE_BODY_OK) {
        FUZZ_CHECK(o == NULL);
        FUZZ_CHECK(res == REQPARSE_BODY_INVALID || res == REQPARSE_BODY_NOMEM);
        return 0;
    }
    FUZZ_CHECK(json_is_object(o));
    size_t pieces = size ? 1 : 0;
    for (size_t i = 0; i < size; i++)
        pieces += data[i] == '&';
    FUZZ_CHECK(json_object_size(o) == pieces);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t kl = strlen(k), vl = json_string_length(v);
        FUZZ_CHECK(kl > 0 && gh_utf8_valid(k, kl));
        FUZZ_CHECK(json_is_string(v));
        FUZZ_CHECK(!memchr(json_string_value(v), '\0', vl));
        FUZZ_CHECK(gh_utf8_valid(json_string_value(v), vl));
        FUZZ_CHECK(kl + vl < size + 1);
    }
    json_decref(o);
    return 0;
}
