/* SQLite backend: accounts brought from another system (gatehouse import). */
#include "store/sqlite_internal.h"

struct import_args {
    const struct store_user *u;
    const char *name, *totp_sealed;
};

static enum gh_err import_fn(struct store_conn *c, const void *arg)
{
    const struct import_args *a = arg;
    const struct store_user *u = a->u;
    enum gh_err rc =
        SQ_INSERT(c, S_IMPORT_USER, "import user", SQ_TEXT(u->id), SQ_TEXT(u->email),
                  SQ_TEXT(u->email_key), SQ_TEXT(u->password_hash), SQ_INT(u->created_at),
                  SQ_INT(u->email_verified_at), SQ_TEXT(u->role), SQ_TEXT(a->name ? a->name : ""));
    if (rc || !a->totp_sealed) return rc;
    /* Confirmed at import: the person set it up in the other system. */
    return SQ_INSERT(c, S_IMPORT_TOTP, "import totp", SQ_TEXT(u->id), SQ_TEXT(a->totp_sealed),
                     SQ_INT(gh_now_s()));
}

/* Its own write transaction, or the caller's (the importer's batch). A
 * clash of the address leaves nothing: the factor is inserted after. */
enum gh_err sq_import_user(struct store_conn *c, const struct store_user *u, const char *name,
                           const char *totp_sealed, const struct store_audit *ev)
{
    struct import_args a = {u, name, totp_sealed};
    return sq_in_tx(c, ev, import_fn, &a);
}
