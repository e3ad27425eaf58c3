/* The request parsers of the HTTP layer, as pure functions over header
 * values and body bytes (no request, no allocation except the JSON document
 * the body parsers return, no global state; any thread): the bearer token of
 * an Authorization header, the session cookie as the server reads it from
 * every Cookie header, the Content-Type check, the strict JSON body and the strict form body.
 * (Body framing over the parsed headers is in http/framing.h.) Each has a
 * fuzz target under tests/fuzz. */
#ifndef GH_HTTP_REQPARSE_H
#define GH_HTTP_REQPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/** The token of an Authorization header value: "Bearer" (any case), one
 *  space, spaces, then 1 to max characters of [A-Za-z0-9._-] and trailing
 *  spaces. true with *tok / *len pointing into value; false (outputs
 *  untouched) for anything else. value may be NULL. */
bool reqparse_bearer(const char *value, size_t max, const char **tok, size_t *len);

/** The session cookie over every Cookie header of a request: zero it, add
 *  each header's value in order, then read the result. Points into the
 *  header values, which must outlive it. */
struct reqparse_cookies {
    int found; /* occurrences of the name so far */
    const char *val;
    size_t len;
};
void reqparse_cookies_add(struct reqparse_cookies *s, const char *header, const char *name);
/** 1 with *tok / *len set (exactly want_len characters of [A-Za-z0-9_-]);
 *  0 if the cookie is absent, 2 if sent more than once, -1 if it is not
 *  shaped like a token. */
int reqparse_cookies_result(const struct reqparse_cookies *s, size_t want_len, const char **tok,
                            size_t *len);

/** True if a Content-Type value is type (any case), optionally followed by
 *  spaces and parameters after ';'; leading spaces allowed. ct may be NULL
 *  (false). */
bool reqparse_content_type_is(const char *ct, const char *type);

/** Why a body was refused. */
enum reqparse_body {
    REQPARSE_BODY_OK,
    REQPARSE_BODY_INVALID,    /* not JSON / not a form (or not UTF-8, a repeated key, ...) */
    REQPARSE_BODY_NOT_OBJECT, /* JSON, but not one object */
    REQPARSE_BODY_NOMEM,      /* out of memory */
};
/** Parses len bytes of data (NULL only when len is 0) as one JSON object,
 *  refusing duplicate keys. OK: *out is the object (the caller decrefs);
 *  otherwise *out is NULL. */
enum reqparse_body reqparse_json_body(const char *data, size_t len, json_t **out);

/** Parses len bytes of data (NULL only when len is 0) as an
 *  application/x-www-form-urlencoded body into an object of strings, so
 *  that gh_body_fields reads a form as it reads JSON: name=value pairs
 *  joined by '&', '+' a space, %XX a byte; refused (INVALID) for a piece
 *  without '=', an empty name, a repeated name, a trailing '&', a broken
 *  escape, a NUL or bytes that are not UTF-8. OK: *out is the object (the
 *  caller decrefs); otherwise *out is NULL. The decoding buffer is wiped. */
enum reqparse_body reqparse_form_body(const char *data, size_t len, json_t **out);

#endif
