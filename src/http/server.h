/* HTTP front end: libevent evhttp, one event loop per core, each on its own
 * SO_REUSEPORT listener. A request is routed, its body checked (size, type,
 * strict JSON) and its bearer token checked from memory on the loop; then
 * its handler runs either right there (R_LOOP routes whose check hit the
 * cache) or on a worker (everything that may block), and the reply is sent
 * back on the loop. Every response carries the security headers and an
 * X-Request-Id, and produces one JSON log line. */
#ifndef GH_HTTP_SERVER_H
#define GH_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "http/errors.h"
#include "guard/limit.h"
#include "guard/proxy.h"
#include "sessions/authcache.h"
#include "sessions/cookie.h"
#include "sessions/refresh.h"
#include "store/store.h"

/* HEAD and OPTIONS reach only R_GATE routes (every other route answers
 * them 405, as before they had a name). */
enum gh_method {
    GH_GET = 1,
    GH_POST = 2,
    GH_DELETE = 4,
    GH_PUT = 8,
    GH_PATCH = 16,
    GH_HEAD = 32,
    GH_OPTIONS = 64
};

enum gh_route_flags {
    R_AUTH = 1,       /* needs a valid bearer token or session cookie */
    R_BODY = 2,       /* takes a JSON object body */
    R_LOOP = 4,       /* may run on the event loop when the auth check hit memory */
    R_CACHEABLE = 8,  /* public, not no-store (JWKS) */
    R_HASH = 16,      /* runs Argon2id: the hashing lane of the pool */
    R_MFA_SETUP = 32, /* open to sessions restricted to enrolling a second factor */
    R_SIGNIN = 64,    /* starts a session: a session cookie sent along is read (r->token) */
    R_PAGE = 128,     /* profile GH_PROFILE_PAGE (without it: GH_PROFILE_API) */
    R_GATE = 256,     /* the forward-auth check: any method, trusted proxies only, its own
                       * credential rules (never a cookie set), the minimal reply */
    R_FORM = 512,     /* a page's form used before sign-in: a POST needs the form token
                       * (pages/form_token.h) in field "csrf" and a good Origin, else
                       * 403 csrf_failed; set with R_PAGE | R_BODY */
    R_ASSET = 1024,   /* an image of ours (the logo): profile GH_PROFILE_ASSET */
    R_NET = 2048,     /* calls an identity provider: the network lane of the pool (POOL_NET);
                       * on an R_PAGE route the OAuth state cookie is read (r->oauth_cookie) */
};

struct gh_req;
struct gate_request;

/** A handler parses r->body, does its work and sets the reply with one of
 *  the gh_reply* functions. c is NULL when it runs on the event loop. */
