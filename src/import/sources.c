/* The sources of gatehouse import (sources.h): the generic JSON lines, and
 * Auth.js and Supabase exports as rows. Auth.js column names are its
 * adapters' ("emailVerified", "userId", "providerAccountId"), Supabase's are
 * auth.users' and auth.identities' (docs/import.md). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "import/import_rows.h"
#include "import/sources.h"

struct rows_src {
    struct import_rows users;
    json_t *links; /* user id -> identities */
    bool supabase;
};

/* A column by its adapter's name, or by the snake_case name older
 * NextAuth schemas (v3) and some adapters use. */
static const json_t *col(const json_t *row, const char *name, const char *alt)
{
    const json_t *v = json_object_get(row, name);
    return v ? v : json_object_get(row, alt);
}

static const char *col_name(const json_t *row, const char *name, const char *alt)
{
    return json_object_get(row, name) ? name : alt;
}

static void refuse(struct import_item *it, const char *why)
{
    it->kind = IMPORT_ITEM_REFUSED;
    snprintf(it->why, sizeof it->why, "%s", why);
}

/* The identities of Auth.js's accounts rows into links. */
static enum gh_err authjs_links(struct import_rows *rows, json_t *links, char *why, size_t whylen)
{
    enum gh_err rc = GH_OK;
    json_t *row;
    size_t n;
    int got;
    while (rc == GH_OK && (got = import_rows_next(rows, &row, &n, why, whylen)) != 0) {
        char b1[32], m[IMPORT_REASON_MAX];
        if (got < 0) {
            snprintf(m, sizeof m, "accounts row %zu: %s", n, why);
            snprintf(why, whylen, "%s", m);
            rc = GH_ERR_INVALID;
            break;
        }
        const char *uid = import_rows_text(row, col_name(row, "userId", "user_id"), b1, sizeof b1);
        const json_t *type = col(row, "type", "provider_type");
        const json_t *prov = col(row, "provider", "provider_id");
        const json_t *sub = col(row, "providerAccountId", "provider_account_id");
        bool oauth = json_is_string(type) && (!strcmp(json_string_value(type), "oauth") ||
                                              !strcmp(json_string_value(type), "oidc"));
        if (oauth && (!uid || !json_is_string(prov) || !json_is_string(sub))) {
            snprintf(why, whylen, "accounts row %zu: no userId, provider or providerAccountId", n);
            rc = GH_ERR_INVALID;
        } else if (oauth &&
                   !import_links_add(links, uid, json_string_value(prov), json_string_value(sub))) {
            snprintf(why, whylen, "out of memory");
            rc = GH_ERR_INTERNAL;
        }
        gh_json_wipe(row); /* its access and refresh tokens */
        json_decref(row);
    }
    return rc;
}

static void put_time(json_t *o, const char *key, int64_t t)
{
    char ts[GH_RFC3339_LEN + 1];
    gh_rfc3339(ts, t);
    json_object_set_new(o, key, json_string(ts));
}

/* An Auth.js user row as the generic line's object; NULL and why if refused. */
static json_t *authjs_object(const json_t *links, const json_t *row, char *why, size_t whylen)
{
    char b[32];
    const char *id = import_rows_text(row, "id", b, sizeof b);
    const json_t *email = json_object_get(row, "email");
    if (!json_is_string(email)) {
        snprintf(why, whylen, "no email address");
        return NULL;
    }
    int64_t verified = 0, created = 0;
    int v = import_rows_time(row, col_name(row, "emailVerified", "email_verified"), &verified);
    int c = import_rows_time(row, col_name(row, "createdAt", "created_at"), &created);
    if (v < 0 || c < 0) {
        snprintf(why, whylen, "%s: not a time", v < 0 ? "emailVerified" : "createdAt");
        return NULL;
    }
    json_t *o = json_pack("{s:O,s:b}", "email", email, "email_verified", v == 1);
    if (!o) return NULL;
    import_name_copy(o, json_object_get(row, "name"));
    if (c == 1) put_time(o, "created_at", created);
    json_t *ids = id ? json_object_get(links, id) : NULL;
    if (ids) json_object_set(o, "identities", ids);
    return o;
}

/* A Supabase auth.users row; NULL with why, and *skip when it is left out
 * on purpose (deleted). */
