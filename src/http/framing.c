#include "http/framing.h"

#include <string.h>
#include <strings.h>

enum {
    S_RL_START,    /* before the request line (empty lines allowed, RFC 9112 2.2) */
    S_RL_START_CR, /* an empty line's CR */
    S_RL,          /* in the request line */
    S_RL_CR,
    S_HDR_START, /* at the start of a header line, or the blank line */
    S_NAME,
    S_VALUE,
    S_VALUE_CR,
    S_END_CR, /* the blank line's CR */
};

enum { CL_NONE, CL_LEAD, CL_DIGITS, CL_TRAIL };

#define CL_NAME "content-length"
#define CL_NAME_LEN 14
#define CL_MISMATCH 0xff

/* Byte classes: C_TOKEN is RFC 9110 tchar; C_TEXT what a request line or
 * a field value may hold besides its delimiters (VCHAR, SP, obs-text; HTAB
 * is added for values in the loop). A table: the scanner runs over every
 * header byte of every request. */
enum { C_TOKEN = 1, C_TEXT = 2 };
static const uint8_t cls[256] = {
    [' '] = C_TEXT,
    ['!'] = C_TOKEN | C_TEXT,
    ['"'] = C_TEXT,
    ['#' ... '\''] = C_TOKEN | C_TEXT,
    ['(' ... ')'] = C_TEXT,
    ['*' ... '+'] = C_TOKEN | C_TEXT,
    [','] = C_TEXT,
    ['-' ... '.'] = C_TOKEN | C_TEXT,
    ['/'] = C_TEXT,
    ['0' ... '9'] = C_TOKEN | C_TEXT,
    [':' ... '@'] = C_TEXT,
    ['A' ... 'Z'] = C_TOKEN | C_TEXT,
    ['[' ... ']'] = C_TEXT,
    ['^' ... '`'] = C_TOKEN | C_TEXT,
    ['a' ... 'z'] = C_TOKEN | C_TEXT,
    ['{'] = C_TEXT,
    ['|'] = C_TOKEN | C_TEXT,
    ['}'] = C_TEXT,
    ['~'] = C_TOKEN | C_TEXT,
    [0x80 ... 0xff] = C_TEXT,
};

/* True if none of the 8 bytes at p is a control character (< 0x20) or
 * DEL: the common case, checked a word at a time (exact for "any byte
 * below 0x20" and "any byte equal to 0x7f"; bytes >= 0x80 pass). */
static bool word_is_text(const unsigned char *p)
{
    uint64_t x, y;
    memcpy(&x, p, 8);
    y = x ^ 0x7f7f7f7f7f7f7f7full;
    uint64_t ctl = (x - 0x2020202020202020ull) & ~x & 0x8080808080808080ull;
    uint64_t del = (y - 0x0101010101010101ull) & ~y & 0x8080808080808080ull;
    return (ctl | del) == 0;
}

/* The end of the run of line text from u[i] (HTAB too when tab). */
static size_t skip_text(const unsigned char *u, size_t i, size_t n, bool tab)
{
    while (i < n) {
        if (i + 8 <= n && word_is_text(u + i)) {
            i += 8;
            continue;
        }
        if (!(cls[u[i]] & C_TEXT) && !(tab && u[i] == '\t')) break;
        i++;
    }
    return i;
}

static bool is_tchar(unsigned char c)
{
    return cls[c] & C_TOKEN;
}

/* Control characters other than HTAB (and DEL): never valid in a line. */
static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

void framing_scan_init(struct framing_scan *s)
{
    memset(s, 0, sizeof *s);
    s->state = S_RL_START;
    s->verdict = FRAMING_MORE;
}

