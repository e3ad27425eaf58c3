#include "import/import_run.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/util.h"
#include "credentials/legacy_hash.h"
#include "sessions/sessions.h"
#include "vault/vault.h"

_Static_assert(STORE_HASH_MAX >= LEGACY_HASH_MAX, "an imported hash must fit users.password_hash");

/* One skipped or refused line of the report. */
struct report_line {
    size_t line;
    bool refused;
    char why[IMPORT_REASON_MAX];
};

struct run {
    const struct store_ops *ops;
    struct store_conn *c;
    const struct import_source *src;
    bool dry_run;
    bool in_tx;
    size_t in_batch;                     /* items read in the open transaction */
    size_t imported, batch_imported;     /* committed; in the open batch */
    size_t unverified, batch_unverified; /* of those, email_verified false */
    size_t skipped, refused;
    struct report_line *lines;
    size_t n_lines, cap_lines;
    json_t *seen;      /* addresses and identities of the lines taken so far */
    json_t *providers; /* provider name -> identities imported with it */
};

const char *import_format_name(const char *stored)
{
    return legacy_kind_name(legacy_hash_kind(stored));
}

static bool note(struct run *r, size_t line, bool refused, const char *why)
{
    if (r->n_lines == r->cap_lines) {
        size_t cap = r->cap_lines ? r->cap_lines * 2 : 64;
        struct report_line *n = realloc(r->lines, cap * sizeof *n);
        if (!n) return false;
        r->lines = n;
        r->cap_lines = cap;
    }
    struct report_line *l = &r->lines[r->n_lines++];
    l->line = line;
    l->refused = refused;
    snprintf(l->why, sizeof l->why, "%s", why);
    if (refused)
        r->refused++;
    else
        r->skipped++;
    return true;
}

static void identity_key(const struct import_identity *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s\n%s", id->provider, id->subject);
}

/* A duplicate: why it is skipped into why, or "" if it is new.
 * GH_ERR_INTERNAL when the store cannot say. */
static enum gh_err duplicate(struct run *r, const struct import_record *rec, char *why,
                             size_t whylen)
{
    why[0] = '\0';
    json_t *prev = json_object_get(r->seen, rec->email_key);
    if (prev) {
        snprintf(why, whylen, "line %lld of this file has the same address",
                 (long long)json_integer_value(prev));
        return GH_OK;
    }
    struct store_user u;
    enum gh_err rc = r->ops->users.by_email_key(r->c, rec->email_key, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc == GH_OK) {
        snprintf(why, whylen, "an account with this address exists");
        return GH_OK;
    }
    if (rc != GH_ERR_NOT_FOUND) return GH_ERR_INTERNAL;
    for (size_t i = 0; i < rec->n_identities; i++) {
        const struct import_identity *id = &rec->identities[i];
        char key[STORE_PROVIDER_MAX + STORE_SUBJECT_MAX + 2];
        identity_key(id, key, sizeof key);
        if ((prev = json_object_get(r->seen, key))) {
            snprintf(why, whylen, "line %lld of this file has the same %s identity",
                     (long long)json_integer_value(prev), id->provider);
            return GH_OK;
        }
        struct store_identity si;
        rc = r->ops->identities.by_subject(r->c, id->provider, id->subject, &si);
        if (rc == GH_OK) {
            snprintf(why, whylen, "this %s identity is linked to an account already", id->provider);
            return GH_OK;
        }
        if (rc != GH_ERR_NOT_FOUND) return GH_ERR_INTERNAL;
    }
    return GH_OK;
}

static void remember(struct run *r, const struct import_record *rec, size_t line)
{
    json_object_set_new(r->seen, rec->email_key, json_integer((json_int_t)line));
    for (size_t i = 0; i < rec->n_identities; i++) {
        char key[STORE_PROVIDER_MAX + STORE_SUBJECT_MAX + 2];
        identity_key(&rec->identities[i], key, sizeof key);
        json_object_set_new(r->seen, key, json_integer((json_int_t)line));
        json_t *n = json_object_get(r->providers, rec->identities[i].provider);
        json_object_set_new(r->providers, rec->identities[i].provider,
                            json_integer(json_integer_value(n) + 1));
    }
}