static json_t *supabase_object(const json_t *links, const json_t *row, bool *skip, char *why,
                               size_t whylen)
{
    char b[64];
    const char *id = import_rows_text(row, "id", b, sizeof b);
    const json_t *email = json_object_get(row, "email");
    const json_t *pw = json_object_get(row, "encrypted_password");
    const json_t *meta = json_object_get(row, "raw_user_meta_data");
    int64_t deleted = 0, confirmed = 0, created = 0;
    if (import_rows_time(row, "deleted_at", &deleted) == 1) {
        *skip = true;
        snprintf(why, whylen, "deleted in Supabase (deleted_at is set)");
        return NULL;
    }
    int64_t banned = 0; /* a ban must not end by moving to Gatehouse */
    int bn = import_rows_time(row, "banned_until", &banned);
    if (bn < 0 || (bn == 1 && banned > gh_now_s())) {
        *skip = bn == 1;
        snprintf(why, whylen, "%s",
                 bn < 0 ? "banned_until: not a time"
                        : "banned in Supabase (banned_until is in the future)");
        return NULL;
    }
    if (!json_is_string(email) || !json_string_length(email)) {
        snprintf(why, whylen, "no email address (a phone-only or anonymous user)");
        return NULL;
    }
    int v = import_rows_time(row, "email_confirmed_at", &confirmed);
    int c = import_rows_time(row, "created_at", &created);
    if (v < 0 || c < 0) {
        snprintf(why, whylen, "%s: not a time", v < 0 ? "email_confirmed_at" : "created_at");
        return NULL;
    }
    json_t *o = json_pack("{s:O,s:b}", "email", email, "email_verified", v == 1);
    if (!o) return NULL;
    if (json_is_string(pw) && json_string_length(pw))
        json_object_set(o, "password_hash", (json_t *)pw);
    if (json_is_string(meta)) { /* exported as text, not as JSON */
        json_t *m = json_loads(json_string_value(meta), 0, NULL);
        const json_t *nm = json_object_get(m, "full_name");
        import_name_copy(o, nm ? nm : json_object_get(m, "name"));
        json_decref(m);
    } else {
        const json_t *nm = json_object_get(meta, "full_name");
        import_name_copy(o, nm ? nm : json_object_get(meta, "name"));
    }
    if (c == 1) put_time(o, "created_at", created);
    json_t *ids = id ? json_object_get(links, id) : NULL;
    if (ids) json_object_set(o, "identities", ids);
    return o;
}

static int rows_next(void *arg, struct import_item *it)
{
    struct rows_src *s = arg;
    json_t *row;
    int got = import_rows_next(&s->users, &row, &it->line, it->why, sizeof it->why);
    if (got == 0) return 0;
    if (got < 0) {
        it->kind = IMPORT_ITEM_REFUSED;
        return 1;
    }
    char why[IMPORT_REASON_MAX] = "";
    bool skip = false;
    json_t *o = import_row_object(s->supabase, s->links, row, &skip, why, sizeof why);
    if (!o) {
        refuse(it, why[0] ? why : "out of memory");
        if (skip) it->kind = IMPORT_ITEM_SKIPPED;
    } else if (import_record_from_json(o, &it->rec, it->why, sizeof it->why) != GH_OK) {
        it->kind = IMPORT_ITEM_REFUSED;
    } else {
        it->kind = IMPORT_ITEM_RECORD;
    }
    gh_json_wipe(o);
    json_decref(o);
    gh_json_wipe(row);
    json_decref(row);
    return 1;
}

