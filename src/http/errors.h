/* The API's error table: every error a client can receive is one row of
 * GH_ERRORS, with its code, its HTTP status and a default message, and a
 * code has one status everywhere. Handlers name a row (gh_fail); they never
 * write a status number. docs/api.md lists the same table and
 * tests/unit/http/test_errors.c checks that the two agree. The table is
 * static data: nothing to free. */
#ifndef GH_HTTP_ERRORS_H
#define GH_HTTP_ERRORS_H

/* X(name, code, status, default message) */
#define GH_ERRORS(X)                                                                               \
    X(BAD_FRAMING, "bad_framing", 400,                                                             \
      "Malformed or ambiguous framing (RFC 9112): CRLF line ends, header names without spaces, "   \
      "and either one Content-Length of digits or no body.")                                       \
    X(INVALID_JSON, "invalid_json", 400,                                                           \
      "The body is not valid JSON (UTF-8, no NUL, no duplicate keys, nesting at most 8).")         \
    X(INVALID_QUERY, "invalid_query", 400, "The query parameters are not valid here.")             \
    X(INVALID_IDEMPOTENCY_KEY, "invalid_idempotency_key", 400,                                     \
      "Idempotency-Key must be 1 to 255 visible ASCII characters.")                                \
    X(DUPLICATE_COOKIE, "duplicate_cookie", 400, "The session cookie was sent more than once.")    \
    X(COOKIE_MODE_UNAVAILABLE, "cookie_mode_unavailable", 400,                                     \
      "Cookie mode needs an https GATEHOUSE_PUBLIC_URL (in development over http on loopback: "    \
      "GATEHOUSE_INSECURE_DEV_COOKIES=on).")                                                       \
    X(UNSUPPORTED_GRANT_TYPE, "unsupported_grant_type", 400, "grant_type must be refresh_token.")  \
    X(ORIGINAL_REQUEST_MISSING, "original_request_missing", 400,                                   \
      "The proxy did not say which request to check: X-Forwarded-Method, -Proto, -Host and -Uri, " \
      "or X-Original-Method and X-Original-URL.")                                                  \
    X(ORIGINAL_REQUEST_INVALID, "original_request_invalid", 400,                                   \
      "The original request cannot be read one way only (see docs/api.md, The gate).")             \
    X(OAUTH_STATE_INVALID, "oauth_state_invalid", 400,                                             \
      "This sign-in with a provider is unknown, expired or was already used; start again.")        \
    X(OAUTH_FAILED, "oauth_failed", 400,                                                           \
      "The provider did not sign you in (refused, or its answer failed a check); start again.")    \
    X(INVALID_CREDENTIALS, "invalid_credentials", 401, "Email or password is incorrect.")          \
    X(INVALID_ID_TOKEN, "invalid_id_token", 401,                                                   \
      "The ID token failed a check (signature, issuer, audience, expiry or nonce).")               \
    X(INVALID_CODE, "invalid_code", 401, "The code is not valid.")                                 \
    X(INVALID_TOKEN, "invalid_token", 401, "The access token is missing or invalid.")              \
    X(TOKEN_EXPIRED, "token_expired", 401, "This link has expired; ask for a new one.")            \
    X(TOKEN_REUSED, "token_reused", 401,                                                           \
      "This token was already replaced; every session of the account has been signed out.")        \
    X(SESSION_EXPIRED, "session_expired", 401,                                                     \
      "This session reached its maximum age; sign in again.")                                      \
    X(SIGNIN_REQUIRED, "signin_required", 401, "Sign in to reach this page.")                      \
    X(STEP_UP_REQUIRED, "step_up_required", 401,                                                   \
      "Confirm your second factor again to reach this page.")                                      \
    X(PROOF_FAILED, "proof_failed", 403, "That does not prove it is you.")                         \
    X(REAUTH_REQUIRED, "reauth_required", 403, "Sign in again to do this.")                        \
    X(EMAIL_NOT_VERIFIED, "email_not_verified", 403, "Confirm your email address first.")          \
    X(MFA_ENROLMENT_REQUIRED, "mfa_enrolment_required", 403,                                       \
      "Set up a second factor first (POST /v1/mfa/totp).")                                         \
    X(CSRF_FAILED, "csrf_failed", 403,                                                             \
      "Requests signed in by cookie must come from an allowed origin and carry the session's "     \
      "X-CSRF-Token.")                                                                             \
    X(ORIGIN_NOT_ALLOWED, "origin_not_allowed", 403,                                               \
      "This origin is not in GATEHOUSE_CORS_ORIGINS.")                                             \
    X(FORBIDDEN, "forbidden", 403, "Not allowed.")                                                 \
    X(SIGNUP_CLOSED, "signup_closed", 403,                                                         \
      "New accounts cannot be created here; sign in to an existing account.")                      \
    X(UNTRUSTED_PROXY, "untrusted_proxy", 403,                                                     \
      "Only a proxy in GATEHOUSE_TRUSTED_PROXIES may ask /v1/verify.")                             \
    X(NOT_FOUND, "not_found", 404, "No such endpoint.")                                            \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "Method not allowed here.")                   \
    X(EMAIL_TAKEN, "email_taken", 409, "An account with this email already exists.")               \
    X(IDENTITY_IN_USE, "identity_in_use", 409,                                                     \
      "This provider account is linked to another account here.")                                  \
    X(MFA_ALREADY_ENABLED, "mfa_already_enabled", 409,                                             \
      "An authenticator app is already set up; remove it first.")                                  \
    X(NO_PENDING_ENROLMENT, "no_pending_enrolment", 409,                                           \
      "Start with POST /v1/mfa/totp; there is nothing to confirm.")                                \
    X(MFA_NOT_ENABLED, "mfa_not_enabled", 409,                                                     \
      "This account has no second factor to confirm; set one up first (POST /v1/mfa/totp).")       \
    X(LINK_REQUIRED, "link_required", 409,                                                         \
      "Sign in to your account once to link this provider to it.")                                 \
    X(LAST_SIGN_IN_METHOD, "last_sign_in_method", 409,                                             \
      "This is the last way to sign in to the account; add another before removing it.")           \
    X(IDEMPOTENCY_IN_PROGRESS, "idempotency_in_progress", 409,                                     \
      "A request with this Idempotency-Key is still running; retry shortly.")                      \
    X(BODY_TOO_LARGE, "body_too_large", 413, "The request body is too large.")                     \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415,                                       \
      "Send the body as Content-Type: application/json.")                                          \
    X(UNKNOWN_FIELD, "unknown_field", 422, "The body has a field this endpoint does not take.")    \
    X(INVALID_FIELD, "invalid_field", 422, "A field has the wrong type or value.")                 \
    X(MISSING_FIELD, "missing_field", 422, "A required field is missing.")                         \
    X(INVALID_EMAIL, "invalid_email", 422, "That is not a valid email address.")                   \
    X(WEAK_PASSWORD, "weak_password", 422, "The password is too weak.")                            \
    X(CODE_MISMATCH, "code_mismatch", 422, "The code is not valid; check the app's clock.")        \
    X(IDEMPOTENCY_MISMATCH, "idempotency_mismatch", 422,                                           \
      "This Idempotency-Key was used with another request body.")                                  \
    X(RATE_LIMITED, "rate_limited", 429, "Too many attempts; try again later.")                    \
    X(HEADERS_TOO_LARGE, "headers_too_large", 431, "The request headers are too large.")           \
    X(INTERNAL_ERROR, "internal_error", 500, "Internal error; nothing was changed.")               \
    X(PROVIDER_UNAVAILABLE, "provider_unavailable", 502,                                           \
      "The identity provider cannot be reached; try again later.")                                 \
    X(OVERLOADED, "overloaded", 503, "The server is busy; try again shortly.")                     \
    X(DATABASE_UNAVAILABLE, "database_unavailable", 503,                                           \
      "The database cannot be reached; try again shortly.")                                        \
    X(SHUTTING_DOWN, "shutting_down", 503, "The server is restarting; try again.")                 \
    X(RATE_LIMITER_UNAVAILABLE, "rate_limiter_unavailable", 503,                                   \
      "The rate limiter cannot be reached, so this was not attempted; try again shortly.")

enum gh_error {
#define GH_ERROR_ENUM(name, code, status, message) GH_E_##name,
    GH_ERRORS(GH_ERROR_ENUM)
#undef GH_ERROR_ENUM
        GH_E_COUNT
};

struct gh_error_row {
    const char *code;
    int status;
    const char *message;
};

/** The row of e; an out-of-range e gives internal_error's row. */
const struct gh_error_row *gh_error_row(enum gh_error e);

/** The row whose code is code, or NULL. */
const struct gh_error_row *gh_error_by_code(const char *code);

#endif
