#include "gate/rules.h"

#include "gate/forwarded.h"

#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gate/regex_check.h"

struct rules {
    struct rule *v;
    size_t n;
    struct rule dflt;
};

/* The loader's state: libyaml's parser, the current event, where errors go. */
struct parser {
    yaml_parser_t yp;
    yaml_event_t ev;
    bool have_ev;
    const char *name;
    const char *const *roles;
    size_t nroles;
    char *err;
    size_t errlen;
    enum gh_err rc; /* set by fail(): GH_ERR_CONFIG or GH_ERR_NOMEM */
};

static const struct {
    const char *name;
    unsigned bit;
} METHODS[] = {
    {"GET", RULES_M_GET},         {"HEAD", RULES_M_HEAD},       {"POST", RULES_M_POST},
    {"PUT", RULES_M_PUT},         {"PATCH", RULES_M_PATCH},     {"DELETE", RULES_M_DELETE},
    {"OPTIONS", RULES_M_OPTIONS}, {"CONNECT", RULES_M_CONNECT}, {"TRACE", RULES_M_TRACE},
};

static unsigned method_bit(const char *m)
{
    if (!m) return 0;
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strcmp(m, METHODS[i].name) == 0) return METHODS[i].bit;
    return 0;
}

const char *rules_policy_name(enum rules_policy p)
{
    switch (p) {
    case RULES_PUBLIC:
        return "public";
    case RULES_SIGNED_IN:
        return "signed_in";
    case RULES_MFA:
        return "mfa";
    case RULES_ROLE:
        return "role";
    case RULES_DENY:
        break;
    }
    return "deny";
}

/* Records "<name>:<line>: <why>" (line 0: "<name>: <why>"); returns false
 * so callers can write `return fail(...)`. */
__attribute__((format(printf, 3, 4))) static bool fail(struct parser *p, size_t line,
                                                       const char *fmt, ...)
{
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (line)
        snprintf(p->err, p->errlen, "%s:%zu: %s", p->name, line, why);
    else
        snprintf(p->err, p->errlen, "%s: %s", p->name, why);
    if (p->rc == GH_OK) p->rc = GH_ERR_CONFIG;
    return false;
}

static bool oom(struct parser *p)
{
    p->rc = GH_ERR_NOMEM;
    return fail(p, 0, "out of memory");
}

static size_t ev_line(const struct parser *p)
{
    return p->ev.start_mark.line + 1;
}

/* Reads the next event; refuses aliases, anchors and explicit tags (the
 * subset has no use for them, and aliases are how YAML files blow up). */
static bool next(struct parser *p)
{
    if (p->have_ev) yaml_event_delete(&p->ev);
    p->have_ev = false;
    if (!yaml_parser_parse(&p->yp, &p->ev)) {
        if (p->yp.error == YAML_MEMORY_ERROR) return oom(p);
        /* A scanner's context mark is where the token it could not finish
         * began (the line a person must fix); a parser's problem mark is
         * the token it did not expect. */
        size_t line = p->yp.error == YAML_SCANNER_ERROR && p->yp.context
                          ? p->yp.context_mark.line + 1
                          : p->yp.problem_mark.line + 1;
        return fail(p, line, "%s%s%s", p->yp.problem ? p->yp.problem : "not valid YAML",
                    p->yp.context ? " " : "", p->yp.context ? p->yp.context : "");
    }
    p->have_ev = true;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (p->ev.type) {
    case YAML_ALIAS_EVENT:
        return fail(p, ev_line(p), "aliases (*name) are not allowed");
    case YAML_SCALAR_EVENT:
        anchor = p->ev.data.scalar.anchor;
        tag = p->ev.data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = p->ev.data.sequence_start.anchor;
        tag = p->ev.data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = p->ev.data.mapping_start.anchor;
        tag = p->ev.data.mapping_start.tag;
        break;
    case YAML_DOCUMENT_START_EVENT:
        if (p->ev.data.document_start.version_directive ||
            p->ev.data.document_start.tag_directives.start !=
                p->ev.data.document_start.tag_directives.end)
            return fail(p, ev_line(p), "directives (%%YAML, %%TAG) are not allowed");
        break;
    default:
        break;
    }
    if (anchor) return fail(p, ev_line(p), "anchors (&name) are not allowed");
    if (tag) return fail(p, ev_line(p), "tags (!name) are not allowed");
    return true;
}