/* Supabase's auth.identities rows into links. */
static enum gh_err supabase_links(struct import_rows *rows, json_t *links, char *why, size_t whylen)
{
    enum gh_err rc = GH_OK;
    json_t *row;
    size_t n;
    int got;
    while (rc == GH_OK && (got = import_rows_next(rows, &row, &n, why, whylen)) != 0) {
        if (got < 0) {
            char m[IMPORT_REASON_MAX];
            snprintf(m, sizeof m, "identities row %zu: %s", n, why);
            snprintf(why, whylen, "%s", m);
            rc = GH_ERR_INVALID;
            break;
        }
        char b[64];
        const char *uid = import_rows_text(row, "user_id", b, sizeof b);
        const json_t *prov = json_object_get(row, "provider");
        const json_t *sub = json_object_get(row, "provider_id");
        if (!json_is_string(sub)) /* before provider_id (2023): identity_data's sub */
            sub = json_object_get(json_object_get(row, "identity_data"), "sub");
        const char *p = json_string_value(prov);
        if (p && (!strcmp(p, "email") || !strcmp(p, "phone"))) {
            /* Supabase's own: the address and the password are imported already */
        } else if (!uid || !p || !json_is_string(sub)) {
            snprintf(why, whylen, "identities row %zu: no user_id, provider or provider_id", n);
            rc = GH_ERR_INVALID;
        } else if (!import_links_add(links, uid, p, json_string_value(sub))) {
            snprintf(why, whylen, "out of memory");
            rc = GH_ERR_INTERNAL;
        }
        gh_json_wipe(row);
        json_decref(row);
    }
    return rc;
}

json_t *import_row_object(bool supabase, const json_t *links, const json_t *row, bool *skip,
                          char *why, size_t whylen)
{
    *skip = false;
    why[0] = '\0';
    return supabase ? supabase_object(links, row, skip, why, whylen)
                    : authjs_object(links, row, why, whylen);
}

enum gh_err import_links_read(bool supabase, struct import_rows *rows, json_t *links, char *why,
                              size_t whylen)
{
    return supabase ? supabase_links(rows, links, why, whylen)
                    : authjs_links(rows, links, why, whylen);
}

static enum gh_err rows_open(bool supabase, const char *users, const char *links,
                             struct import_source *src, char *why, size_t whylen)
{
    struct rows_src *s = calloc(1, sizeof *s);
    memset(src, 0, sizeof *src);
    if (!s || !(s->links = json_object())) {
        free(s);
        snprintf(why, whylen, "out of memory");
        return GH_ERR_INTERNAL;
    }
    s->supabase = supabase;
    *src = (struct import_source){supabase ? "supabase" : "authjs", "row", rows_next, s};
    enum gh_err rc = GH_OK;
    if (links) {
        struct import_rows r;
        rc = import_rows_open(&r, links, why, whylen);
        if (rc == GH_OK) rc = import_links_read(supabase, &r, s->links, why, whylen);
        import_rows_close(&r);
    }
    if (rc == GH_OK) rc = import_rows_open(&s->users, users, why, whylen);
    if (rc) import_source_close(src);
    return rc;
}

enum gh_err authjs_open(const char *users, const char *accounts, struct import_source *src,
                        char *why, size_t whylen)
{
    return rows_open(false, users, accounts, src, why, whylen);
}

enum gh_err supabase_open(const char *users, const char *identities, struct import_source *src,
                          char *why, size_t whylen)
{
    return rows_open(true, users, identities, src, why, whylen);
}

/* ---- the generic lines ---- */

static int users_next(void *arg, struct import_item *it)
{
    struct import_rows *r = arg;
    const char *p;
    size_t len;
    if (!import_rows_line(r, &p, &len, &it->line)) return 0;
    it->kind = import_line_parse(p, len, &it->rec, it->why, sizeof it->why) == GH_OK
                   ? IMPORT_ITEM_RECORD
                   : IMPORT_ITEM_REFUSED;
    return 1;
}

enum gh_err import_users_open(const char *path, struct import_source *src, char *why, size_t whylen)
{
    struct import_rows *r = calloc(1, sizeof *r);
    memset(src, 0, sizeof *src);
    if (!r) {
        snprintf(why, whylen, "out of memory");
        return GH_ERR_INTERNAL;
    }
    *src = (struct import_source){"users", "line", users_next, r};
    enum gh_err rc = import_rows_open(r, path, why, whylen);
    /* A JSON array is rows, not lines: its lines are not accounts. */
    if (rc == GH_OK && r->array) {
        snprintf(why, whylen, "this file is a JSON array: give one JSON object per line");
        rc = GH_ERR_INVALID;
    }
    if (rc) import_source_close(src);
    return rc;
}

void import_source_close(struct import_source *src)
{
    if (!src->arg) return;
    if (!strcmp(src->name, "users")) {
        import_rows_close(src->arg);
    } else {
        struct rows_src *s = src->arg;
        import_rows_close(&s->users);
        json_decref(s->links);
    }
    free(src->arg);
    src->arg = NULL;
}