/* The account's row: the hash turned into what Gatehouse stores (a refusal
 * into why), the TOTP secret sealed for the new id. */
static enum gh_err build(const struct import_record *rec, struct store_user *u, char **sealed,
                         char *why, size_t whylen)
{
    memset(u, 0, sizeof *u);
    sessions_new_id(u->id);
    snprintf(u->email, sizeof u->email, "%s", rec->email);
    snprintf(u->email_key, sizeof u->email_key, "%s", rec->email_key);
    snprintf(u->role, sizeof u->role, "%s", rec->role);
    int64_t now = gh_now_s();
    u->created_at = u->updated_at = rec->created_at ? rec->created_at : now;
    u->email_verified_at = rec->email_verified ? now : 0;
    snprintf(u->password_hash, sizeof u->password_hash, "!"); /* no password */
    if (rec->password_hash[0]) {
        char out[LEGACY_HASH_MAX + 1], reason[IMPORT_REASON_MAX - 32];
        enum gh_err rc = legacy_hash_import(rec->password_hash, rec->hash_format, u->id, out,
                                            reason, sizeof reason);
        if (rc == GH_OK) memcpy(u->password_hash, out, strlen(out) + 1);
        gh_wipe(out, sizeof out);
        if (rc == GH_ERR_INVALID) {
            snprintf(why, whylen, "password_hash: %s", reason[0] ? reason : "not accepted");
            return GH_ERR_INVALID;
        }
        if (rc) return rc;
    }
    if (rec->has_totp) {
        enum gh_err rc =
            vault_seal("mfa_totp", "secret_sealed", u->id, rec->totp, TOTP_SECRET_BYTES, sealed);
        if (rc == GH_OK && strlen(*sealed) > STORE_SEALED_MAX) rc = GH_ERR_INTERNAL;
        if (rc) return GH_ERR_INTERNAL;
    }
    return GH_OK;
}

static enum gh_err write_account(struct run *r, const struct import_record *rec,
                                 const struct store_user *u, const char *sealed)
{
    char details[160];
    json_t *d = json_pack("{s:s,s:s}", "source", r->src->name, "format",
                          import_format_name(u->password_hash));
    char *txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (!txt || strlen(txt) >= sizeof details) {
        free(txt);
        return GH_ERR_INTERNAL;
    }
    snprintf(details, sizeof details, "%s", txt);
    free(txt);
    struct store_audit ev = {
        .actor = "system", .action = "user.imported", .target = u->id, .details = details};
    enum gh_err rc = r->ops->import.user(r->c, u, rec->name, sealed, audit_enabled() ? &ev : NULL);
    for (size_t i = 0; rc == GH_OK && i < rec->n_identities; i++) {
        struct store_identity id;
        memset(&id, 0, sizeof id);
        snprintf(id.provider, sizeof id.provider, "%s", rec->identities[i].provider);
        snprintf(id.subject, sizeof id.subject, "%s", rec->identities[i].subject);
        snprintf(id.user_id, sizeof id.user_id, "%s", u->id);
        /* id.email stays "": no provider said an address (it says one at sign-in) */
        id.created_at = gh_now_s();
        rc = r->ops->identities.link(r->c, &id, NULL);
    }
    return rc;
}

/* One account: refused, skipped or imported (in the open batch). */
static enum gh_err take(struct run *r, struct import_item *it)
{
    char why[IMPORT_REASON_MAX];
    struct store_user u;
    char *sealed = NULL;
    enum gh_err rc = build(&it->rec, &u, &sealed, why, sizeof why);
    if (rc == GH_ERR_INVALID) {
        rc = note(r, it->line, true, why) ? GH_OK : GH_ERR_INTERNAL;
        goto out;
    }
    if (rc == GH_OK) rc = duplicate(r, &it->rec, why, sizeof why);
    if (rc == GH_OK && why[0]) {
        rc = note(r, it->line, false, why) ? GH_OK : GH_ERR_INTERNAL;
        goto out;
    }
    if (rc == GH_OK && !r->dry_run) rc = write_account(r, &it->rec, &u, sealed);
    if (rc) goto out;
    remember(r, &it->rec, it->line);
    r->batch_imported++;
    if (!it->rec.email_verified) r->batch_unverified++;
out:
    gh_wipe(u.password_hash, sizeof u.password_hash);
    gh_free_secret_str(sealed);
    return rc;
}

