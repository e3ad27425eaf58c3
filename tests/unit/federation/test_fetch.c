/* The HTTP client (src/federation/fetch.c) through libcurl against a small
 * HTTP server on loopback run by this test: answers, POST bodies and Basic
 * authentication as sent, and the ways a provider can hold us: a slow
 * answer (total timeout), a huge one (the cap), a redirect (not followed),
 * a closed port, URLs that are not allowed. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "core/util.h"
#include "federation/fetch.h"
#include "federation/providers.h"

static int port;
static int hits_doc;
static char last_req[8192];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void *conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    size_t n = 0;
    /* Read the head and, for a POST, the body (Content-Length). */
    for (;;) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strcasestr(buf, "content-length:");
        size_t want = cl ? (size_t)atoi(cl + 15) : 0;
        if (n >= (size_t)(end + 4 - buf) + want) break;
    }
    pthread_mutex_lock(&mu);
    memcpy(last_req, buf, n + 1);
    pthread_mutex_unlock(&mu);
    char out[512];
    if (strncmp(buf, "GET /doc ", 9) == 0 || strncmp(buf, "POST /token ", 12) == 0) {
        if (buf[0] == 'G') __atomic_add_fetch(&hits_doc, 1, __ATOMIC_SEQ_CST);
        const char *b = "{\"ok\":true}";
        int m = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(b), b);
        send_all(fd, out, (size_t)m);
    } else if (strncmp(buf, "GET /redirect ", 14) == 0) {
        int m = snprintf(out, sizeof out,
                         "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/doc\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n",
                         port);
        send_all(fd, out, (size_t)m);
    } else if (strncmp(buf, "GET /huge", 9) == 0) {
        bool chunked = strncmp(buf, "GET /huge_close ", 16) == 0;
        const char *h = chunked ? "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                                : "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n";
        send_all(fd, h, strlen(h));
        static char spaces[65536];
        memset(spaces, ' ', sizeof spaces);
        for (int i = 0; i < 160; i++)
            send_all(fd, spaces, sizeof spaces);
    } else if (strncmp(buf, "GET /slow ", 10) == 0) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{";
        send_all(fd, h, strlen(h));
        for (int i = 0; i < 30; i++) { /* a byte a second, never done in time */
            sleep(1);
            send_all(fd, " ", 1);
        }
    } else {
        const char *h = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(fd, h, strlen(h));
    }
    close(fd);
    return NULL;
}

static void *server(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) return NULL;
        pthread_t t;
        pthread_create(&t, NULL, conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int listen_any(int *out_port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    *out_port = ntohs(a.sin_port);
    assert_int_equal(listen(ls, 16), 0);
    return ls;
}

static int setup(void **st)
{
    test_config();
    /* GATEHOUSE_OIDC_CA_FILE adds to the system's CAs: exercised here. */
    char err[256];
    setenv("GATEHOUSE_OIDC_CA_FILE", "/etc/ssl/certs/ca-certificates.crt", 1);
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0) unsetenv("GATEHOUSE_OIDC_CA_FILE");
    assert_int_equal(fed_config_load(err, sizeof err), GH_OK);
    int ls = listen_any(&port);
    pthread_t t;
    pthread_create(&t, NULL, server, (void *)(intptr_t)ls);
    pthread_detach(t);
    return 0;
}

static enum gh_err get(const char *path, struct fed_http_resp *r, char *why, size_t whylen)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct fed_http_req rq = {.url = url};
    return fed_fetch(&rq, r, why, whylen);
}

