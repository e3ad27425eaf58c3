#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

struct gh_config gh_cfg;

/* OWASP's minimum for Argon2id (m = 19 MiB, t = 2, p = 1); see
 * docs/decisions/0002-argon2id-parameters.md. */
#define ARGON2_MIN_PROD_KIB 19456
#define ARGON2_MIN_PROD_T 2

enum gh_err config_read_file(const char *path, size_t maxlen, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return GH_ERR_NOT_FOUND;
    char *buf = malloc(maxlen + 1);
    if (!buf) {
        close(fd);
        return GH_ERR_NOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, maxlen - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close(fd);
            gh_wipe(buf, len);
            free(buf);
            return GH_ERR_INTERNAL;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len == maxlen) break;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    return GH_OK;
}

const char *config_env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

enum gh_err config_env_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out,
                           char *err, size_t errlen)
{
    const char *v = config_env(name);
    if (!v) {
        *out = def;
        return GH_OK;
    }
    if (gh_parse_i64(v, min, max, out) != GH_OK) {
        snprintf(err, errlen, "%s must be an integer between %lld and %lld", name, (long long)min,
                 (long long)max);
        return GH_ERR_CONFIG;
    }
    return GH_OK;
}

/* "COUNT/SECONDS" (1..1000000 per 1..2592000 s). */
bool config_parse_rate(const char *v, int *count, int64_t *period_s)
{
    char num[24], per[24];
    const char *slash = strchr(v, '/');
    int64_t n = 0, p = 0;
    if (!slash || (size_t)(slash - v) >= sizeof num || strlen(slash + 1) >= sizeof per)
        return false;
    memcpy(num, v, (size_t)(slash - v));
    num[slash - v] = '\0';
    snprintf(per, sizeof per, "%s", slash + 1);
    if (gh_parse_i64(num, 1, 1000000, &n) != GH_OK ||
        gh_parse_i64(per, 1, 30 * 86400, &p) != GH_OK || p * 1000000 / n < 1)
        return false;
    *count = (int)n;
    *period_s = p;
    return true;
}

enum gh_err config_env_secret(const char *name, char **out, char *err, size_t errlen)
{
    char fname[128];
    snprintf(fname, sizeof fname, "%s_FILE", name);
    const char *v = config_env(name), *f = config_env(fname);
    *out = NULL;
    if (v && f) {
        snprintf(err, errlen, "set only one of %s and %s", name, fname);
        return GH_ERR_CONFIG;
    }
    if (v) {
        *out = strdup(v);
        if (!*out) return GH_ERR_NOMEM;
        /* Keep one copy only: wipe the environment's and drop the variable,
         * so it is neither in memory twice nor inherited by children. */
        gh_wipe((char *)v, strlen(v));
        unsetenv(name);
        return GH_OK;
    }
    if (f) {
        struct stat st;
        if (stat(f, &st) == 0 && (st.st_mode & 077)) {
            if (gh_cfg.production) {
                snprintf(err, errlen, "%s: %s is readable by other users; chmod 600 it", fname, f);
                return GH_ERR_CONFIG;
            }
            fprintf(stderr, "gatehouse: warning: %s is readable by other users\n", f);
        }
        enum gh_err rc = config_read_file(f, 64 * 1024, out);
        if (rc) {
            snprintf(err, errlen, "%s: cannot read %s", fname, f);
            return GH_ERR_CONFIG;
        }
    }
    return GH_OK;
}

static enum gh_err parse_listen(const char *v, char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':');
    int64_t port;
    if (!colon || colon == v || gh_parse_i64(colon + 1, 0, 65535, &port) != GH_OK ||
        (size_t)(colon - v) >= sizeof gh_cfg.listen_host) {
        snprintf(err, errlen, "GATEHOUSE_LISTEN must be host:port (got \"%s\")", v);
        return GH_ERR_CONFIG;
    }
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2; /* [::1]:8080 */
    memcpy(gh_cfg.listen_host, h, hl);
    gh_cfg.listen_host[hl] = '\0';
    gh_cfg.listen_port = (int)port;
    return GH_OK;
}

enum gh_err config_env_str(char *dst, size_t cap, const char *name, const char *def, char *err,
                           size_t errlen)
{
    const char *v = config_env(name);
    if (!v) v = def;
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "%s is too long (max %zu bytes)", name, cap - 1);
        return GH_ERR_CONFIG;
    }
    snprintf(dst, cap, "%s", v);
    return GH_OK;
}

/* The instance's name and address: where it listens, where its data is,
 * and who it says it is (issuer, audience, brand, public URL). */
static enum gh_err load_identity(char *err, size_t errlen)
{
    enum gh_err rc;
    const char *listen = config_env("GATEHOUSE_LISTEN");
    if ((rc = parse_listen(listen ? listen : "127.0.0.1:8080", err, errlen))) return rc;
    if ((rc = config_env_str(gh_cfg.data_dir, sizeof gh_cfg.data_dir, "GATEHOUSE_DATA_DIR", "./var",
                             err, errlen)))
        return rc;
    snprintf(gh_cfg.db_path, sizeof gh_cfg.db_path, "%s/gatehouse.db", gh_cfg.data_dir);