static enum gh_err commit(struct run *r)
{
    if (r->in_tx) {
        r->in_tx = false;
        if (r->ops->tx.commit(r->c)) return GH_ERR_INTERNAL;
    }
    r->imported += r->batch_imported;
    r->unverified += r->batch_unverified;
    r->batch_imported = r->batch_unverified = 0;
    r->in_batch = 0;
    return GH_OK;
}

static enum gh_err one(struct run *r, struct import_item *it)
{
    if (it->kind != IMPORT_ITEM_RECORD)
        return note(r, it->line, it->kind == IMPORT_ITEM_REFUSED, it->why) ? GH_OK
                                                                           : GH_ERR_INTERNAL;
    if (!r->dry_run && !r->in_tx) {
        if (r->ops->tx.begin_write(r->c)) return GH_ERR_INTERNAL;
        r->in_tx = true;
    }
    enum gh_err rc = take(r, it);
    if (rc == GH_OK && ++r->in_batch >= IMPORT_BATCH) rc = commit(r);
    return rc;
}

static void print_warnings(const struct run *r, FILE *out)
{
    const char *name;
    json_t *n;
    json_object_foreach(r->providers, name, n)
    {
        char var[96];
        size_t o = (size_t)snprintf(var, sizeof var, "GATEHOUSE_OIDC_");
        for (const char *p = name; *p && o + 1 < sizeof var; p++)
            var[o++] = (char)toupper((unsigned char)*p);
        var[o] = '\0';
        snprintf(var + o, sizeof var - o, "_CLIENT_ID");
        if (getenv(var)) continue;
        fprintf(out,
                "warning: %lld imported identit%s of provider \"%s\": it is not configured "
                "(%s is not set), so they cannot sign in with it until it is\n",
                (long long)json_integer_value(n), json_integer_value(n) == 1 ? "y" : "ies", name,
                var);
    }
}

static void print_report(const struct run *r, FILE *out)
{
    if (r->dry_run) fprintf(out, "dry run: nothing was written\n");
    fprintf(out, "imported: %zu\nskipped: %zu\nrefused: %zu\n", r->imported, r->skipped,
            r->refused);
    for (size_t i = 0; i < r->n_lines; i++)
        fprintf(out, "%s %zu: %s: %s\n", r->src->unit, r->lines[i].line,
                r->lines[i].refused ? "refused" : "skipped", r->lines[i].why);
    print_warnings(r, out);
    if (r->unverified)
        fprintf(out,
                "note: %zu imported account%s email_verified=false: the first emailed link "
                "the owner follows proves the address. Until then its owner can reclaim it: "
                "following a sign-in link removes the imported password and ends every "
                "session (docs/import.md)\n",
                r->unverified, r->unverified == 1 ? " has" : "s have");
}

int import_run(const struct store_ops *ops, struct store_conn *c, const struct import_source *src,
               bool dry_run, FILE *out)
{
    struct run r = {.ops = ops, .c = c, .src = src, .dry_run = dry_run};
    r.seen = json_object();
    r.providers = json_object();
    int status = 0;
    struct import_item it;
    int more = 1;
    size_t at = 0;
    enum gh_err rc = r.seen && r.providers ? GH_OK : GH_ERR_INTERNAL;
    while (rc == GH_OK) {
        memset(&it, 0, sizeof it);
        if ((more = src->next(src->arg, &it)) <= 0) break;
        at = it.line;
        rc = one(&r, &it);
        import_record_clear(&it.rec);
    }
    if (rc == GH_OK && more == 0) rc = commit(&r);
    if (r.in_tx) ops->tx.rollback(c);
    if (rc || more < 0) {
        if (more < 0)
            fprintf(stderr, "gatehouse: the input cannot be read further: %s\n", it.why);
        else
            fprintf(stderr,
                    "gatehouse: the store failed at %s %zu; the batch under way was rolled "
                    "back. Run the same import again: what is in already is skipped.\n",
                    src->unit, at);
        import_record_clear(&it.rec);
        status = 2;
    } else {
        status = r.refused ? 1 : 0;
    }
    print_report(&r, out);
    free(r.lines);
    json_decref(r.seen);
    json_decref(r.providers);
    return status;
}
