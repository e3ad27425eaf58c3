/* The gate's decision (GET /v1/verify): the loaded rule set, swapped
 * whole on reload, and one function that turns the original request and
 * the identity (or none) into the answer the proxy reads. Knows nothing
 * of HTTP libraries: gate_http.c writes the answer into the reply.
 * See docs/decisions/0027-verify-forward-auth.md and docs/api.md, "The
 * gate".
 *
 * Ownership and threads: the current rule set is owned here. A reader
 * brackets its use with gate_enter / gate_leave (no nesting; any thread;
 * it never blocks), and may use the set and every rule in it only in
 * between. gate_reload and gate_install publish a new set with one atomic
 * exchange and free the old one once every reader that could hold it has
 * left. gate_decide copies what it answers (no pointer into the set). */
#ifndef GH_GATE_GATE_H
#define GH_GATE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "gate/forwarded.h"
#include "gate/rules.h"
#include "sessions/authcache.h"

/** A Location header value the gate writes: at most this long (a longer
 *  one is sent without its rd parameter). */
#define GATE_LOCATION_MAX 1024

/** What a request to the gate brought, read on the loop (http/). Owned by
 *  the request (heap), freed with it. */
struct gate_request {
    struct fwd_request req;
    bool api_client; /* Accept without text/html, or X-Requested-With */
};

/** A rule set and the hosts its rules name (for return URLs). Opaque. */
struct gate_set;

/** Wraps rules (ownership taken, also on failure) with the redirect
 *  hosts of its rules. GH_ERR_NOMEM. */
enum gh_err gate_set_new(struct rules *rules, struct gate_set **out) GH_WUR;
/** Frees a set and its rules; NULL allowed. */
void gate_set_free(struct gate_set *s);
/** The rules of a set. */
const struct rules *gate_set_rules(const struct gate_set *s);

/** Loads GATEHOUSE_ACCESS_RULES (or the built-in "every request needs
 *  signed_in", logged) into a new set. GH_ERR_CONFIG with "file:line: why"
 *  in err, GH_ERR_NOMEM. */
enum gh_err gate_load(struct gate_set **out, char *err, size_t errlen) GH_WUR;

/** At start: gate_load and install; logs what the gate will do (the
 *  rules, the sign-in URL, trusted proxies). Errors as gate_load. */
enum gh_err gate_init(char *err, size_t errlen) GH_WUR;

/** SIGHUP: loads the file again (off the event loops) and installs the
 *  new set; on failure keeps the old one and logs an error naming
 *  file:line. Returns what gate_load returned. */
enum gh_err gate_reload(void);

/** Publishes s (ownership taken; NULL allowed) and frees the set it
 *  replaces once no reader can hold it. Waits for readers: never call it
 *  between gate_enter and gate_leave. */
void gate_install(struct gate_set *s);

/** Frees the current set (at exit, with no reader left). */
void gate_shutdown(void);

/** The current set (NULL before gate_init), valid until gate_leave. */
const struct gate_set *gate_enter(void);
void gate_leave(void);

/** The answer's kind. */
enum gate_verdict {
    GATE_PASS,      /* 200 (identity headers when signed in) */
    GATE_SIGNIN,    /* not signed in: 401, or a redirect to the sign-in URL */
    GATE_STEP_UP,   /* an mfa rule without a recent factor: 401, or to the step-up page */
    GATE_FORBIDDEN, /* 403: signed in but not allowed, or a deny rule */
    GATE_ENROL,     /* 403: a session restricted to enrolling a second factor */
};

struct gate_answer {
    enum gate_verdict verdict;
    int status;                           /* 200, 302, 303, 401 or 403 */
    bool identity;                        /* send the identity headers */
    char location[GATE_LOCATION_MAX + 1]; /* "" none (a 302/303, or nginx's 401) */
    bool rd_refused;                      /* the original URL was not allowed as rd= */
    unsigned rule_line;                   /* the rule that matched; 0: the default */
    enum rules_policy policy;
    char role[RULES_ROLE_MAX + 1]; /* RULES_ROLE: its role */
    unsigned max_age_minutes;      /* RULES_MFA: its max age (0: any) */
};

/** What the gate decides about one request: the original request, the
 *  identity (NULL: not signed in), whether the client is an API client.
 *  now: seconds (the mfa age). Reads gate_cfg and gh_cfg (sign-in URL,
 *  public URL, cookie domain, production). Pure otherwise; any thread. */
void gate_decide(const struct gate_set *s, const struct gate_request *g,
                 const struct authcache_identity *ident, int64_t now, struct gate_answer *out);

/** The rd= value for url: url run through redirect_check against s's
 *  hosts, the cookie domain, the public URL and (outside production)
 *  loopback http; out "" when refused. */
bool gate_return_url(const struct gate_set *s, const struct fwd_request *req, char *out,
                     size_t cap);

/** The same rule for a return URL a page was handed (rd=): url (len
 *  bytes) against the current set's hosts, the cookie domain, the public
 *  URL and (outside production) loopback http. Enters and leaves the set
 *  itself (never call it between gate_enter and gate_leave); before
 *  gate_init there are no rule hosts. out "" when refused. Any thread. */
bool gate_rd_check(const char *url, size_t len, char *out, size_t cap);

#endif
