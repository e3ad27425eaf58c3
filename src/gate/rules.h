/* The gate's access rules (GATEHOUSE_ACCESS_RULES): loading and checking
 * the file, and matching a request against it. A pure module: it knows
 * nothing of HTTP, sessions or the store; the caller decides what a policy
 * means for the identity it holds. See
 * docs/decisions/0024-access-rules-format.md for the format.
 *
 * The file is a small, strict YAML subset (libyaml):
 *
 *   default: deny                # optional; deny when absent
 *   rules:                       # optional; first match wins
 *     - host: "*.example.com"    # optional: exact, or *.<domain>
 *       path: /admin/            # optional: a prefix (see below), or
 *       path_regex: "/api/v[0-9]+/"   # ... a POSIX extended regex
 *       methods: [GET, HEAD]     # optional: every method when absent
 *       policy: role:admin       # public | signed_in | mfa | role:<name> | deny
 *     - path: /billing
 *       policy: mfa
 *       max_age_minutes: 15      # mfa only: the factor used this recently
 *
 * Refused, with the file and line: unknown or duplicate keys, wrong types,
 * an unknown policy or role, a bad host, path or regex, a tab anywhere,
 * anchors, aliases, tags, and more than one document.
 *
 * Matching: a host is compared case-insensitively, without its port; a
 * wildcard "*.example.com" matches any name under example.com but not
 * example.com itself. A path prefix ending in '/' matches any path starting
 * with it; one without matches that path and everything under it as a
 * segment ("/admin" matches "/admin" and "/admin/x" but not
 * "/administrator"). A path_regex is anchored at the start of the path (it
 * is compiled as "^(<regex>)") and not at its end; write '$' to anchor it
 * there. Paths are compared as the caller passes them: the caller passes
 * the normalised path the upstream will see (no query, no percent-escapes
 * of unreserved characters, no dot segments); this module decodes nothing.
 * A host's one trailing dot is ignored ("a.example.com." is a.example.com).
 *
 * Thread rules: a loaded struct rules is immutable. Any number of threads
 * may call rules_match on it at once without locks of ours. A reload builds a new struct rules and
 * swaps the pointer; the old one is freed with rules_free only once no reader can hold it. */
#ifndef GH_GATE_RULES_H
#define GH_GATE_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define RULES_MAX 10000        /* rules in one file */
#define RULES_FILE_MAX 4194304 /* bytes of one file */
#define RULES_HOST_MAX 253
#define RULES_PATH_MAX 1024 /* a prefix or a regex */
#define RULES_ROLE_MAX 64
#define RULES_MFA_MAX_AGE_MAX 10080 /* minutes: one week */

enum rules_policy {
    RULES_DENY = 0, /* nobody passes */
    RULES_PUBLIC,   /* everyone passes, signed in or not */
    RULES_SIGNED_IN,
    RULES_MFA,  /* signed in with a second factor in this session */
    RULES_ROLE, /* signed in and holding rule->role */
};

/* Bits of rule->methods. */
enum rules_method {
    RULES_M_GET = 1u << 0,
    RULES_M_HEAD = 1u << 1,
    RULES_M_POST = 1u << 2,
    RULES_M_PUT = 1u << 3,
    RULES_M_PATCH = 1u << 4,
    RULES_M_DELETE = 1u << 5,
    RULES_M_OPTIONS = 1u << 6,
    RULES_M_CONNECT = 1u << 7,
    RULES_M_TRACE = 1u << 8,
};

/** One rule, owned by its struct rules. Read its fields; never write them. */
struct rule {
    unsigned line;                 /* its line in the file; 0 for a built-in default */
    enum rules_policy policy;      /* what a matching request needs */
    unsigned max_age_minutes;      /* RULES_MFA: the factor within this many minutes; 0: any time */
    char role[RULES_ROLE_MAX + 1]; /* RULES_ROLE: the role name; else "" */
    /* What it matches; every part given must match. */
    char *host;         /* lower case; NULL: any host. For a wildcard, the ".example.com" */
    size_t host_len;    /* strlen(host) */
    bool host_wildcard; /* host is a suffix that needs at least one label before it */
    char *path_prefix;  /* NULL: no prefix */
    size_t path_len;    /* strlen(path_prefix) */
    void *path_regex;   /* a compiled regex_t, or NULL */
    unsigned methods;   /* bits of enum rules_method; 0: every method */
};

/** A loaded rule set: the ordered rules and the default. Opaque. */
struct rules;

/** Reads and checks the rules file at path (at most RULES_FILE_MAX bytes).
 *  known_roles[0..nroles) are the role names a `role:` policy may name
 *  (today "user" and "admin", the values of users.role; the caller passes
 *  them, so roles added later need no change here). On success *out is a
 *  new rule set the caller frees with rules_free. On failure *out is NULL,
 *  nothing is kept, and err holds "<path>:<line>: <why>" (or "<path>: <why>"
 *  when no line applies): GH_ERR_CONFIG for a bad file or one that cannot
 *  be read, GH_ERR_NOMEM. */
enum gh_err rules_load(const char *path, const char *const *known_roles, size_t nroles,
                       struct rules **out, char *err, size_t errlen) GH_WUR;

/** rules_load from a buffer of len bytes (need not be NUL-terminated);
 *  name stands for the file in messages. */
enum gh_err rules_load_buffer(const char *buf, size_t len, const char *name,
                              const char *const *known_roles, size_t nroles, struct rules **out,
                              char *err, size_t errlen) GH_WUR;

/** The rule set used when no file is configured: no rules, and a default
 *  of signed_in ("every request needs signed_in"). GH_ERR_NOMEM. */
enum gh_err rules_default_signed_in(struct rules **out) GH_WUR;

/** The first rule that matches the request, else the default rule (never
 *  NULL). method: the request method (upper case, as sent); host: the Host
 *  value (a ":port" is ignored), may be NULL; path: the request path (up to
 *  path_len bytes; the caller strips the query). Allocates nothing; any
 *  thread. Prefix, host and method checks allocate nothing; a path_regex
 *  runs glibc's regexec, which allocates its match state and takes the
 *  regex's own lock (see the decision). */
const struct rule *rules_match(const struct rules *r, const char *method, const char *host,
                               const char *path, size_t path_len);

/** The number of rules (the default not counted). */
size_t rules_count(const struct rules *r);

/** The rule at index i (i < rules_count), or the default when i is
 *  rules_count. For `gatehouse rules test` and for logs. */
const struct rule *rules_at(const struct rules *r, size_t i);

/** Whether rule is the default (no rule matched). */
bool rules_is_default(const struct rules *r, const struct rule *rule);

/** The policy's name as written in the file ("signed_in", "role", ...). Never NULL. */
const char *rules_policy_name(enum rules_policy p);

/** Frees a rule set; NULL is allowed. */
void rules_free(struct rules *r);

#endif
