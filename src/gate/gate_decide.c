/* The gate's decision table (gate.h, gate_decide) and the URLs it sends a
 * browser to: the sign-in URL or the step-up page, each with the original
 * URL in rd= once redirect_check allowed it. */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/util.h"
#include "core/log.h"
#include "gate/gate.h"
#include "gate/gate_config.h"
#include "gate/gate_internal.h"
#include "gate/redirect.h"

static bool loopback_host(const char *h)
{
    return strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 || strcmp(h, "[::1]") == 0;
}

bool gate_return_url(const struct gate_set *s, const struct fwd_request *req, char *out, size_t cap)
{
    struct redirect_policy p = {
        .hosts = (const char *const *)s->hosts,
        .nhosts = s->nhosts,
        .cookie_domain = gh_cfg.cookie_domain,
        .dev_loopback_http = !gh_cfg.production,
        .public_base = gh_cfg.public_url,
    };
    size_t len = strlen(req->url);
    if (redirect_check(&p, req->url, len, out, cap) == GH_OK) return true;
    /* Development behind a proxy on loopback: the proxy's own origin (with
     * its port) is where the person was going, and it cannot be elsewhere. */
    if (!gh_cfg.production && loopback_host(req->host)) {
        const char *self[] = {req->authority};
        p.hosts = self;
        p.nhosts = 1;
        if (redirect_check(&p, req->url, len, out, cap) == GH_OK) return true;
    }
    if (cap) out[0] = '\0';
    return false;
}

bool gate_rd_check(const char *url, size_t len, char *out, size_t cap)
{
    const struct gate_set *s = gate_enter();
    struct redirect_policy p = {
        .hosts = s ? (const char *const *)s->hosts : NULL,
        .nhosts = s ? s->nhosts : 0,
        .cookie_domain = gh_cfg.cookie_domain,
        .dev_loopback_http = !gh_cfg.production,
        .public_base = gh_cfg.public_url,
    };
    bool ok = url && len > 0 && redirect_check(&p, url, len, out, cap) == GH_OK;
    gate_leave();
    if (!ok && cap) out[0] = '\0';
    return ok;
}

/* base + "?rd=" (or "&rd=") + the encoded return URL into out; base alone
 * when there is no return URL or it does not fit. */
static void with_rd(char *out, size_t cap, const char *base, const char *rd, bool *dropped)
{
    int n = snprintf(out, cap, "%s", base);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return;
    }
    if (!rd[0]) return;
    size_t o = (size_t)n;
    int w = snprintf(out + o, cap - o, "%srd=", strchr(base, '?') ? "&" : "?");
    if (w > 0 && o + (size_t)w < cap) {
        o += (size_t)w;
        /* unreserved characters and "/" ":" stay, the rest is %XX */
        if (gh_pct_append(out, cap, &o, rd, "/:")) return;
    }
    out[n] = '\0'; /* too long: no rd at all, never a cut one */
    *dropped = true;
}

/* Where the browser goes, or "" when there is no such page (a 401). */
static void target(const struct gate_set *s, const struct gate_request *g, bool step_up,
                   struct gate_answer *out)
{
    char base[GATE_URL_MAX + 16], rd[REDIRECT_OUT_MAX];
    out->location[0] = '\0';
    if (step_up) {
        size_t n = strlen(gh_cfg.public_url);
        while (n && gh_cfg.public_url[n - 1] == '/')
            n--;
        if (n == 0) return;
        snprintf(base, sizeof base, "%.*s/step-up", (int)n, gh_cfg.public_url);
    } else {
        if (!gate_cfg.signin_url[0]) return;
        snprintf(base, sizeof base, "%s", gate_cfg.signin_url);
    }
    if (!gate_return_url(s, &g->req, rd, sizeof rd)) out->rd_refused = true;
    with_rd(out->location, sizeof out->location, base, rd, &out->rd_refused);
}

/* Not signed in (or no recent factor): 401 for API clients; a browser is
 * sent to the page (302 for GET/HEAD, 303 otherwise; for nginx a 401
 * carrying Location, since auth_request cannot pass a 3xx), or gets a 401
 * when there is no page. */
static void send_to(const struct gate_set *s, const struct gate_request *g, bool step_up,
                    struct gate_answer *out)
{
    out->verdict = step_up ? GATE_STEP_UP : GATE_SIGNIN;
    out->status = 401;
    if (g->api_client) return;
    target(s, g, step_up, out);
    if (!out->location[0] || g->req.nginx) return;
    bool safe = strcmp(g->req.method, "GET") == 0 || strcmp(g->req.method, "HEAD") == 0;
    out->status = safe ? 302 : 303;
}

static void verdict(struct gate_answer *out, enum gate_verdict v, int status, bool identity)
{
    out->verdict = v;
    out->status = status;
    out->identity = identity;
}

void gate_decide(const struct gate_set *s, const struct gate_request *g,
                 const struct authcache_identity *ident, int64_t now, struct gate_answer *out)
{
    memset(out, 0, sizeof *out);
    const struct rule *rule =
        rules_match(s->rules, g->req.method, g->req.host, g->req.path, g->req.path_len);
    out->rule_line = rule->line;
    out->policy = rule->policy;
    out->max_age_minutes = rule->max_age_minutes;
    memcpy(out->role, rule->role, sizeof out->role);
    if (rule->policy == RULES_PUBLIC) { /* a restricted session is not signed in here */
        verdict(out, GATE_PASS, 200, ident && !ident->restricted);
        return;
    }
    if (rule->policy == RULES_DENY) {
        verdict(out, GATE_FORBIDDEN, 403, false);
        return;
    }
    if (!ident) {
        send_to(s, g, false, out);
        return;
    }
    if (ident->restricted) { /* GATEHOUSE_MFA_REQUIRED: enrol a factor first */
        verdict(out, GATE_ENROL, 403, false);
        return;
    }
    switch (rule->policy) {
    case RULES_MFA: {
        int64_t max_age = (int64_t)rule->max_age_minutes * 60;
        if (ident->mfa_at <= 0 || (max_age > 0 && now - ident->mfa_at > max_age)) {
            send_to(s, g, true, out);
            return;
        }
        break;
    }
    case RULES_ROLE:
        if (strcmp(ident->role, rule->role) != 0) {
            verdict(out, GATE_FORBIDDEN, 403, false);
            return;
        }
        break;
    default: /* signed_in */
        break;
    }
    verdict(out, GATE_PASS, 200, true);
}
