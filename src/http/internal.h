/* What the files of the HTTP layer share and handlers never see: the event
 * loop struct (its inbox, admission batch, log buffer and spare request
 * structs) and the steps one file hands a request to another by.
 * loops.c owns the loops and the request pool, intake.c the request intake,
 * credentials.c the credential checks, reply.c building and sending the
 * reply, reqlog.c the log line. Only the files of src/http/ include this. */
#ifndef GH_HTTP_INTERNAL_H
#define GH_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/server.h"

#define LOGBUF_SIZE 4096 /* <= PIPE_BUF: a flush never interleaves */

/* Header block: ours is the cap we answer 431 for; libevent answers
 * beyond the ceiling. */
#define GH_HEADERS_MAX (16 * 1024)
#define GH_HEADERS_CEILING (128 * 1024)

struct conn_loop;

struct gh_loop {
    int idx;
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    pthread_mutex_t mu;
    struct gh_req *inbox;
    struct event *wake;
    /* Requests read in this pass that wait for one batched admission (shared
     * budgets: one Redis round trip for all); loop thread only. */
    struct gh_req *admit_head, *admit_tail;
    struct event *admit_ev;
    evutil_socket_t fd;
    struct event *log_ev;
    struct conn_loop *conn; /* listener, connection cap, raw framing check */
    size_t loglen;
    char logbuf[LOGBUF_SIZE];
    /* Finished request structs kept for reuse (loop thread only). */
    struct gh_req *spare;
    int nspare;
    /* Request ids: a random per-loop prefix and a counter (no syscall). */
    char rid_prefix[17];
    uint64_t rid_next;
};

/* ---- loops.c: the request pool and the inbox ---- */

/** A zeroed request struct from l's spares, or calloc'd; NULL when out of
 *  memory. Loop thread. */
struct gh_req *http_req_get(struct gh_loop *l);
/** Releases r's contents (secrets wiped); keeps the struct for reuse on its
 *  loop. Loop thread. */
void http_req_put(struct gh_req *r);
/** Frees r and everything it holds (secrets wiped), for teardown. */
void http_req_free(struct gh_req *r);
/** Worker: hands r back to its loop, which sends the reply. */
void http_post_back(struct gh_req *r);

/* ---- intake.c ---- */

/** Gives intake the route table and the store the loop-run handlers get. */
void http_intake_setup(const struct gh_route *routes, size_t nroutes, const struct store_ops *ops);
/** evhttp's callback for every request a loop reads (arg: the gh_loop). */
void http_on_request(struct evhttp_request *ev, void *arg);
/** Admits the requests queued for one batched admission (arg: gh_loop). */
void http_on_admit(evutil_socket_t fd, short what, void *arg);
/** Writes r's request id into out: the client's X-Request-Id when sane,
 *  else one from the loop's prefix and counter. */
void http_request_id_of(struct gh_loop *l, struct evkeyvalq *in, char *out, size_t cap);
/** The gh_method of an evhttp request, 0 for others. */
int http_method_of(struct evhttp_request *ev);

/* ---- admit.c: the guard's decisions written into the reply ---- */

#define HTTP_ADMIT_BATCH 32 /* requests admitted with one Redis round trip */

/** Spends r's route budgets (and the user's API budget when known). false:
 *  a rule refused and r's reply is set. */
bool http_admit(struct gh_req *r);
/** The user's API budget alone, for a request authenticated on a worker. */
bool http_admit_user(struct gh_req *r);
/** True when r's admission waits for the loop's batch (shared budgets). */
bool http_wants_batch(struct gh_req *r);
/** http_admit for n <= HTTP_ADMIT_BATCH requests at once. Loop thread. */
void http_admit_batch(struct gh_req **rs, int n, bool *admitted);

/* ---- credentials.c ---- */

/** What a credential checker found. */
enum gh_cred_result {
    GH_CRED_ABSENT,  /* this kind was not presented: the next checker is asked */
    GH_CRED_UNKNOWN, /* well-formed, not settled from memory: a worker asks the store */
    GH_CRED_OK,      /* settled: r->ident holds the identity */
    GH_CRED_REFUSED, /* r's reply is set (401 and the like) */
};

/** One kind of credential. read runs on the loop and copies the credential
 *  into r->token (ABSENT, UNKNOWN or REFUSED); memory checks it against the
 *  auth cache (loop or worker); store settles it on a worker. */
