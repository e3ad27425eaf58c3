#include "import/import_line.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accounts/email.h"
#include "core/util.h"

static enum gh_err refuse(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return GH_ERR_INVALID;
}

void import_record_clear(struct import_record *r)
{
    if (!r) return;
    gh_json_wipe(r->hash_format); /* Firebase's parameters include its signer key */
    json_decref(r->hash_format);
    gh_wipe(r, sizeof *r);
}

bool import_provider_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_PROVIDER_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

/* Digits at s[0..n) into *v; false unless all are digits. */
static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* "Z", "+hh:mm", "+hhmm" or "+hh" at s (whole rest of the string): seconds
 * east of UTC into *off. */
static bool parse_offset(const char *s, int64_t *off)
{
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *off = 0;
        return true;
    }
    if (s[0] != '+' && s[0] != '-') return false;
    int h = 0, m = 0;
    size_t n = strlen(s + 1);
    if (!digits(s + 1, 2, &h)) return false;
    if (n == 5 && s[3] == ':') {
        if (!digits(s + 4, 2, &m)) return false;
    } else if (n == 4) {
        if (!digits(s + 3, 2, &m)) return false;
    } else if (n != 2) {
        return false;
    }
    if (h > 23 || m > 59) return false;
    *off = (s[0] == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
    return true;
}

enum gh_err import_parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    size_t n = strlen(s);
    if (n < 20 || n > 64) return GH_ERR_INVALID;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return GH_ERR_INVALID;
    const char *p = s + 19;
    if (*p == '.') { /* a fraction: 1..9 digits, dropped */
        size_t f = strspn(p + 1, "0123456789");
        if (f < 1 || f > 9) return GH_ERR_INVALID;
        p += 1 + f;
    }
    int64_t off = 0;
    if (!parse_offset(p, &off)) return GH_ERR_INVALID;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return GH_ERR_INVALID;
    int64_t t;
    if (!gh_utc_time(y, mo, d, h, mi, se, &t)) return GH_ERR_INVALID;
    int64_t v = t - off;
    if (v < 0 || v > IMPORT_TIME_MAX) return GH_ERR_INVALID;
    *out = v;
    return GH_OK;
}

enum gh_err import_base32_secret(const char *s, uint8_t out[TOTP_SECRET_BYTES])
{
    uint8_t buf[TOTP_SECRET_BYTES + 8];
    size_t n = 0, chars = 0;
    uint32_t acc = 0;
    int bits = 0;
    bool pad = false;
    enum gh_err rc = GH_OK;
    memset(out, 0, TOTP_SECRET_BYTES);
    for (const char *p = s; *p && rc == GH_OK; p++) {
        char c = *p;
        int v;
        if (c == ' ') continue;
        if (c == '=') {
            pad = true;
            continue;
        }
        if (pad)
            rc = GH_ERR_INVALID; /* data after padding */
        else if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            rc = GH_ERR_INVALID;
        if (rc) break;
        if (++chars > 32) { /* more than 160 bits */
            rc = GH_ERR_INVALID;
            break;
        }
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (rc == GH_OK && (n < 10 || n > TOTP_SECRET_BYTES)) rc = GH_ERR_INVALID;
    if (rc == GH_OK) memcpy(out, buf, n);
    gh_wipe(buf, sizeof buf);
    acc = 0;
    return rc;
}

/* Printable text: UTF-8 (jansson checked it) without C0 controls or DEL. */
static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

static enum gh_err take_identities(const json_t *v, struct import_record *r, char *why,
                                   size_t whylen)
{
    if (!json_is_array(v)) return refuse(why, whylen, "identities: must be a list");
    if (json_array_size(v) > IMPORT_IDENTITIES_MAX)
        return refuse(why, whylen, "identities: more than 8");
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        const json_t *p = json_object_get(it, "provider"), *s = json_object_get(it, "subject");
        if (!json_is_object(it) || json_object_size(it) != 2 || !json_is_string(p) ||
            !json_is_string(s))
            return refuse(why, whylen,
                          "identities: each must be {\"provider\": ..., \"subject\": ...} "
                          "with two strings");
        if (!import_provider_ok(json_string_value(p)))
            return refuse(why, whylen, "identities: a provider is 1-32 of a-z, 0-9 and _");
        size_t sl = json_string_length(s);
        if (sl == 0 || sl > STORE_SUBJECT_MAX || strlen(json_string_value(s)) != sl ||
            !printable(json_string_value(s)))
            return refuse(why, whylen, "identities: a subject is 1-255 bytes of text");
        struct import_identity *d = &r->identities[r->n_identities];
        snprintf(d->provider, sizeof d->provider, "%s", json_string_value(p));
        snprintf(d->subject, sizeof d->subject, "%s", json_string_value(s));
        for (size_t k = 0; k < r->n_identities; k++)
            if (!strcmp(r->identities[k].provider, d->provider) &&
                !strcmp(r->identities[k].subject, d->subject))
                return refuse(why, whylen, "identities: the same identity twice");
        r->n_identities++;
    }
    return GH_OK;
}

