/* The connection layer under evhttp, one per event loop (decision 0017).
 *
 * - Accepting: this module creates each loop's listener (on the loop's
 *   SO_REUSEPORT socket) and hands it to evhttp. At the connection cap
 *   (GATEHOUSE_MAX_CONNECTIONS, by default the open-file limit minus a
 *   reserve) or when accept() fails for lack of descriptors (EMFILE,
 *   ENFILE, ...), the loop stops accepting instead of retrying in a busy
 *   loop, closes its oldest idle keep-alive connections (shutdown(2): evhttp
 *   sees EOF and frees them), and accepts again once a connection has gone
 *   (or a timer says so). One warning per episode, one line when it ends.
 * - Framing: each connection's bufferevent (made here through evhttp's
 *   bevcb) has a watch on its input that runs http/framing.c over each
 *   request's raw header block as the bytes arrive, before evhttp parses
 *   them (bare LF, obsolete folding, bad names, Content-Length forms evhttp
 *   would accept). on_request asks conn_request_begin() for the verdict.
 *
 * Everything but conn_init() and conn_metrics() runs on the loop's thread.
 * The connection structs are owned here: created when evhttp accepts, freed
 * from evhttp's close callback (decision 0017). */
#ifndef GH_HTTP_CONN_H
#define GH_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

#include "core/err.h"

struct conn_loop;

/** Raises the soft RLIMIT_NOFILE to the hard limit, then fixes the
 *  connection cap: max_conn, or when 0 the limit minus a reserve for nloops
 *  loops and nthreads worker threads (database, Redis, mail, logs).
 *  GH_ERR_CONFIG, logged with both numbers, when max_conn is above what the
 *  limit allows or the limit leaves too few. Once, before conn_loop_new. */
enum gh_err conn_init(int max_conn, int nloops, int nthreads) GH_WUR;

/** The cap conn_init() fixed. */
int conn_cap(void);

/** Accepts on the listening socket fd (its ownership passes here, closed
 *  on failure) into http, on base's thread. NULL on failure. */
struct conn_loop *conn_loop_new(struct event_base *base, struct evhttp *http, evutil_socket_t fd);

/** Stops accepting for good (shutdown drain) and releases the listener and
 *  timer. Idempotent; call before evhttp_free() of the loop. NULL ok. */
void conn_loop_stop(struct conn_loop *cl);

/** Frees cl, after evhttp_free() and event_base_free() of its loop (their
 *  last connections report to it while they go). NULL ok. */
void conn_loop_free(struct conn_loop *cl);

/** At the start of a request: true if its raw header block broke a framing
 *  rule (or its connection is unknown: fail closed). Marks the connection
 *  busy (not idle, never closed to make room) until conn_request_end(). */
bool conn_request_begin(struct evhttp_request *ev);

/** Just before the reply to ev is sent. */
void conn_request_end(struct evhttp_request *ev);

/** Writes the connection metrics (Prometheus text) into buf; returns the
 *  length written (< cap, NUL-terminated). Any thread. */
size_t conn_metrics(char *buf, size_t cap);

/** Frees what conn_init() allocated, after every loop is gone. */
void conn_cleanup(void);

#endif