struct gh_credential {
    const char *name;
    enum gh_cred_result (*read)(struct gh_req *r, struct evkeyvalq *in);
    enum gh_cred_result (*memory)(struct gh_req *r);
    enum gh_cred_result (*store)(struct gh_req *r, const struct store_ops *ops,
                                 struct store_conn *c);
};

/** Loop, R_AUTH routes: reads r's credential (the first checker whose kind
 *  was presented decides) and checks it from memory, then the CSRF origin
 *  of a cookie request. false: r's reply is set. */
bool http_credentials_check(struct gh_req *r, struct evkeyvalq *in);
/** Worker, R_AUTH routes: checks r's credential from memory again and
 *  settles one memory could not from the store. false: r's reply is set. */
bool http_credentials_settle(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);
/** R_SIGNIN routes: reads the session cookie a sign-in replaces into
 *  r->token (wiped when there is none or it is not well-formed). */
void http_signin_cookie(struct gh_req *r, struct evkeyvalq *in);
/** Loop, a page's form body just read: moves its "csrf" field out of
 *  r->body into r->csrf (the token a cookie request is checked against),
 *  and checks it when the credential is already settled, or on an R_FORM
 *  route against the form cookie (http_form_token_denied). false: r's
 *  reply is set (403 csrf_failed). */
bool http_form_csrf(struct gh_req *r);
/** Loop, R_PAGE routes: reads the form-token cookie into r->form_cookie
 *  and a page sign-in's mfa cookie into r->mfa_cookie (each "" when
 *  absent, sent twice or not shaped like one). */
void http_page_cookies(struct gh_req *r, struct evkeyvalq *in);
/** A POST on an R_FORM route without a valid form cookie, its matching
 *  "csrf" field (r->csrf) and a good Origin: logs and counts it, answers
 *  403 csrf_failed and returns true. */
bool http_form_token_denied(struct gh_req *r);
/** A cookie request that changes state without a good Origin and CSRF
 *  token: answers 403 csrf_failed and returns true. Needs r->ident. */
bool http_csrf_denied(struct gh_req *r);
/** A session restricted to enrolling a second factor on another route:
 *  answers 403 mfa_enrolment_required and returns true. */
bool http_restricted_denied(struct gh_req *r);

/* ---- gate_intake.c and credentials.c: the forward-auth check (R_GATE) ---- */

/** Loop: refuses a peer that is not a trusted proxy (403 untrusted_proxy)
 *  and an original request that is missing or unparsable (400); reads it
 *  into r->gate, then the credential (http_gate_credentials). false: r's
 *  reply is set. */
bool http_gate_intake(struct gh_req *r, struct evkeyvalq *in);
/** Loop: reads a bearer token or the session cookie and checks it from
 *  memory without any cookie rule of the API (a token due for rotation is
 *  good; nothing is ever set or cleared). Absent or refused: not signed in
 *  (r->authed false), never an error reply; r->cred_pending when only the
 *  store can tell. */
void http_gate_credentials(struct gh_req *r, struct evkeyvalq *in);
/** Worker: settles a pending gate credential (sessions_cookie_peek for a
 *  cookie: no rotation, no reuse detection). false: a backend failure, r's
 *  reply is set (500). */
bool http_gate_settle(struct gh_req *r, const struct store_ops *ops, struct store_conn *c);

/* ---- reply.c ---- */

/** Sends r's reply with every header, logs it and puts r back. Loop thread;
 *  r is gone afterwards. */
void http_finish(struct gh_req *r);
/** No memory for a request struct: the usual headers, JSON body and log
 *  line, built without allocating one. */
void http_reply_no_memory(struct gh_loop *l, struct evhttp_request *ev, int64_t start_us);

/* ---- reqlog.c ---- */

/** Appends one request's log line to l's batch. user_id may be NULL;
 *  error (may be NULL) is the error code of an error reply. */
void http_log_line(struct gh_loop *l, const char *request_id, int method, const char *route,
                   int status, int64_t start_us, const char *user_id, const char *error);
/** The log line of r's reply. */
void http_log_request(struct gh_req *r);
/** Writes l's batch out now. */
void http_log_flush(struct gh_loop *l);
/** The loop's idle-time flush event (arg: the gh_loop). */
void http_on_log_flush(evutil_socket_t fd, short what, void *arg);

#endif
