/* One error convention for every module: functions return enum gh_err,
 * 0 means success, and callers check every result. A backend failure
 * (GH_ERR_INTERNAL) is never confused with "not found" or "wrong secret":
 * a database outage must not read as invalid_credentials. */
#ifndef GH_CORE_ERR_H
#define GH_CORE_ERR_H

enum gh_err {
    GH_OK = 0,
    GH_ERR_NOMEM,     /* allocation failed */
    GH_ERR_INTERNAL,  /* backend / library failure: answer 500, fail closed */
    GH_ERR_NOT_FOUND, /* the thing asked for does not exist */
    GH_ERR_CONFLICT,  /* unique constraint, already exists */
    GH_ERR_INVALID,   /* input rejected by validation */
    GH_ERR_DENIED,    /* a check failed: wrong secret, revoked, expired */
    GH_ERR_CONFIG,    /* configuration or secret missing / unusable */
    GH_ERR_BUSY,      /* a bounded queue is full: answer 503 overloaded, retry later */
    /* the database cannot be reached, or its connection pool stays
     * exhausted: answer 503 database_unavailable, never a guess */
    GH_ERR_UNAVAILABLE,
};

#define GH_WUR __attribute__((warn_unused_result))

/** Short static name of an error, for logs. Never NULL. */
const char *gh_err_name(enum gh_err e);

#endif
