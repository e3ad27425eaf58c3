/* The client's IP address behind trusted reverse proxies. A request's
 * socket peer is the client unless it is one of GATEHOUSE_TRUSTED_PROXIES;
 * then the client is the right-most hop of X-Forwarded-For (or Forwarded)
 * that is not itself trusted. Headers from any other peer are ignored, so
 * a client cannot choose the address its rate limits and logs use. Pure
 * functions: no allocation, any thread. */
#ifndef GH_GUARD_PROXY_H
#define GH_GUARD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PROXY_MAX_CIDRS 32

struct proxy_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

/** Parses a comma- or space-separated list of addresses and CIDR blocks
 *  ("10.0.0.0/8, ::1, 192.168.1.7") into out (at most max). GH_ERR_CONFIG
 *  with a message naming the bad entry. An empty list is valid (n = 0). */
enum gh_err proxy_parse_cidrs(const char *spec, struct proxy_cidr *out, int max, int *n, char *err,
                              size_t errlen) GH_WUR;

/** True if ip (text) lies in one of the n blocks. Unparsable: false. */
bool proxy_trusted(const char *ip, const struct proxy_cidr *cidrs, int n);

/** The client address for a request from peer, given the values of its
 *  X-Forwarded-For headers joined by commas (xff, may be NULL) and of its
 *  Forwarded header (fwd, may be NULL; preferred when present). Writes the
 *  canonical text form into out. */
void proxy_client_ip(const char *peer, const char *xff, const char *fwd,
                     const struct proxy_cidr *cidrs, int n, char *out, size_t outlen);

#endif
