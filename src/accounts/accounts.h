/* The accounts logic's view of a request and of its outcome, shared by
 * sign-up (signup.h), sign-in (signin.h) and the emailed links (links.h).
 * The logic functions take a struct accounts_req (never the HTTP request),
 * return GH_OK with an outcome in struct accounts_result, or a failure
 * (GH_ERR_*: the store or memory failed, nothing was answered); the
 * handlers (accounts_http.c) turn each outcome into its reply. Worker
 * threads only: they call the store. */
#ifndef GH_ACCOUNTS_ACCOUNTS_H
#define GH_ACCOUNTS_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/limit.h"
#include "mfa/mfa.h"
#include "sessions/sessions.h"
#include "store/store.h"

/* What the logic needs to know about the request. Borrowed: the caller
 * keeps every pointer valid during the call. */
struct accounts_req {
    const char *ip;         /* client address, for a new session's row */
    const char *user_agent; /* the same */
    /* The request's audit fields (ip, user agent, request id) as the
     * handler's gh_audit_event filled them; NULL when auditing is off.
     * The logic sets action, actor, target and details (audit_event). */
    const struct store_audit *audit;
    bool cookie; /* a sign-in asked for cookie mode (already allowed) */
    /* A cookie sign-in's session cookie sent along (r->token, length 0:
     * none): its session is ended when the new one starts. */
    const char *presented;
    size_t presented_len;
    /* Extra members for the signin.success row, a compact JSON object
     * ('{"provider":"google"}'; NULL: none): joined after method and
     * session_id (sessions_start). */
    const char *signin_details;
};

enum accounts_outcome {
    ACCOUNTS_NONE,            /* not set: a logic path that forgot answers 500, never "in" */
    ACCOUNTS_SIGNED_IN,       /* u, pair and restricted hold the new session */
    ACCOUNTS_MFA_REQUIRED,    /* the first factor held; mfa_token for the second step */
    ACCOUNTS_DONE,            /* the change is made (reset, verification) */
    ACCOUNTS_VERIFY_PENDING,  /* sign-up under verification "required": no session */
    ACCOUNTS_INVALID_EMAIL,   /* not an address */
    ACCOUNTS_WEAK_PASSWORD,   /* reason says why */
    ACCOUNTS_EMAIL_TAKEN,     /* the address has an account */
    ACCOUNTS_BAD_CREDENTIALS, /* wrong password or unknown address (alike; audited) */
    ACCOUNTS_LOCKED,          /* the address is locked for retry_after seconds */
    ACCOUNTS_NOT_VERIFIED,    /* right password, address never confirmed */
    ACCOUNTS_LIMITED,         /* the account's second-factor budget is spent (lim) */
    ACCOUNTS_BAD_CODE,        /* wrong second-factor code (audited) */
    ACCOUNTS_STEP_INVALID,    /* mfa_token expired, used or out of attempts */
    ACCOUNTS_STEP_GONE,       /* the account of the mfa_token is gone */
    ACCOUNTS_STEP_USED,       /* a parallel request spent the mfa_token */
    ACCOUNTS_LINK_INVALID,    /* an emailed link unknown, used or of another purpose */
    ACCOUNTS_LINK_EXPIRED,    /* a real link, expired (audited) */
    ACCOUNTS_LINK_GONE,       /* the link's account is gone */
    ACCOUNTS_LINK_USED,       /* a parallel request spent the reset link */
    ACCOUNTS_LINK_REQUIRED,   /* a provider's identity: sign in to link it (federated.h) */
    ACCOUNTS_SIGNUP_CLOSED,   /* GATEHOUSE_SIGNUP=closed: no new account */
};

/* The outcome and what its reply needs. Holds secrets (a password hash,
 * tokens): accounts_result_clear wipes it. */
struct accounts_result {
    enum accounts_outcome outcome;
    struct store_user u;               /* SIGNED_IN: the account */
    struct sessions_pair pair;         /* SIGNED_IN: the session's tokens */
    bool restricted;                   /* SIGNED_IN: may only enrol a second factor */
    char mfa_token[MFA_TOKEN_LEN + 1]; /* MFA_REQUIRED: a bearer secret */
    char reason[200];                  /* WEAK_PASSWORD: the policy's words */
    int64_t retry_after;               /* LOCKED: seconds */
    struct limit_result lim;           /* LIMITED (rule LIMIT_MFA_ACCOUNT) */
};

/** Zeroes res before a call (the logic functions do it themselves). */
void accounts_result_init(struct accounts_result *res);

/** Wipes and frees what res holds; res may be reused after
 *  accounts_result_init. */
void accounts_result_clear(struct accounts_result *res);

#endif