/* One byte; returns FRAMING_MORE to go on, or the verdict. */
static enum framing_verdict step(struct framing_scan *s, unsigned char c)
{
    switch (s->state) {
    case S_RL_START:
        if (c == '\r') {
            s->state = S_RL_START_CR;
            return FRAMING_MORE;
        }
        if (c == ' ' || is_ctl(c)) return FRAMING_REJECT;
        s->state = S_RL;
        return FRAMING_MORE;
    case S_RL_START_CR:
        if (c != '\n') return FRAMING_REJECT;
        s->state = S_RL_START;
        return FRAMING_MORE;
    case S_RL:
        if (c == '\r') {
            s->state = S_RL_CR;
            return FRAMING_MORE;
        }
        return c == '\t' || is_ctl(c) ? FRAMING_REJECT : FRAMING_MORE; /* bare LF, NUL, ... */
    case S_RL_CR:
    case S_VALUE_CR:
        if (c != '\n') return FRAMING_REJECT;
        s->state = S_HDR_START;
        return FRAMING_MORE;
    case S_HDR_START:
        if (c == '\r') {
            s->state = S_END_CR;
            return FRAMING_MORE;
        }
        /* SP/HT here is obsolete line folding; ':' an empty name; LF a bare LF. */
        if (!is_tchar(c)) return FRAMING_REJECT;
        s->state = S_NAME;
        s->cl_match = (c | 0x20) == CL_NAME[0] ? 1 : CL_MISMATCH;
        return FRAMING_MORE;
    case S_NAME:
        if (c == ':') {
            s->state = S_VALUE;
            s->cl_state = s->cl_match == CL_NAME_LEN ? CL_LEAD : CL_NONE;
            return FRAMING_MORE;
        }
        if (!is_tchar(c)) return FRAMING_REJECT; /* whitespace before the colon, ... */
        if (s->cl_match < CL_NAME_LEN && (c | 0x20) == CL_NAME[s->cl_match])
            s->cl_match++;
        else
            s->cl_match = CL_MISMATCH;
        return FRAMING_MORE;
    case S_VALUE:
        if (c == '\r') {
            if (s->cl_state == CL_LEAD) return FRAMING_REJECT; /* empty Content-Length */
            s->state = S_VALUE_CR;
            return FRAMING_MORE;
        }
        if (is_ctl(c)) return FRAMING_REJECT; /* bare LF, NUL, ... */
        switch (s->cl_state) {
        case CL_LEAD:
            if (c == ' ' || c == '\t') break;
            if (c < '0' || c > '9') return FRAMING_REJECT;
            s->cl_state = CL_DIGITS;
            break;
        case CL_DIGITS:
            if (c >= '0' && c <= '9') break;
            if (c != ' ' && c != '\t') return FRAMING_REJECT;
            s->cl_state = CL_TRAIL;
            break;
        case CL_TRAIL:
            if (c != ' ' && c != '\t') return FRAMING_REJECT;
            break;
        default:
            break;
        }
        return FRAMING_MORE;
    case S_END_CR:
        return c == '\n' ? FRAMING_DONE : FRAMING_REJECT;
    default:
        return FRAMING_REJECT;
    }
}

enum framing_verdict framing_scan_feed(struct framing_scan *s, const char *p, size_t n,
                                       size_t *used)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (s->verdict == FRAMING_MORE && i < n) {
        /* Fast path over the bulk of a line; step() takes the delimiters. */
        if (s->state == S_RL)
            i = skip_text(u, i, n, false);
        else if (s->state == S_VALUE && s->cl_state == CL_NONE)
            i = skip_text(u, i, n, true);
        if (i == n) break;
        enum framing_verdict v = step(s, u[i++]);
        if (v != FRAMING_MORE) s->verdict = (uint8_t)v;
    }
    if (used) *used = i;
    return (enum framing_verdict)s->verdict;
}

enum framing_verdict framing_check(const char *p, size_t n, size_t *used)
{
    struct framing_scan s;
    framing_scan_init(&s);
    return framing_scan_feed(&s, p, n, used);
}

bool framing_name_ok(const char *name)
{
    if (!*name) return false;
    for (; *name; name++)
        if (!is_tchar((unsigned char)*name)) return false;
    return true;
}

bool framing_length_ok(const char *value)
{
    if (!*value) return false;
    for (; *value; value++)
        if (*value < '0' || *value > '9') return false;
    return true;
}

/* Message framing that libevent 2.1 accepts but a proxy may read
 * differently (RFC 9112 6.1, 6.3), which is how requests get smuggled:
 * refused, and the connection closed. */
void framing_headers_add(struct framing_headers *h, const char *name, const char *value)
{
    if (!framing_name_ok(name)) { /* "Transfer-Encoding ", "" */
        h->bad = true;
    } else if (strcasecmp(name, "Content-Length") == 0) {
        if (!framing_length_ok(value)) h->bad = true; /* "+2", "1, 1" */
        h->ncl++;
        h->cl = value;
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        h->nte++;
        h->te = value;
    }
}

enum framing_body framing_headers_verdict(const struct framing_headers *h, bool reads_body)
{
    const char *cl = h->cl, *te = h->te;
    if (h->bad || h->ncl > 1 || h->nte > 1 || (cl && te) || (te && strcasecmp(te, "chunked") != 0))
        return FRAMING_BODY_BAD;
    if (!reads_body && (te || (cl && strcmp(cl, "0") != 0))) return FRAMING_BODY_CLOSE;
    /* libevent's chunk parser is lenient (bare-LF size lines, "0x2", no
     * CRLF check after the data): where it thinks a chunked body ends may
     * not be where a proxy did, so nothing after one is read as a request
     * (decision 0017). */
    if (te) return FRAMING_BODY_CLOSE;
    return FRAMING_BODY_OK;
}
