/* Fuzzes the strict JSON intake of request bodies: reqparse_json_body
 * (src/http/reqparse.c) against json_loadb with JSON_REJECT_DUPLICATES,
 * then, for an object, the
 * field walk of gh_body_fields (reimplemented here, since that function
 * needs a request) for the sign-up fields, then email_normalize on the
 * email as the handler does. Properties: every string jansson accepts
 * without NUL is valid UTF-8 by gh_utf8_valid; no key is reported twice;
 * the document survives a dump/load round trip. */
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "accounts/email.h"
#include "core/util.h"
#include "fuzz.h"
#include "http/reqparse.h"

struct field {
    const char *name;
    bool required;
    const char *val;
    size_t len;
};

/* Mirrors gh_body_fields: 0 on success, -1 with msg set otherwise. */
static int body_fields(json_t *body, struct field *f, size_t n, char *msg, size_t msglen)
{
    for (size_t i = 0; i < n; i++) {
        f[i].val = NULL;
        f[i].len = 0;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t i;
        for (i = 0; i < n && strcmp(key, f[i].name) != 0; i++) {
        }
        if (i == n) {
            bool safe = strlen(key) <= 40;
            for (const char *p = key; safe && *p; p++)
                safe = *p >= 0x20 && *p < 0x7f && *p != '"';
            snprintf(msg, msglen, "Unknown field%s%s%s.", safe ? " '" : "", safe ? key : "",
                     safe ? "'" : "");
            /* the echoed message must still be valid JSON text */
            json_t *m = json_string(msg);
            FUZZ_CHECK(m != NULL);
            json_decref(m);
            return -1;
        }
        FUZZ_CHECK(f[i].val == NULL); /* JSON_REJECT_DUPLICATES: never seen twice */
        if (!json_is_string(v)) return -1;
        size_t len = json_string_length(v);
        if (memchr(json_string_value(v), '\0', len)) return -1;
        FUZZ_CHECK(gh_utf8_valid(json_string_value(v), len));
        f[i].val = json_string_value(v);
        f[i].len = len;
    }
    for (size_t i = 0; i < n; i++)
        if (f[i].required && !f[i].val) return -1;
    return 0;
}

/* Every string in the document (keys too) without NUL is valid UTF-8. */
static void check_strings(json_t *j, int depth)
{
    if (depth > 64) return;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t l = json_string_length(j);
        if (!memchr(s, '\0', l)) FUZZ_CHECK(gh_utf8_valid(s, l));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            FUZZ_CHECK(gh_utf8_valid(k, strlen(k)));
            check_strings(v, depth + 1);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) check_strings(v, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0; /* over GATEHOUSE_MAX_BODY: refused unread */
    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    json_t *obj = NULL; /* what the server takes: one object or nothing */
    enum reqparse_body res = reqparse_json_body((const char *)data, size, &obj);
    FUZZ_CHECK(res == (!body                  ? REQPARSE_BODY_INVALID
                       : json_is_object(body) ? REQPARSE_BODY_OK
                                              : REQPARSE_BODY_NOT_OBJECT));
    FUZZ_CHECK(res == REQPARSE_BODY_OK ? obj && json_equal(obj, body) : obj == NULL);
    json_decref(obj);
    if (!body) return 0;
    check_strings(body, 0);

    char *dump = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (dump) {
        json_t *again = json_loads(dump, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        FUZZ_CHECK(again != NULL && json_equal(again, body));
        json_decref(again);
        free(dump);
    }

    if (json_is_object(body)) {
        struct field f[] = {{"email", true, NULL, 0}, {"password", true, NULL, 0}};
        char msg[160];
        if (body_fields(body, f, 2, msg, sizeof msg) == 0) {
            char email[STORE_EMAIL_MAX + 1], key[STORE_EMAIL_MAX + 1];
            if (email_normalize(f[0].val, f[0].len, email, key) == GH_OK)
                FUZZ_CHECK(strlen(key) <= STORE_EMAIL_MAX);
        }
    }
    json_decref(body);
    return 0;
}