static const char *scalar(const struct parser *p)
{
    return (const char *)p->ev.data.scalar.value;
}

/* The current event must be a scalar: what names the value for messages. */
static bool want_scalar(struct parser *p, const char *what)
{
    if (p->ev.type == YAML_SCALAR_EVENT) {
        if (strlen(scalar(p)) != p->ev.data.scalar.length)
            return fail(p, ev_line(p), "%s holds a NUL byte", what);
        return true;
    }
    return fail(p, ev_line(p), "%s must be a single value, not a %s", what,
                p->ev.type == YAML_SEQUENCE_START_EVENT ? "list" : "mapping");
}

/* policy text into rule (policy, role). */
static bool parse_policy(struct parser *p, struct rule *rule, const char *s, size_t line)
{
    static const struct {
        const char *name;
        enum rules_policy policy;
    } P[] = {{"public", RULES_PUBLIC},
             {"signed_in", RULES_SIGNED_IN},
             {"mfa", RULES_MFA},
             {"deny", RULES_DENY}};
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++)
        if (strcmp(s, P[i].name) == 0) {
            rule->policy = P[i].policy;
            return true;
        }
    if (strncmp(s, "role:", 5) != 0)
        return fail(p, line,
                    "unknown policy \"%.64s\" (public, signed_in, mfa, role:<name> or deny)", s);
    const char *name = s + 5;
    for (size_t i = 0; i < p->nroles; i++)
        if (p->roles[i] && strcmp(name, p->roles[i]) == 0 && strlen(name) <= RULES_ROLE_MAX) {
            rule->policy = RULES_ROLE;
            memcpy(rule->role, name, strlen(name) + 1);
            return true;
        }
    return fail(p, line, "unknown role \"%.64s\"", name);
}

/* A host name (after any "*."): labels of [a-z0-9-], 1..63 each, no empty
 * label, no trailing dot. s is lower-cased in place. */
static bool host_ok(char *s)
{
    size_t label = 0;
    for (char *c = s; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        if (*c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return false;
        if (++label > 63) return false;
    }
    return label > 0;
}

static bool parse_host(struct parser *p, struct rule *rule, const char *s, size_t line)
{
    size_t len = strlen(s);
    if (len == 0) return fail(p, line, "host is empty (leave the key out to match any host)");
    if (len > RULES_HOST_MAX) return fail(p, line, "host is longer than %d", RULES_HOST_MAX);
    bool wild = strncmp(s, "*.", 2) == 0;
    char *h = strdup(wild ? s + 1 : s); /* a wildcard keeps its dot: ".example.com" */
    if (!h) return oom(p);
    rule->host = h;
    rule->host_len = strlen(h);
    rule->host_wildcard = wild;
    if (!host_ok(wild ? h + 1 : h))
        return fail(p, line,
                    "host \"%.64s\" is not a host name or *.<domain> (no port, scheme or path)", s);
    return true;
}

/* Printable ASCII without spaces, '?' or '#': a path as a proxy sends it. */
static bool path_chars_ok(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '?' || *c == '#') return false;
    return true;
}

static bool parse_prefix(struct parser *p, struct rule *rule, const char *s, size_t line)
{
    size_t len = strlen(s);
    if (len == 0 || s[0] != '/') return fail(p, line, "path must start with /");
    if (len > RULES_PATH_MAX) return fail(p, line, "path is longer than %d", RULES_PATH_MAX);
    if (!path_chars_ok(s))
        return fail(p, line, "path holds a space, control character, '?' or '#'");
    /* The gate compares the request's path in its one normal form
     * (gate/forwarded.h); a prefix in any other form would never match. */
    char norm[RULES_PATH_MAX + 1];
    size_t nlen = 0;
    if (!forwarded_path(s, len, norm, sizeof norm, &nlen))
        return fail(p, line,
                    "path holds what no request path the gate accepts can hold (\"//\", a "
                    "dot segment, a backslash, ';' or an escape of '/', '\\', '%%', ';' or a "
                    "control character)");
    if (nlen != len || memcmp(norm, s, len) != 0)
        return fail(p, line, "path must be written in the form the gate compares: %.200s", norm);
    rule->path_prefix = strdup(s);
    if (!rule->path_prefix) return oom(p);
    rule->path_len = len;
    return true;
}