static void t_get_and_post(void **st)
{
    struct fed_http_resp r;
    char why[256];
    assert_int_equal(get("/doc", &r, why, sizeof why), GH_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true}");
    assert_int_equal(r.len, 11);
    fed_http_resp_free(&r);
    pthread_mutex_lock(&mu);
    assert_non_null(strstr(last_req, "Accept: application/json\r\n"));
    assert_null(strcasestr(last_req, "Accept-Encoding")); /* no compression asked */
    pthread_mutex_unlock(&mu);

    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", port);
    struct fed_http_req rq = {.url = url,
                              .form = "grant_type=authorization_code&code=abc",
                              .auth_user = "web-client",
                              .auth_pass = "s3cr%3Aet"};
    assert_int_equal(fed_fetch(&rq, &r, why, sizeof why), GH_OK);
    assert_int_equal(r.status, 200);
    fed_http_resp_free(&r);
    pthread_mutex_lock(&mu);
    assert_true(strncmp(last_req, "POST /token HTTP/1.1\r\n", 22) == 0);
    /* base64("web-client:s3cr%3Aet") */
    assert_non_null(strstr(last_req, "Authorization: Basic d2ViLWNsaWVudDpzM2NyJTNBZXQ=\r\n"));
    assert_non_null(strstr(last_req, "\r\n\r\ngrant_type=authorization_code&code=abc"));
    pthread_mutex_unlock(&mu);
}

static void t_redirect_not_followed(void **st)
{
    struct fed_http_resp r;
    char why[256];
    int before = __atomic_load_n(&hits_doc, __ATOMIC_SEQ_CST);
    assert_int_equal(get("/redirect", &r, why, sizeof why), GH_OK);
    assert_int_equal(r.status, 302);
    fed_http_resp_free(&r);
    assert_int_equal(__atomic_load_n(&hits_doc, __ATOMIC_SEQ_CST), before);
}

static void t_huge_refused(void **st)
{
    struct fed_http_resp r;
    char why[256];
    int64_t t0 = gh_mono_us();
    /* Announced too large: refused before the body. */
    assert_int_equal(get("/huge", &r, why, sizeof why), GH_ERR_BUSY);
    assert_string_equal(why, "response too large");
    assert_null(r.body);
    /* Not announced: cut at the cap while it streams. */
    assert_int_equal(get("/huge_close", &r, why, sizeof why), GH_ERR_BUSY);
    assert_string_equal(why, "response too large");
    assert_null(r.body);
    assert_true(gh_mono_us() - t0 < 5 * 1000000);
}

static void t_slow_times_out(void **st)
{
    struct fed_http_resp r;
    char why[256];
    int64_t t0 = gh_mono_us();
    assert_int_equal(get("/slow", &r, why, sizeof why), GH_ERR_BUSY);
    int64_t took = gh_mono_us() - t0;
    assert_null(r.body);
    assert_true(took >= (FED_FETCH_TOTAL_S - 1) * 1000000);
    assert_true(took < (FED_FETCH_TOTAL_S + 3) * 1000000); /* never a hang */
}

static void t_down_and_refused_urls(void **st)
{
    struct fed_http_resp r;
    char why[256];
    int p2;
    int ls = listen_any(&p2);
    close(ls); /* nobody listens there now */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/doc", p2);
    struct fed_http_req rq = {.url = url};
    int64_t t0 = gh_mono_us();
    assert_int_equal(fed_fetch(&rq, &r, why, sizeof why), GH_ERR_BUSY);
    assert_true(gh_mono_us() - t0 < 2 * 1000000);
    const char *bad[] = {"http://example.com/x", "ftp://127.0.0.1/x", "file:///etc/passwd",
                         "http://127.0.0.1:1/a b", "gopher://localhost/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rq.url = bad[i];
        assert_int_equal(fed_fetch(&rq, &r, why, sizeof why), GH_ERR_BUSY);
        assert_string_equal(why, "refused URL (https only)");
    }
    /* Production: even loopback must be https. */
    gh_cfg.production = true;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/doc", port);
    rq.url = url;
    assert_int_equal(fed_fetch(&rq, &r, why, sizeof why), GH_ERR_BUSY);
    gh_cfg.production = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_get_and_post),          cmocka_unit_test(t_redirect_not_followed),
        cmocka_unit_test(t_huge_refused),          cmocka_unit_test(t_slow_times_out),
        cmocka_unit_test(t_down_and_refused_urls),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    fed_config_free();
    return rc;
}