    char def_issuer[300];
    snprintf(def_issuer, sizeof def_issuer, "http://%s:%d", gh_cfg.listen_host, gh_cfg.listen_port);
    if ((rc = config_env_str(gh_cfg.issuer, sizeof gh_cfg.issuer, "GATEHOUSE_ISSUER", def_issuer,
                             err, errlen)))
        return rc;
    gh_cfg.issuer_defaulted = config_env("GATEHOUSE_ISSUER") == NULL;
    if ((rc = config_env_str(gh_cfg.audience, sizeof gh_cfg.audience, "GATEHOUSE_AUDIENCE",
                             "gatehouse", err, errlen)))
        return rc;
    if ((rc = config_env_str(gh_cfg.brand, sizeof gh_cfg.brand, "GATEHOUSE_BRAND", "Gatehouse", err,
                             errlen)))
        return rc;
    /* It goes into email subjects and bodies: no control characters
     * (header injection), and UTF-8 so it can be RFC 2047 encoded. */
    bool brand_ok = gh_utf8_valid(gh_cfg.brand, strlen(gh_cfg.brand));
    for (const char *p = gh_cfg.brand; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) brand_ok = false;
    if (!brand_ok) {
        snprintf(err, errlen, "GATEHOUSE_BRAND must be UTF-8 text without control characters");
        return GH_ERR_CONFIG;
    }
    return config_env_str(gh_cfg.public_url, sizeof gh_cfg.public_url, "GATEHOUSE_PUBLIC_URL",
                          gh_cfg.issuer, err, errlen);
}

/* What the process may use: Argon2id's cost, the body size, threads and
 * connections. */
static enum gh_err load_resources(char *err, size_t errlen)
{
    enum gh_err rc;
    int64_t v;
    if ((rc = config_env_int("GATEHOUSE_ARGON2_MEMORY_KIB", ARGON2_MIN_PROD_KIB, 1024,
                             4 * 1024 * 1024, &v, err, errlen)))
        return rc;
    gh_cfg.argon2_memory_kib = (uint64_t)v;
    if ((rc = config_env_int("GATEHOUSE_ARGON2_ITERATIONS", ARGON2_MIN_PROD_T, 1, 100, &v, err,
                             errlen)))
        return rc;
    gh_cfg.argon2_iterations = (uint64_t)v;
    if ((rc = config_env_int("GATEHOUSE_PASSWORD_MIN_SCORE", 3, 0, 4, &v, err, errlen))) return rc;
    gh_cfg.password_min_score = (int)v;
    if ((rc = config_env_int("GATEHOUSE_MAX_BODY", 65536, 1024, 16 * 1024 * 1024, &v, err, errlen)))
        return rc;
    gh_cfg.max_body = (size_t)v;

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if ((rc = config_env_int("GATEHOUSE_THREADS", ncpu, 1, 256, &v, err, errlen))) return rc;
    gh_cfg.loops = (int)v;
    if ((rc = config_env_int("GATEHOUSE_WORKERS", ncpu * 2 < 4 ? 4 : ncpu * 2, 1, 256, &v, err,
                             errlen)))
        return rc;
    gh_cfg.workers = (int)v;
    /* Twice the Argon2id slots (one per CPU, credentials/password.c): while
     * one sign-in waits on the database, another hashes. */
    if ((rc = config_env_int("GATEHOUSE_HASH_WORKERS", ncpu * 2, 1, 256, &v, err, errlen)))
        return rc;
    gh_cfg.hash_workers = (int)v;
    if ((rc = config_env_int("GATEHOUSE_MAX_CONNECTIONS", 0, 0, 1 << 20, &v, err, errlen)))
        return rc;
    gh_cfg.max_connections = (int)v; /* checked against the open-file limit at start */
    return GH_OK;
}

enum gh_err config_load(char *err, size_t errlen)
{
    enum gh_err rc;
    memset(&gh_cfg, 0, sizeof gh_cfg);
    err[0] = '\0';

    const char *mode = config_env("GATEHOUSE_ENV");
    if (!mode || strcmp(mode, "development") == 0) {
        gh_cfg.production = false;
    } else if (strcmp(mode, "production") == 0) {
        gh_cfg.production = true;
    } else {
        snprintf(err, errlen, "GATEHOUSE_ENV must be development or production");
        return GH_ERR_CONFIG;
    }
    if ((rc = load_identity(err, errlen))) return rc;
    return load_resources(err, errlen);
}

enum gh_err config_check_production(char *err, size_t errlen)
{
    if (gh_cfg.production) {
        /* Name every problem at once, so one restart fixes them all. */
        size_t used = 0;
        if (!gh_cfg.master_key)
            used +=
                (size_t)snprintf(err + used, errlen - used,
                                 "GATEHOUSE_MASTER_KEY (or GATEHOUSE_MASTER_KEY_FILE) is "
                                 "required in production: 32 random bytes in base64 or hex "
                                 "(`openssl rand -base64 32`); it seals the signing keys "
                                 "(GATEHOUSE_SIGNING_KEY optionally imports an existing one). ");
        if (used < errlen && (gh_cfg.argon2_memory_kib < ARGON2_MIN_PROD_KIB ||
                              gh_cfg.argon2_iterations < ARGON2_MIN_PROD_T))
            used += (size_t)snprintf(err + used, errlen - used,
                                     "GATEHOUSE_ARGON2_MEMORY_KIB/GATEHOUSE_ARGON2_ITERATIONS "
                                     "below OWASP's minimum (m=%d KiB, t=%d) are refused in "
                                     "production. ",
                                     ARGON2_MIN_PROD_KIB, ARGON2_MIN_PROD_T);
        if (used) return GH_ERR_CONFIG;
    }
    return GH_OK;
}

void config_free(void)
{
    gh_free_secret_str(gh_cfg.signing_key_pem);
    gh_cfg.signing_key_pem = NULL;
    gh_free_secret_str(gh_cfg.master_key);
    gh_cfg.master_key = NULL;
    gh_free_secret_str(gh_cfg.smtp_password);
    free(gh_cfg.smtp_url);
    free(gh_cfg.smtp_user);
    gh_cfg.smtp_password = gh_cfg.smtp_url = gh_cfg.smtp_user = NULL;
}