static bool parse_regex(struct parser *p, struct rule *rule, const char *s, size_t line)
{
    size_t len = strlen(s);
    if (len == 0) return fail(p, line, "path_regex is empty");
    if (len > RULES_PATH_MAX) return fail(p, line, "path_regex is longer than %d", RULES_PATH_MAX);
    const char *why_shape = regex_check_shape(s);
    if (why_shape) return fail(p, line, "path_regex %s", why_shape);
    regex_t *re = malloc(sizeof *re);
    if (!re) return oom(p);
    int rc = regcomp(re, s, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char why[128];
        regerror(rc, re, why, sizeof why);
        free(re);
        return fail(p, line, "path_regex does not compile: %s", why);
    }
    regfree(re);
    char wrapped[RULES_PATH_MAX + 4];
    snprintf(wrapped, sizeof wrapped, "^(%s)", s);
    if (regcomp(re, wrapped, REG_EXTENDED | REG_NOSUB)) {
        free(re);
        return fail(p, line, "path_regex does not compile when anchored");
    }
    rule->path_regex = re;
    return true;
}

static bool parse_methods(struct parser *p, struct rule *rule)
{
    size_t line = ev_line(p);
    if (p->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(p, line, "methods must be a list, e.g. [GET, HEAD]");
    for (;;) {
        if (!next(p)) return false;
        if (p->ev.type == YAML_SEQUENCE_END_EVENT) break;
        if (!want_scalar(p, "a method")) return false;
        unsigned bit = method_bit(scalar(p));
        if (!bit)
            return fail(p, ev_line(p), "unknown method \"%.32s\" (upper case: GET, POST, ...)",
                        scalar(p));
        if (rule->methods & bit) return fail(p, ev_line(p), "method %s is listed twice", scalar(p));
        rule->methods |= bit;
    }
    if (!rule->methods)
        return fail(p, line, "methods is empty (leave the key out to match every method)");
    return true;
}

static bool parse_max_age(struct parser *p, struct rule *rule)
{
    if (!want_scalar(p, "max_age_minutes")) return false;
    const char *s = scalar(p);
    unsigned long v = 0;
    if (p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s || strlen(s) > 6)
        return fail(p, ev_line(p), "max_age_minutes must be a number of minutes");
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return fail(p, ev_line(p), "max_age_minutes must be a number of minutes");
        v = v * 10 + (unsigned long)(*c - '0');
    }
    if (v < 1 || v > RULES_MFA_MAX_AGE_MAX)
        return fail(p, ev_line(p), "max_age_minutes must be 1 to %d", RULES_MFA_MAX_AGE_MAX);
    rule->max_age_minutes = (unsigned)v;
    return true;
}

enum rule_key { K_HOST, K_PATH, K_REGEX, K_METHODS, K_POLICY, K_MAX_AGE, K_N };
static const char *const RULE_KEYS[K_N] = {"host",    "path",   "path_regex",
                                           "methods", "policy", "max_age_minutes"};

/* One rule's value; the current event is its first. */
static bool parse_rule_value(struct parser *p, struct rule *rule, enum rule_key k)
{
    if (k == K_METHODS) return parse_methods(p, rule);
    if (k == K_MAX_AGE) return parse_max_age(p, rule);
    if (!want_scalar(p, RULE_KEYS[k])) return false;
    size_t line = ev_line(p);
    switch (k) {
    case K_HOST:
        return parse_host(p, rule, scalar(p), line);
    case K_PATH:
        return parse_prefix(p, rule, scalar(p), line);
    case K_REGEX:
        return parse_regex(p, rule, scalar(p), line);
    case K_POLICY:
        return parse_policy(p, rule, scalar(p), line);
    default:
        return false;
    }
}

/* A rule mapping; the current event is its MAPPING_START. */
static bool parse_rule(struct parser *p, struct rule *rule)
{
    size_t start = ev_line(p), lines[K_N] = {0};
    rule->line = (unsigned)start;
    for (;;) {
        if (!next(p)) return false;
        if (p->ev.type == YAML_MAPPING_END_EVENT) break;
        if (p->ev.type != YAML_SCALAR_EVENT) return fail(p, ev_line(p), "a key must be a name");
        size_t line = ev_line(p);
        enum rule_key k = K_N;
        for (int i = 0; i < K_N; i++)
            if (strcmp(scalar(p), RULE_KEYS[i]) == 0) k = (enum rule_key)i;
        if (k == K_N)
            return fail(p, line,
                        "unknown key \"%.64s\" (host, path, path_regex, methods, policy, "
                        "max_age_minutes)",
                        scalar(p));
        if (lines[k])
            return fail(p, line, "%s is given twice (also line %zu)", RULE_KEYS[k], lines[k]);
        lines[k] = line;
        if (!next(p) || !parse_rule_value(p, rule, k)) return false;
    }
    if (!lines[K_POLICY]) return fail(p, start, "the rule has no policy");
    if (lines[K_PATH] && lines[K_REGEX])
        return fail(p, lines[K_REGEX], "a rule has path or path_regex, not both");
    if (lines[K_MAX_AGE] && rule->policy != RULES_MFA)
        return fail(p, lines[K_MAX_AGE], "max_age_minutes goes only with policy: mfa");
    return true;
}

