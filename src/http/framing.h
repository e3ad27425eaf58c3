/* Request framing rules (RFC 9112 2.2, 5, 6) that libevent 2.1 does not
 * enforce. libevent accepts a bare LF as a line end, merges obsolete line
 * folding, keeps whitespace before the colon in a header name and reads
 * "Content-Length: +2" as 2; a proxy in front may read the same bytes
 * differently, which is how requests are smuggled. These checks run on
 * the raw header block as received (framing_scan_*, fed by http/conn.c
 * before libevent parses it) and on the parsed headers (framing_name_ok,
 * framing_length_ok, in case bytes reach libevent another way). Pure
 * functions: no allocation, no global state, any thread. */
#ifndef GH_HTTP_FRAMING_H
#define GH_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum framing_verdict {
    FRAMING_MORE,   /* the header block is not complete yet: feed more bytes */
    FRAMING_DONE,   /* the blank line ending the header block was read; all good */
    FRAMING_REJECT, /* a rule was broken: answer 400 bad_framing and close */
};

/** Incremental scanner over one request's raw header block (request line,
 *  header lines, blank line). Zero it with framing_scan_init(). */
struct framing_scan {
    uint8_t state;
    uint8_t cl_state; /* inside a Content-Length value: leading OWS, digits, trailing OWS */
    uint8_t cl_match; /* bytes of "content-length" the current name matched so far */
    uint8_t verdict;  /* FRAMING_DONE / FRAMING_REJECT once known; then sticky */
};

/** Starts (or restarts) a scan at the first byte of a request. */
void framing_scan_init(struct framing_scan *s);

/** Feeds the next n bytes of the stream (p may be NULL when n is 0). Returns
 *  FRAMING_MORE while the block is incomplete, or the verdict once known;
 *  *used (may be NULL) gets how many bytes of p belong to the header block
 *  (every byte up to the verdict). After a verdict further calls return it
 *  again and use nothing. The result does not depend on how the stream is
 *  split into calls. */
enum framing_verdict framing_scan_feed(struct framing_scan *s, const char *p, size_t n,
                                       size_t *used);

/** framing_scan_feed over a whole buffer from a fresh scan. */
enum framing_verdict framing_check(const char *p, size_t n, size_t *used);

/** True if name (NUL-terminated, as libevent parsed it) is a valid
 *  field-name: one or more token characters, nothing else (no whitespace). */
bool framing_name_ok(const char *name);

/** True if a Content-Length value (as parsed, OWS already trimmed) is plain
 *  decimal digits: no sign, no space, no comma list, not empty. */
bool framing_length_ok(const char *value);

/** Body framing over the parsed headers: zero it, add every header (name,
 *  value as libevent parsed them), then read the verdict. Points into the
 *  values, which must outlive it. */
struct framing_headers {
    int ncl, nte;
    const char *cl, *te;
    bool bad; /* a name or Content-Length value already broke a rule */
};
void framing_headers_add(struct framing_headers *h, const char *name, const char *value);

enum framing_body {
    FRAMING_BODY_OK,
    FRAMING_BODY_CLOSE, /* answer, then close: what follows may not be a request */
    FRAMING_BODY_BAD,   /* 400 bad_framing, and close */
};
/** The verdict. reads_body: libevent reads a body for this method (POST,
 *  PUT, PATCH); on the others a body's bytes would be read as the next
 *  request, so such a connection closes after the reply. */
enum framing_body framing_headers_verdict(const struct framing_headers *h, bool reads_body);

#endif