static enum gh_err take_hash(const json_t *v, struct import_record *r, char *why, size_t whylen)
{
    if (!json_is_string(v)) return refuse(why, whylen, "password_hash: must be a string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n > LEGACY_HASH_MAX) return refuse(why, whylen, "password_hash: longer than 1024 bytes");
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return refuse(why, whylen, "password_hash: only printable ASCII without spaces");
    memcpy(r->password_hash, s, n);
    r->password_hash[n] = '\0';
    return GH_OK;
}

static enum gh_err take_string_field(const char *k, const json_t *v, struct import_record *r,
                                     char *why, size_t whylen)
{
    if (!json_is_string(v)) {
        char m[IMPORT_REASON_MAX];
        snprintf(m, sizeof m, "%s: must be a string", k);
        return refuse(why, whylen, m);
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!strcmp(k, "email")) {
        if (strlen(s) != n || email_normalize(s, n, r->email, r->email_key) != GH_OK)
            return refuse(why, whylen, "email: not a valid address");
    } else if (!strcmp(k, "name")) {
        if (n > IMPORT_NAME_MAX || strlen(s) != n || !printable(s))
            return refuse(why, whylen,
                          "name: at most 200 bytes of text without control characters");
        memcpy(r->name, s, n + 1);
    } else if (!strcmp(k, "created_at")) {
        if (import_parse_time(s, &r->created_at) != GH_OK)
            return refuse(why, whylen, "created_at: not an RFC 3339 time (2024-05-01T10:00:00Z)");
    } else if (!strcmp(k, "totp_secret")) {
        if (import_base32_secret(s, r->totp) != GH_OK)
            return refuse(why, whylen, "totp_secret: not a base32 secret of 80 to 160 bits");
        r->has_totp = true;
    } else if (!strcmp(k, "role")) {
        if (strcmp(s, "user") != 0 && strcmp(s, "admin") != 0)
            return refuse(why, whylen, "role: must be \"user\" or \"admin\"");
        snprintf(r->role, sizeof r->role, "%s", s);
    }
    return GH_OK;
}

/* An unknown field's name for the report: printable ASCII only, shortened. */
static enum gh_err unknown_field(const char *k, char *why, size_t whylen)
{
    char safe[41];
    size_t n = 0;
    for (const char *p = k; *p && n < sizeof safe - 1; p++)
        safe[n++] = (*p > 0x20 && *p < 0x7f && *p != '"' && *p != '\\') ? *p : '?';
    safe[n] = '\0';
    char m[IMPORT_REASON_MAX];
    snprintf(m, sizeof m, "unknown field \"%s\"", safe);
    return refuse(why, whylen, m);
}

static enum gh_err take_field(const char *k, const json_t *v, struct import_record *r, char *why,
                              size_t whylen)
{
    static const char *const strings[] = {"email", "name", "created_at", "totp_secret", "role"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (!strcmp(k, strings[i])) return take_string_field(k, v, r, why, whylen);
    if (!strcmp(k, "email_verified")) {
        if (!json_is_boolean(v))
            return refuse(why, whylen, "email_verified: must be true or false");
        r->email_verified = json_is_true(v);
        return GH_OK;
    }
    if (!strcmp(k, "password_hash")) return take_hash(v, r, why, whylen);
    if (!strcmp(k, "password_hash_format")) {
        if (!json_is_string(v) && !json_is_object(v))
            return refuse(why, whylen, "password_hash_format: must be a string or an object");
        /* a copy: the caller wipes the parsed line */
        if (!(r->hash_format = json_deep_copy(v))) return refuse(why, whylen, "out of memory");
        return GH_OK;
    }
    if (!strcmp(k, "identities")) return take_identities(v, r, why, whylen);
    return unknown_field(k, why, whylen);
}

enum gh_err import_record_from_json(const json_t *obj, struct import_record *out, char *why,
                                    size_t whylen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->role, sizeof out->role, "user");
    if (!json_is_object(obj)) return refuse(why, whylen, "not a JSON object");
    const char *k;
    json_t *v;
    enum gh_err rc = GH_OK;
    json_object_foreach((json_t *)obj, k, v)
    {
        /* null: as if absent (an export's empty column), except the address */
        if (json_is_null(v) && strcmp(k, "email") != 0) {
            static const char *const known[] = {"name",
                                                "email_verified",
                                                "created_at",
                                                "password_hash",
                                                "password_hash_format",
                                                "identities",
                                                "totp_secret",
                                                "role"};
            bool ok = false;
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                ok = ok || !strcmp(k, known[i]);
            if (!ok) rc = unknown_field(k, why, whylen);
        } else {
            rc = take_field(k, v, out, why, whylen);
        }
        if (rc) break;
    }
    if (rc == GH_OK && !out->email[0]) rc = refuse(why, whylen, "email: missing");
    if (rc == GH_OK && out->hash_format && !out->password_hash[0])
        rc = refuse(why, whylen, "password_hash_format without a password_hash");
    if (rc) import_record_clear(out);
    return rc;
}

enum gh_err import_line_parse(const char *line, size_t len, struct import_record *out, char *why,
                              size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (len > IMPORT_LINE_MAX) return refuse(why, whylen, "the line is longer than 64 KiB");
    if (!gh_utf8_valid(line, len)) return refuse(why, whylen, "not valid UTF-8");
    json_error_t jerr;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        /* jerr.text may quote the line (a hash): only the position. */
        char m[IMPORT_REASON_MAX];
        snprintf(m, sizeof m, "not valid JSON (at column %d%s)", jerr.column,
                 strstr(jerr.text, "duplicate") ? ": a field appears twice" : "");
        return refuse(why, whylen, m);
    }
    enum gh_err rc = import_record_from_json(j, out, why, whylen);
    gh_json_wipe(j);
    json_decref(j);
    return rc;
}
