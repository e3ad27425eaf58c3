/* The intake of the forward-auth check (R_GATE routes, GET /v1/verify) on
 * the loop: only a trusted proxy may ask; the original request it reports
 * is read (gate/forwarded.h) into r->gate, with whether the client is an
 * API client; then the credential, the gate's way (credentials.c). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "gate/gate.h"
#include "guard/proxy.h"
#include "http/internal.h"

/* One warning a second at most: anyone who can reach the port can send
 * these, and the log must stay readable. */
static void log_untrusted(const struct gh_req *r, const char *peer)
{
    static _Atomic int64_t last_s;
    int64_t now = gh_mono_us() / 1000000, prev = atomic_load(&last_s);
    if (now == prev || !atomic_compare_exchange_strong(&last_s, &prev, now)) return;
    gh_log(GH_LOG_WARN,
           "request %s: /v1/verify from %s, which is not in GATEHOUSE_TRUSTED_PROXIES: its "
           "forwarding headers are ignored and it is refused (403 untrusted_proxy)",
           r->request_id, peer ? peer : "an unknown peer");
}

static bool peer_trusted(struct gh_req *r)
{
    struct evhttp_connection *con = evhttp_request_get_connection(r->ev);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (con) evhttp_connection_get_peer(con, &addr, &port);
    bool ok = addr && proxy_trusted(addr, proxy_cfg.trusted_proxies, proxy_cfg.ntrusted_proxies);
    if (!ok) log_untrusted(r, addr);
    return ok;
}

/* An API client never gets a redirect it cannot follow across origins. */
static bool api_client(struct evkeyvalq *in)
{
    const char *accept = evhttp_find_header(in, "Accept");
    return !accept || !strcasestr(accept, "text/html") ||
           evhttp_find_header(in, "X-Requested-With") != NULL;
}

/* The six headers in one walk; false when one of them is sent twice (two
 * values: which one the proxy set cannot be told). */
static bool forwarding_headers(struct evkeyvalq *in, struct fwd_input *fi)
{
    static const char *const names[6] = {"X-Forwarded-Method", "X-Forwarded-Proto",
                                         "X-Forwarded-Host",   "X-Forwarded-Uri",
                                         "X-Original-Method",  "X-Original-URL"};
    const char *v[6] = {0};
    for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        if (strncasecmp(kv->key, "X-", 2) != 0) continue;
        for (int i = 0; i < 6; i++) {
            if (strcasecmp(kv->key, names[i]) != 0) continue;
            if (v[i]) return false;
            v[i] = kv->value;
        }
    }
    *fi = (struct fwd_input){v[0], v[1], v[2], v[3], v[4], v[5]};
    return true;
}

bool http_gate_intake(struct gh_req *r, struct evkeyvalq *in)
{
    if (!peer_trusted(r)) {
        gh_fail(r, GH_E_UNTRUSTED_PROXY);
        return false;
    }
    if (!r->gate) r->gate = malloc(sizeof *r->gate); /* kept with r across reuse */
    if (!r->gate) {
        gh_reply_fail(r, GH_ERR_NOMEM);
        return false;
    }
    struct fwd_input fi;
    if (!forwarding_headers(in, &fi)) {
        gh_fail_msg(r, GH_E_ORIGINAL_REQUEST_INVALID,
                    "A header naming the original request was sent more than once.");
        return false;
    }
    switch (forwarded_parse(&fi, &r->gate->req)) {
    case FWD_OK:
        break;
    case FWD_MISSING:
        gh_fail(r, GH_E_ORIGINAL_REQUEST_MISSING);
        return false;
    case FWD_INVALID:
        gh_fail(r, GH_E_ORIGINAL_REQUEST_INVALID);
        return false;
    }
    r->gate->api_client = api_client(in);
    http_gate_credentials(r, in);
    return true;
}
