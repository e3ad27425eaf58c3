/* The client's IP address behind trusted reverse proxies, and the key a
 * per-IP budget counts it under. A request's socket peer is the client
 * unless it is one of GATEHOUSE_TRUSTED_PROXIES; then the client comes
 * from the one header the operator names (GATEHOUSE_CLIENT_IP_HEADER:
 * X-Forwarded-For by default, Forwarded, or X-Real-IP), read from the
 * right past trusted hops. Every other forwarding header is ignored, and
 * so are all of them from any other peer: a client cannot choose the
 * address its rate limits, sessions and audit rows use (the proxy appends
 * or sets the right-most value; whatever the client sent is to its left).
 * No allocation, any thread; proxy_request_ip reads gh_cfg. */
#ifndef GH_GUARD_PROXY_H
#define GH_GUARD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PROXY_MAX_CIDRS 32
#define PROXY_VALUE_MAX 2048 /* bytes of a forwarding header read, from its right end */

struct proxy_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

/** Which header names the client (GATEHOUSE_CLIENT_IP_HEADER). */
enum proxy_header {
    PROXY_XFF,       /* X-Forwarded-For: a list, each proxy appends its peer */
    PROXY_FORWARDED, /* Forwarded (RFC 7239): a list of elements, for= each */
    PROXY_REAL_IP,   /* X-Real-IP: one address, set (not appended) by the proxy */
};

/** Whose address a request is, and who may read /metrics: parsed and
 *  checked at start by guard/guard_config.c, then read-only (any thread). */
struct proxy_config {
    struct proxy_cidr trusted_proxies[PROXY_MAX_CIDRS]; /* GATEHOUSE_TRUSTED_PROXIES */
    int ntrusted_proxies;
    /* GATEHOUSE_METRICS_ALLOW: who gets /metrics and the reason of a failing
     * /readyz; unset = loopback + the trusted proxies */
    struct proxy_cidr metrics_allow[PROXY_MAX_CIDRS + 2];
    int nmetrics_allow;
    enum proxy_header client_ip_header; /* GATEHOUSE_CLIENT_IP_HEADER */
};
extern struct proxy_config proxy_cfg;

/** Parses a comma- or space-separated list of addresses and CIDR blocks
 *  ("10.0.0.0/8, ::1, 192.168.1.7") into out (at most max). GH_ERR_CONFIG
 *  with a message naming the bad entry. An empty list is valid (n = 0). */
enum gh_err proxy_parse_cidrs(const char *spec, struct proxy_cidr *out, int max, int *n, char *err,
                              size_t errlen) GH_WUR;

/** "x-forwarded-for", "forwarded" or "x-real-ip" (any case); NULL is the
 *  default, X-Forwarded-For. GH_ERR_CONFIG for anything else. */
enum gh_err proxy_parse_header(const char *name, enum proxy_header *out) GH_WUR;

/** The header's name as sent ("X-Forwarded-For", ...). */
const char *proxy_header_name(enum proxy_header h);

/** True if ip (text) lies in one of the n blocks. Unparsable: false. */
bool proxy_trusted(const char *ip, const struct proxy_cidr *cidrs, int n);

/** What a request brought of the configured header. */
struct proxy_input {
    const char *peer;  /* the socket peer's address */
    const char *value; /* every instance of the header joined by "," in order; NULL: absent */
    int nvalues;       /* how many instances were sent */
    bool truncated;    /* value is only the right end (PROXY_VALUE_MAX): its first hop is unread */
};

/** The client address: in->peer unless it is trusted; then the right-most
 *  hop of the header that is not itself trusted (all trusted: the
 *  left-most). A hop that cannot be read ends the walk at the last trusted
 *  address. X-Real-IP counts only when sent exactly once. Writes the
 *  canonical text form (IPv4-mapped IPv6 as IPv4) into out. */
void proxy_client_ip(const struct proxy_input *in, enum proxy_header kind,
                     const struct proxy_cidr *cidrs, int n, char *out, size_t outlen);

struct evkeyvalq;
/** proxy_client_ip for a libevent request's headers with gh_cfg's header
 *  and trusted proxies (the loop's intake). */
void proxy_request_ip(const struct evkeyvalq *headers, const char *peer, char *out, size_t outlen);

/** The key a per-IP budget counts ip under: an IPv4 address (also when
 *  written IPv4-mapped) as itself, an IPv6 address as its first
 *  v6_prefix bits ("2001:db8:1:2::/64"), so one client holding a /64
 *  cannot spend 2^64 budgets. Unparsable text is its own key. Budgets
 *  only: logs, sessions and audit rows keep the whole address. */
#define PROXY_KEY_MAX 64
void proxy_budget_key(const char *ip, int v6_prefix, char out[PROXY_KEY_MAX]);

#endif