static void rule_clear(struct rule *rule)
{
    free(rule->host);
    free(rule->path_prefix);
    if (rule->path_regex) {
        regfree(rule->path_regex);
        free(rule->path_regex);
    }
    memset(rule, 0, sizeof *rule);
}

/* The rules list; the current event is its first. */
static bool parse_list(struct parser *p, struct rules *r)
{
    if (p->ev.type != YAML_SEQUENCE_START_EVENT)
        return fail(p, ev_line(p), "rules must be a list of rules (- policy: ...)");
    size_t cap = 0;
    for (;;) {
        if (!next(p)) return false;
        if (p->ev.type == YAML_SEQUENCE_END_EVENT) return true;
        if (p->ev.type != YAML_MAPPING_START_EVENT)
            return fail(p, ev_line(p), "a rule must be a mapping (policy: ..., path: ...)");
        if (r->n == RULES_MAX) return fail(p, ev_line(p), "more than %d rules", RULES_MAX);
        if (r->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct rule *v = realloc(r->v, ncap * sizeof *v);
            if (!v) return oom(p);
            r->v = v;
            cap = ncap;
        }
        memset(&r->v[r->n], 0, sizeof r->v[0]);
        r->n++; /* counted now, so rules_free clears a half-parsed rule */
        if (!parse_rule(p, &r->v[r->n - 1])) return false;
    }
}

/* The top mapping; the current event is its MAPPING_START. */
static bool parse_top(struct parser *p, struct rules *r)
{
    size_t seen_default = 0, seen_rules = 0;
    for (;;) {
        if (!next(p)) return false;
        if (p->ev.type == YAML_MAPPING_END_EVENT) return true;
        if (p->ev.type != YAML_SCALAR_EVENT) return fail(p, ev_line(p), "a key must be a name");
        size_t line = ev_line(p);
        bool is_default = strcmp(scalar(p), "default") == 0;
        if (!is_default && strcmp(scalar(p), "rules") != 0)
            return fail(p, line, "unknown key \"%.64s\" (default, rules)", scalar(p));
        size_t *seen = is_default ? &seen_default : &seen_rules;
        if (*seen)
            return fail(p, line, "%s is given twice (also line %zu)",
                        is_default ? "default" : "rules", *seen);
        *seen = line;
        if (!next(p)) return false;
        if (is_default) {
            if (!want_scalar(p, "default")) return false;
            r->dflt.line = (unsigned)ev_line(p);
            if (!parse_policy(p, &r->dflt, scalar(p), ev_line(p))) return false;
        } else if (!parse_list(p, r)) {
            return false;
        }
    }
}

/* The whole stream: nothing, or one document holding the top mapping. */
static bool parse_stream(struct parser *p, struct rules *r)
{
    if (!next(p)) return false; /* STREAM_START */
    if (!next(p)) return false;
    if (p->ev.type == YAML_STREAM_END_EVENT) return true; /* empty: default deny */
    if (!next(p)) return false;                           /* after DOCUMENT_START */
    if (p->ev.type != YAML_MAPPING_START_EVENT)
        return fail(p, ev_line(p), "the file must be a mapping with default: and rules:");
    if (!parse_top(p, r) || !next(p)) return false; /* DOCUMENT_END */
    if (!next(p)) return false;
    if (p->ev.type != YAML_STREAM_END_EVENT)
        return fail(p, ev_line(p), "only one document is allowed (remove the ---)");
    return true;
}