typedef void (*gh_handler_fn)(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/** What a route serves; it picks the Content-Security-Policy of the
 *  route's replies and the request body type it accepts (gh_profile_of).
 *  A route declares it in the route table by its flags (R_PAGE), so that a
 *  row needs no new column: gh_route_profile reads it. */
enum gh_profile {
    GH_PROFILE_API = 0, /* the JSON API (the default): application/json bodies */
    GH_PROFILE_PAGE,    /* HTML pages with forms: application/x-www-form-urlencoded bodies */
    GH_PROFILE_ASSET,   /* an image (the logo, maybe SVG): a CSP that runs nothing */
};

struct gh_route {
    int method;
    const char *path; /* exact, or with one "*" for one whole segment (gh_route_path_match) */
    const char *name; /* for logs; NULL = path */
    unsigned flags;
    gh_handler_fn fn;
    int guard; /* enum guard_class: the rate limits it spends */
};

/** rt's profile (enum gh_profile); NULL (no route matched): the API's. */
static inline int gh_route_profile(const struct gh_route *rt)
{
    if (rt && (rt->flags & R_ASSET)) return GH_PROFILE_ASSET;
    return rt && (rt->flags & R_PAGE) ? GH_PROFILE_PAGE : GH_PROFILE_API;
}

/** A profile's choices. Static data. */
struct gh_profile_info {
    const char *csp;               /* Content-Security-Policy of every reply */
    const char *body_type;         /* the one Content-Type an R_BODY route accepts */
    const char *body_type_message; /* the 415 message naming it */
    const char *referrer_policy;   /* Referrer-Policy of every reply */
};

/** The choices of profile (enum gh_profile); an unknown one gets the API's. */
const struct gh_profile_info *gh_profile_of(int profile);

/* Extra reply headers (gh_reply_header): at most GH_REPLY_HEADERS_MAX, their
 * names and values together at most GH_REPLY_HEADER_BYTES (with a NUL each). */
#define GH_REPLY_HEADERS_MAX 8
#define GH_REPLY_HEADER_BYTES 2048

/* Cookies of a page's own (gh_reply_cookie) one reply may set. */
#define GH_SET_COOKIES_MAX 2

/* A form-token cookie's length (PAGES_FORM_COOKIE_LEN, pages/form_token.h,
 * which includes this header and checks that they agree). */
#define GH_FORM_COOKIE_LEN 75
/* The mfa_token a page sign-in keeps in a cookie (MFA_TOKEN_LEN, mfa/mfa.h;
 * pages/signin_pages.h checks that they agree). */
#define GH_MFA_COOKIE_LEN 43
/* A page cookie longer than a token: the sealed pending link
 * (federation/pending_link.h), at most this many characters. */
#define GH_LINK_COOKIE_MAX 1400
/* The OAuth state cookie read on R_NET pages (STATE_COOKIE_VALUE_MAX,
 * federation/state_cookie.h, which must fit). */
#define GH_OAUTH_COOKIE_MAX 1024

#define GH_PARAM_MAX 64
#define GH_FORM_ORIGIN_MAX 256 /* scheme://host:port of a return URL */
#define GH_TOKEN_MAX 2048
#define GH_REQUEST_ID_MAX 64

/* Whether an incoming X-Request-Id is echoed (and logged): 1 to
 * GH_REQUEST_ID_MAX characters of [A-Za-z0-9._-]. Any other value is
 * replaced by a generated id. */
bool gh_request_id_sane(const char *s);

struct gh_req {
    /* Inputs, copied from the evhttp request so workers never touch it. */
    const struct gh_route *route;
    int method;   /* enum gh_method, 0 for others */
    json_t *body; /* object, or NULL */
    char param[GH_PARAM_MAX + 1];
    char ip[STORE_IP_MAX + 1];
    char user_agent[STORE_UA_MAX + 1];
    char request_id[GH_REQUEST_ID_MAX + 1];
    char query[2048]; /* raw query string ("" if none; longer ones are cut): a provider's
                       * callback carries code, state, scope, iss... */
    /* A page whose form leads (by a 303 after its POST) to a checked return
     * URL on another origin: that origin, added to the page CSP's
     * form-action, which browsers apply to the redirects after a form's
     * POST too ("" for none; pages/pages_reply.h pages_rd sets it). */
    char form_origin[GH_FORM_ORIGIN_MAX];
    char token[GH_TOKEN_MAX + 1]; /* bearer token or cookie session token; wiped at the end */
    size_t token_len;
    bool authed;
    struct authcache_identity ident;
    bool cookie_auth; /* the identity comes from the session cookie (no Authorization) */
    bool origin_ok;   /* not GET: Origin / Sec-Fetch-Site are ours or allowlisted */
    char csrf[COOKIE_CSRF_LEN + 1]; /* X-CSRF-Token as sent ("" if none or too long) */
    size_t csrf_len;
    /* R_PAGE routes: the form-token cookie as sent ("" if absent, sent
     * twice or not shaped like one; pages/form_token.h). */
    char form_cookie[GH_FORM_COOKIE_LEN + 1];
    /* R_PAGE routes: a sign-in's mfa_token from its cookie, the same way
     * (pages/signin_pages.h); wiped at the end. */
    char mfa_cookie[GH_MFA_COOKIE_LEN + 1];
    /* R_PAGE routes: the pending link of a federated sign-in from its
     * cookie, sealed ("" if absent, sent twice or not so shaped). */
    char link_cookie[GH_LINK_COOKIE_MAX + 1];
    /* R_PAGE | R_NET routes: the OAuth state cookie as sent ("" if absent,
     * sent twice, longer than GH_OAUTH_COOKIE_MAX or not [A-Za-z0-9_-]);
     * wiped at the end. */
    char oauth_cookie[GH_OAUTH_COOKIE_MAX + 1];

    /* Reply. */
    int status;
    json_t *resp;    /* NULL = empty body */
    char *resp_text; /* heap; a non-JSON body (metrics, pages) instead of resp */
    size_t resp_len;
    const char *resp_type;
    const char *error_code; /* an error reply: its error table code (static), else NULL */
    bool www_authenticate;
    const char *rl_name; /* a rate-limit rule answered: its RateLimit headers */
    struct limit_result rl;
    bool api_admitted;  /* the user's API budget was spent for this request */
    char idem_key[256]; /* Idempotency-Key ("" if none) */
    char idem_id[65];   /* its record id, once claimed or found */
    bool idem_claimed, idem_replayed;
    char set_session[REFRESH_TOKEN_LEN + 1]; /* a session cookie to set ("" none); wiped */
    bool clear_cookies;    /* expire both cookies (sign-out, dead cookie); beats set_session */
    char cors_methods[40]; /* a preflight answered: the path's methods */

    /* Private to src/http/. */
    const struct gh_credential *cred; /* the checker that read the credential */
    bool cred_pending; /* R_GATE: a credential only the store can settle (a worker) */
    struct gh_loop *loop;
    struct evhttp_request *ev;
    struct gh_req *next;
    int64_t start_us;
    /* Extra reply headers: offsets of name and value in reply_hdr. */
    uint16_t reply_hdr_at[GH_REPLY_HEADERS_MAX][2];
    uint16_t reply_hdr_used; /* bytes of reply_hdr in use */
    uint8_t reply_nhdr;
    uint8_t set_cookie_n; /* entries of set_cookie in use */
    /* Last: not zeroed when the struct is reused (only the first
     * reply_hdr_used bytes mean anything; they are wiped at the end). */
    char reply_hdr[GH_REPLY_HEADER_BYTES];
    /* Set-Cookie values of gh_reply_cookie (the first set_cookie_n mean
     * anything; wiped at the end: one may hold a secret). */
    char set_cookie[GH_SET_COOKIES_MAX][COOKIE_HEADER_MAX];
    /* R_GATE: the original request, written whole by the gate's intake
     * before anything reads it. Heap, kept with the struct across reuse
     * (a 9 KiB malloc per check showed in perf) and freed with it. Holds
     * no secret. */
    struct gate_request *gate;
};

/** A route method's name (GH_GET ... "GET"; anything else "OTHER"), a
 *  static string. */
const char *gh_method_name(int m);

/** Sets the reply to status with a JSON body (reference stolen; NULL ok). */
void gh_reply(struct gh_req *r, int status, json_t *body);
/** Sets a reply whose body is not JSON: len bytes of body (heap memory the
 *  server frees; NULL with len 0 for none) sent as Content-Type type (a
 *  static string: "text/html; charset=utf-8", ...). Such a reply is never
 *  recorded for an Idempotency-Key replay. */
void gh_reply_body(struct gh_req *r, int status, const char *type, char *body, size_t len);
/** gh_reply_body for a NUL-terminated text (heap; the server frees it). */
void gh_reply_text(struct gh_req *r, int status, const char *type, char *text);
/** True if name: value may be sent as an extra reply header: name a token
 *  of 1 to 64 characters that the server does not set itself (framing,
 *  Content-Type, cookies, the security and CORS headers, X-Request-Id);
 *  value at most 1024 visible ASCII characters, spaces or tabs (no CR, LF
 *  or NUL). Pure. */
bool gh_reply_header_ok(const char *name, const char *value);
/** Adds name: value to r's reply (a Location for a 302/303, identity
 *  headers, ...); both are copied. GH_ERR_INVALID (nothing added) when
 *  gh_reply_header_ok refuses them or the list is full. An error reply
 *  (gh_fail) drops the extra headers already added. */
enum gh_err gh_reply_header(struct gh_req *r, const char *name, const char *value) GH_WUR;
/** Adds a Set-Cookie for one of a page's own cookies (the form token, a
 *  pending sign-in): name=value; Path=/; Max-Age=max_age; [Secure;]
 *  HttpOnly; SameSite=Lax (cookie_format; never a Domain: name must start
 *  "__Host-" when cookies are Secure, and is then kept to this host).
 *  name: [A-Za-z0-9_-] after the prefix, never the session or CSRF
 *  cookie's (set_session / clear_cookies set those); value: up to
 *  GH_LINK_COOKIE_MAX characters of [A-Za-z0-9_-]; max_age 0 with value "" deletes. Kept on
 *  an error reply. GH_ERR_INVALID (nothing added) when refused or full. */
enum gh_err gh_reply_cookie(struct gh_req *r, const char *name, const char *value,
                            int64_t max_age) GH_WUR;
/** gh_reply_cookie with SameSite=None when cross_site and cookies are
 *  Secure (a cookie that must go along with a cross-site POST: the OAuth
 *  state of a form_post provider). Browsers drop a SameSite=None cookie
 *  without Secure, so insecure development cookies keep Lax. */
enum gh_err gh_reply_cookie_ex(struct gh_req *r, const char *name, const char *value,
                               int64_t max_age, bool cross_site) GH_WUR;
/** Requests answered so far by status class (1..5 for 1xx..5xx). */
uint64_t gh_requests_total(int cls);
/** Counts a request refused with 403 csrf_failed (for /metrics). */
void gh_count_csrf_failed(void);
/** Requests refused with 403 csrf_failed so far. */
uint64_t gh_csrf_failed_total(void);
/** Sets the error reply of row e of the error table (http/errors.h):
 *  its status and {"error":{"code","message"}} with the row's message. */
void gh_fail(struct gh_req *r, enum gh_error e);
/** The same with a message that says more than the row's default (NULL =
 *  the default); the status and code are always the row's. */
void gh_fail_msg(struct gh_req *r, enum gh_error e, const char *message);
/** Answers 429 rate_limited with Retry-After and the IETF RateLimit and
 *  RateLimit-Policy fields of rule; or, when res->unavailable (Redis down,
 *  the rule fails closed), 503 rate_limiter_unavailable with Retry-After. */
void gh_reply_limited(struct gh_req *r, enum limit_rule rule, const struct limit_result *res);
/** r's client as per-IP rate-limit rules count it (guard_ip_key). */
void gh_client_key(const struct gh_req *r, char out[PROXY_KEY_MAX]);
/** Takes one unit of each rule for its subject (guard_take); when one
 *  refuses, gives back what was taken and answers r with 429 (or 503).
 *  subjects[i] NULL: skip rules[i]. true: admitted (RateLimit fields set). */
bool gh_take(struct gh_req *r, const enum limit_rule *rules, const char *const *subjects, int n);
/** The sign-in budgets for email_key, spent on a worker by a route that
 *  checks a password without being the sign-in route. gh_take's contract. */
bool gh_take_signin(struct gh_req *r, const char *email_key);
/** Answers 429 rate_limited for an address locked by failed sign-ins
 *  (RateLimit fields name the rule "signin_lockout"), or 503
 *  rate_limiter_unavailable when the lock check failed only because Redis
 *  is down. */
void gh_reply_locked(struct gh_req *r, int64_t retry_after_s);
/** Maps an internal failure to its reply: GH_ERR_BUSY (a full queue) is 503
 *  overloaded, anything else 500 internal_error. */
void gh_reply_fail(struct gh_req *r, enum gh_err e);

/** Fills ev for an audit row about this request (ip, user agent, request
 *  id); returns ev, or NULL when auditing is off. details may be NULL. */
const struct store_audit *gh_audit_event(struct gh_req *r, struct store_audit *ev,
                                         const char *action, const char *actor, const char *target,
                                         const char *details);

/** A refused authorisation attempt by r's caller (deleting another user's
 *  session, a CSRF failure settled on a worker): an `authz.denied` row,
 *  actor the caller (or "anonymous"), target the other account ("" when
 *  none), details {"param","reason","route"}, through
 *  audit_failure_append. reason: a snake_case word ("not_owner",
 *  "csrf_failed"). GH_ERR_NOMEM, or the store's error. */
enum gh_err gh_audit_denied(struct gh_req *r, const struct store_ops *ops, struct store_conn *c,
                            const char *reason, const char *target) GH_WUR;

/** Field spec for gh_body_fields: every field is a JSON string. */
struct gh_field {
    const char *name;
    bool required;
    const char **out; /* NULL if absent */
    size_t *len;
};

/** Validates r->body against fields: unknown field, wrong type, missing
 *  field and embedded NUL each set a 422 reply and return GH_ERR_INVALID. */
enum gh_err gh_body_fields(struct gh_req *r, const struct gh_field *f, size_t n) GH_WUR;

/** A job run on a worker every interval_s seconds while serving (and once
 *  right after start when at_start). Register up to 8 before server_run. */
typedef void (*gh_periodic_fn)(const struct store_ops *ops, struct store_conn *c);
void server_add_periodic(gh_periodic_fn fn, int interval_s, bool at_start);

/** A job run on a worker at each SIGHUP (a configuration reload: the
 *  gate's rules). Register up to 4 before server_run. */
void server_on_reload(gh_periodic_fn fn);

/** True once a shutdown signal arrived: long-running jobs (SMTP) give up
 *  so that shutdown is not held up by a slow peer. Any thread. */
bool server_draining(void);

/** Runs the server until SIGTERM/SIGINT. */
enum gh_err server_run(const struct gh_route *routes, size_t nroutes) GH_WUR;

#endif
