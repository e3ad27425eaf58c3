#include "audit/audit_cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_head.h"
#include "cli/startup.h"
#include "core/config.h"
#include "core/util.h"
#include "store/pg.h"
#include "store/schema.h"
#include "store/store.h"

/* --before: an RFC 3339 UTC time ("2026-11-24T05:22:04Z", optional
 * fraction) that is a real date, rewritten in the stored form with six
 * fraction digits so the textual comparison with occurred_at is exact. */
static bool normalize_before(const char *t, char out[64])
{
    int y, mo, d, h, mi, sec, n = 0;
    if (strlen(t) > 40 ||
        sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    const char *p = t + 19;
    char frac[7] = "000000";
    if (*p == '.') {
        size_t k = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (k < 6) frac[k++] = *p;
        if (k == 0) return false;
    }
    if (strcmp(p, "Z") != 0) return false;
    int64_t when;
    if (!gh_utc_time(y, mo, d, h, mi, sec, &when)) return false;
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", y, mo, d, h, mi, sec, frac);
    return true;
}

int audit_cli(int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : "";
    int verify = !strcmp(sub, "verify") && argc == 3;
    int prune_cmd = !strcmp(sub, "prune") && argc == 5 && !strcmp(argv[3], "--before");
    int fill = !strcmp(sub, "fill") && argc == 4; /* development: benchmark data */
    if (!verify && !prune_cmd && !fill) {
        fprintf(stderr, "gatehouse: usage: gatehouse audit verify | audit prune --before "
                        "<RFC 3339 time>\n");
        return 2;
    }
    char before[64];
    if (prune_cmd && !normalize_before(argv[4], before))
        return cli_die("--before takes a valid RFC 3339 UTC time, e.g. 2026-01-01T00:00:00Z");
    /* The audit commands need the database only: no keys are loaded or
     * created, so verify is read-only and runs on a copied file too. */
    int rc = cli_load_config();
    const struct store_ops *ops = store_backend(); /* known once configured */
    struct store_conn *c = NULL;
    int pending = 0;
    /* On PostgreSQL only the retention role may delete audit rows (through
     * the gate): prune connects as it, never as the runtime role. */
    if (!rc && prune_cmd && store_pg_selected()) {
        if (!store_pg_cfg.retention_url)
            rc = cli_die("audit prune on PostgreSQL connects as the retention role: set "
                         "GATEHOUSE_DATABASE_RETENTION_URL (or _FILE), see docs/postgresql.md");
        else if (store_pg_use(store_pg_cfg.retention_url, 1) != GH_OK)
            rc = cli_die("GATEHOUSE_DATABASE_RETENTION_URL cannot be used");
    }
    if (!rc && ops->open(gh_cfg.db_path, &c) != GH_OK) rc = cli_die("cannot open the database");
    enum gh_err prc = rc ? GH_OK : ops->pending_migrations(c, &pending);
    if (prc == GH_ERR_CONFLICT)
        rc = cli_die(STORE_SCHEMA_NEWER_MSG);
    else if (!rc && (prc != GH_OK || pending))
        rc = cli_die("the database schema is out of date: run `gatehouse migrate` first");
    if (rc) {
        if (c) ops->close(c);
        cli_teardown();
        return rc;
    }
    audit_head_load();
    if (verify) {
        struct audit_verify_result res;
        int64_t t0 = gh_mono_us();
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (audit_verify_with_head(ops, c, ncpu < 1 ? 1 : (int)ncpu, &res) != GH_OK) {
            rc = cli_die("could not read the audit log");
        } else if (res.ok) {
            double s = (double)(gh_mono_us() - t0) / 1e6;
            printf("ok %lld rows\n", (long long)res.rows);
            fprintf(stderr, "verified in %.3f s (%.0f rows/s)\n", s, s > 0 ? res.rows / s : 0.0);
        } else {
            /* reason starts "row N: ..."; print the id once */
            const char *why = res.reason;
            if (strncmp(why, "row ", 4) == 0 && strstr(why, ": ")) why = strstr(why, ": ") + 2;
            printf("broken at row %lld: %s\n", (long long)res.bad_id, why);
            rc = 1;
        }
    } else if (prune_cmd) {
        struct store_audit ev = {.actor = "system", .action = "audit.checkpoint"};
        int64_t deleted = 0;
        if (ops->audit.prune(c, before, &ev, &deleted) != GH_OK) {
            rc = cli_die("retention failed");
        } else if (deleted == 0) {
            printf("0 row(s) older than %s: nothing removed and no checkpoint written (the "
                   "newest row is always kept)\n",
                   argv[4]);
        } else {
            printf("%lld row(s) older than %s removed; checkpoint recorded\n", (long long)deleted,
                   argv[4]);
        }
    } else {
        int64_t n = 0;
        if (gh_cfg.production || gh_parse_i64(argv[3], 1, 100000000, &n)) {
            rc = cli_die("audit fill N is a development-only benchmark helper");
        } else {
            struct store_audit ev = {.actor = "system",
                                     .action = "bench.fill",
                                     .target = "00000000-0000-4000-8000-000000000000",
                                     .ip = "127.0.0.1",
                                     .user_agent = "bench",
                                     .request_id = "bench",
                                     .details = "{\"n\":1}"};
            enum gh_err e = GH_OK;
            for (int64_t i = 0; e == GH_OK && i < n; i += 10000) {
                if ((e = ops->tx.begin_write(c))) break;
                for (int64_t j = i; e == GH_OK && j < n && j < i + 10000; j++)
                    e = ops->audit.append(c, &ev);
                if (e == GH_OK)
                    e = ops->tx.commit(c);
                else
                    ops->tx.rollback(c);
            }
            if (e)
                rc = cli_die("fill failed");
            else
                printf("appended %lld rows\n", (long long)n);
        }
    }
    ops->close(c);
    cli_teardown();
    return rc;
}