enum gh_err rules_load_buffer(const char *buf, size_t len, const char *name,
                              const char *const *known_roles, size_t nroles, struct rules **out,
                              char *err, size_t errlen)
{
    *out = NULL;
    if (errlen) err[0] = '\0';
    struct parser p = {.name = name ? name : "(rules)",
                       .roles = known_roles,
                       .nroles = nroles,
                       .err = err,
                       .errlen = errlen};
    if (len > RULES_FILE_MAX) {
        fail(&p, 0, "larger than %d bytes", RULES_FILE_MAX);
        return p.rc;
    }
    /* Tabs: YAML forbids them in indentation and libyaml's message for that
     * is obscure; the subset refuses them anywhere, naming the line. */
    size_t line = 1;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') line++;
        if (buf[i] == '\t') {
            fail(&p, line, "a tab character (indent with spaces; tabs are not allowed anywhere)");
            return p.rc;
        }
    }
    struct rules *r = calloc(1, sizeof *r);
    if (!r) {
        oom(&p);
        return p.rc;
    }
    r->dflt.policy = RULES_DENY;
    if (!yaml_parser_initialize(&p.yp)) {
        free(r);
        oom(&p);
        return p.rc;
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)buf, len);
    bool ok = parse_stream(&p, r);
    if (p.have_ev) yaml_event_delete(&p.ev);
    yaml_parser_delete(&p.yp);
    if (!ok) {
        rules_free(r);
        return p.rc ? p.rc : GH_ERR_CONFIG;
    }
    *out = r;
    return GH_OK;
}

enum gh_err rules_load(const char *path, const char *const *known_roles, size_t nroles,
                       struct rules **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %m", path);
        return GH_ERR_CONFIG;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    enum gh_err rc = GH_OK;
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap || cap > RULES_FILE_MAX) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = GH_ERR_NOMEM;
    } else if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read", path);
        rc = GH_ERR_CONFIG;
    }
    fclose(f);
    if (!rc) rc = rules_load_buffer(buf, len, path, known_roles, nroles, out, err, errlen);
    free(buf);
    return rc;
}

enum gh_err rules_default_signed_in(struct rules **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return GH_ERR_NOMEM;
    (*out)->dflt.policy = RULES_SIGNED_IN;
    return GH_OK;
}

void rules_free(struct rules *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++)
        rule_clear(&r->v[i]);
    free(r->v);
    free(r);
}

size_t rules_count(const struct rules *r)
{
    return r->n;
}

const struct rule *rules_at(const struct rules *r, size_t i)
{
    return i < r->n ? &r->v[i] : &r->dflt;
}

bool rules_is_default(const struct rules *r, const struct rule *rule)
{
    return rule == &r->dflt;
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Whether a[0..n) equals the lower-case b[0..n), ignoring a's case. */
static bool ci_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != (unsigned char)b[i]) return false;
    return true;
}

static bool host_matches(const struct rule *rule, const char *host, size_t hlen)
{
    if (!rule->host) return true;
    if (!host) return false;
    if (rule->host_wildcard)
        return hlen > rule->host_len &&
               ci_eq(host + hlen - rule->host_len, rule->host, rule->host_len);
    return hlen == rule->host_len && ci_eq(host, rule->host, hlen);
}

static bool path_matches(const struct rule *rule, const char *path, size_t plen)
{
    if (rule->path_prefix) {
        size_t n = rule->path_len;
        if (plen < n || memcmp(path, rule->path_prefix, n) != 0) return false;
        return rule->path_prefix[n - 1] == '/' || plen == n || path[n] == '/';
    }
    if (rule->path_regex) {
        /* REG_STARTEND: the path need not be NUL-terminated (glibc). */
        regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)plen};
        return regexec(rule->path_regex, path, 1, &m, REG_STARTEND) == 0;
    }
    return true;
}

/* The host's length without its port and one trailing dot. */
static size_t host_len(const char *host)
{
    if (!host) return 0;
    size_t n;
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        n = e ? (size_t)(e - host) + 1 : strlen(host);
    } else {
        const char *e = strchr(host, ':');
        n = e ? (size_t)(e - host) : strlen(host);
    }
    if (n > 1 && host[n - 1] == '.') n--;
    return n;
}

const struct rule *rules_match(const struct rules *r, const char *method, const char *host,
                               const char *path, size_t path_len)
{
    unsigned bit = method_bit(method);
    size_t hlen = host_len(host);
    if (!path) path_len = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *rule = &r->v[i];
        if (rule->methods && !(rule->methods & bit)) continue;
        if (!host_matches(rule, host, hlen)) continue;
        if (!path_matches(rule, path ? path : "", path_len)) continue;
        return rule;
    }
    return &r->dflt;
}
