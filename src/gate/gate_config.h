/* The gate's settings (GET /v1/verify), read after core's config_load and
 * checked at start: GATEHOUSE_ACCESS_RULES (the rules file's path; the
 * file itself is loaded by gate_init, so a command that does not serve is
 * not stopped by it), GATEHOUSE_SIGNIN_URL (where a browser that is not
 * signed in is sent: https, or http to a loopback host outside
 * production; no fragment, no userinfo; unset: Gatehouse's own page,
 * <GATEHOUSE_PUBLIC_URL>/signin) and GATEHOUSE_GATE_REMOTE_HEADERS
 * (on: the Remote-* identity headers as well). Filled once, then
 * read-only (any thread). */
#ifndef GH_GATE_GATE_CONFIG_H
#define GH_GATE_GATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define GATE_URL_MAX 512

struct gate_config {
    char rules_path[1024];             /* "": none, every request needs signed_in */
    char signin_url[GATE_URL_MAX + 1]; /* "": browsers get a 401 too */
    bool signin_default;               /* signin_url is our own /signin (none was set) */
    bool remote_headers;               /* Remote-User, -Email, -Groups, -Name */
};
extern struct gate_config gate_cfg;

/** Reads the settings above into gate_cfg; GH_ERR_CONFIG with err naming
 *  the variable. */
enum gh_err gate_config_load(char *err, size_t errlen) GH_WUR;

/** Whether url may be GATEHOUSE_SIGNIN_URL: "https://host[:port]/..." or,
 *  when dev_http, "http://" to localhost, 127.0.0.1 or [::1]; printable
 *  ASCII, no '#', no userinfo, at most GATE_URL_MAX bytes. Pure. */
bool gate_signin_url_ok(const char *url, bool dev_http);

/** Gatehouse's own sign-in page, <public_url>/signin (trailing slashes of
 *  public_url dropped), into out: the gate's default when
 *  GATEHOUSE_SIGNIN_URL is not set. false (out "") when public_url is not
 *  an http(s) URL of that shape (no query, no fragment, no userinfo) or it
 *  does not fit GATE_URL_MAX. Pure. */
bool gate_default_signin_url(const char *public_url, char *out, size_t cap);

#endif
