/* Unit tests for src/mail/mail.c: the message as it goes over SMTP
 * (RFC 5321/5322 line endings and lengths, RFC 2047 subjects, header
 * injection) and operator templates (refused, never cut). */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "core/util.h"
#include "mail/mail.h"

#define ID "0b7e5c1a-8f3d-4e2a-9c6b-1d2e3f405162"
#define NOW 1700000000

static char tdir[1024];

static char *build(const char *to, const char *subject, const char *text, const char *html)
{
    char *msg = NULL;
    size_t len = 0;
    enum gh_err rc = mail_build(to, subject, text, html, ID, NOW, &msg, &len);
    if (rc != GH_OK) fail_msg("mail_build: %s", gh_err_name(rc));
    assert_int_equal(strlen(msg), len);
    return msg;
}

/* Every line ends in CRLF, none is over 998 octets, and the message ends
 * with one. */
static void assert_smtp_safe(const char *msg)
{
    size_t cur = 0;
    for (const char *p = msg; *p; p++) {
        if (*p == '\r') {
            if (p[1] != '\n') fail_msg("bare CR at offset %td", p - msg);
            cur = 0;
            p++;
        } else if (*p == '\n') {
            fail_msg("bare LF at offset %td", p - msg);
        } else if (++cur > MAIL_LINE_MAX) {
            fail_msg("a line over %d octets at offset %td", MAIL_LINE_MAX, p - msg);
        }
    }
    size_t n = strlen(msg);
    assert_true(n >= 2 && msg[n - 2] == '\r' && msg[n - 1] == '\n');
}

/* The body of the part whose Content-Type starts with type (heap). */
static char *part_body(const char *msg, const char *type, const char **cte)
{
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Content-Type: %s;", type);
    const char *h = strstr(msg, hdr);
    assert_non_null(h);
    const char *enc = strstr(h, "Content-Transfer-Encoding: ");
    assert_non_null(enc);
    enc += strlen("Content-Transfer-Encoding: ");
    *cte = strncmp(enc, "base64", 6) == 0 ? "base64" : "8bit";
    const char *start = strstr(h, "\r\n\r\n");
    assert_non_null(start);
    start += 4;
    const char *end = strstr(start, "\r\n--gh-" ID);
    assert_non_null(end);
    return strndup(start, (size_t)(end - start));
}

static void body_line_endings_become_crlf(void **state)
{
    (void)state;
    char *msg =
        build("a@example.com", "Hi", "one\ntwo\r\nthree\rfour\n\nend", "<p>x</p>\n<p>y</p>");
    assert_smtp_safe(msg);
    const char *cte;
    char *text = part_body(msg, "text/plain", &cte);
    assert_string_equal(cte, "8bit");
    assert_string_equal(text, "one\r\ntwo\r\nthree\r\nfour\r\n\r\nend");
    free(text);
    char *html = part_body(msg, "text/html", &cte);
    assert_string_equal(html, "<p>x</p>\r\n<p>y</p>");
    free(html);
    assert_non_null(strstr(msg, "\r\n--gh-" ID "--\r\n"));
    free(msg);
}

static void headers(void **state)
{
    (void)state;
    snprintf(gh_cfg.smtp_from, sizeof gh_cfg.smtp_from, "%s", "Acme <noreply@acme.test>");
    char *msg = build("a@example.com", "Sign in to Acme", "t", "h");
    assert_non_null(strstr(msg, "From: Acme <noreply@acme.test>\r\nTo: <a@example.com>\r\n"
                                "Subject: Sign in to Acme\r\nDate: Tue, 14 Nov 2023 22:13:20 "
                                "+0000\r\nMessage-ID: <" ID "@gatehouse>\r\n"));
    assert_smtp_safe(msg);
    free(msg);
}

/* Decodes every =?UTF-8?B?...?= word of the Subject header, in order. */
/* noinline: gcc -O2 otherwise warns of a dangling pointer that is not there. */
__attribute__((noinline)) static void decode_subject(const char *msg, char *out, size_t cap)
{
    const char *s = strstr(msg, "\r\nSubject:");
    assert_non_null(s);
    s += 2;
    const char *end = strstr(s, "\r\nDate:");
    assert_non_null(end);
    size_t o = 0;
    /* each line within 78 characters (RFC 5322 2.1.1), folded lines start with a space */
    for (const char *l = s; l < end;) {
        const char *e = strstr(l, "\r\n");
        assert_true(e - l <= 78);
        if (l != s) assert_true(*l == ' ');
        l = e + 2;
    }
    for (const char *w = strstr(s, "=?UTF-8?B?"); w && w < end; w = strstr(w, "=?UTF-8?B?")) {
        const char *b = w + 10, *q = strstr(b, "?=");
        assert_non_null(q);
        assert_true(q + 2 - w <= 75); /* an encoded word's limit (RFC 2047 2) */
        unsigned char bin[64];
        size_t n = 0;
        assert_int_equal(sodium_base642bin(bin, sizeof bin, b, (size_t)(q - b), NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        /* whole characters in each word (RFC 2047 5) */
        assert_true(gh_utf8_valid((const char *)bin, n));
        assert_true(o + n < cap);
        memcpy(out + o, bin, n);
        o += n;
        w = q + 2;
    }
    out[o] = '\0';
}

static void non_ascii_subject_is_encoded(void **state)
{
    (void)state;
    const char *subjects[] = {
        "Sign in to Zoë's Café",
        "Confirm your email address for 日本語のサービス・ゲートハウス認証センター",
        "Reset your password for \xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91"
        "\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91",
        "ASCII but with =?an encoded-word look?=",
    };
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
        char *msg = build("a@example.com", subjects[i], "t", "h");
        assert_smtp_safe(msg);
        assert_null(strstr(msg, subjects[i])); /* not as raw 8-bit text */
        char got[512];
        decode_subject(msg, got, sizeof got);
        assert_string_equal(got, subjects[i]);
        free(msg);
    }
}

static void refuses_header_injection_and_bad_subjects(void **state)
{
    (void)state;
    char *msg = NULL;
    size_t len = 0;
    const char *bad_to[] = {"a@example.com\r\nBcc: x@evil.test", "a@example.com\nBcc: x@e.test",
                            "a@example.com\rX: y"};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++)
        assert_int_equal(mail_build(bad_to[i], "s", "t", "h", ID, NOW, &msg, &len), GH_ERR_INVALID);
    const char *bad_subject[] = {"Hi\r\nBcc: x@evil.test", "Hi\nX: y", "Hi\rX: y",
                                 "not UTF-8 \xff\xfe", "cut \xe6\x97"};
    for (size_t i = 0; i < sizeof bad_subject / sizeof bad_subject[0]; i++)
        assert_int_equal(mail_build("a@example.com", bad_subject[i], "t", "h", ID, NOW, &msg, &len),
                         GH_ERR_INVALID);
    assert_null(msg);
}

/* A body line over 998 octets (a long link in one-line HTML) goes base64,
 * whole, rather than cut or sent over the limit. */
static void long_lines_go_base64(void **state)
{
    (void)state;
    size_t n = 3000;
    char *html = malloc(n + 32);
    assert_non_null(html);
    strcpy(html, "<p>");
    memset(html + 3, 'x', n);
    strcpy(html + 3 + n, "</p>\n<p>end</p>");
    char *msg = build("a@example.com", "s", "short text\n", html);
    assert_smtp_safe(msg);
    const char *cte;
    char *text = part_body(msg, "text/plain", &cte);
    assert_string_equal(cte, "8bit");
    free(text);
    char *b64 = part_body(msg, "text/html", &cte);
    assert_string_equal(cte, "base64");
    unsigned char *bin = malloc(n + 64);
    size_t bl = 0;
    assert_int_equal(sodium_base642bin(bin, n + 64, b64, strlen(b64), "\r\n", &bl, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    html[3 + n + 4] = '\0'; /* "<p>xxx...</p>" */
    char want[4000];
    snprintf(want, sizeof want, "%s\r\n<p>end</p>", html);
    assert_int_equal(bl, strlen(want));
    assert_memory_equal(bin, want, bl);
    free(bin);
    free(b64);
    free(html);
    free(msg);
}

static void refuses_oversized_messages(void **state)
{
    (void)state;
    size_t n = MAIL_MESSAGE_MAX;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(mail_build("a@example.com", "s", big, "h", ID, NOW, &msg, &len),
                     GH_ERR_INVALID);
    assert_null(msg);
    free(big);
}

/* ---- templates ----------------------------------------------------------- */

static void write_file(const char *name, const char *data, size_t len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void write_tpl(const char *name, const char *data)
{
    write_file(name, data, strlen(data));
}

#define LINK "https://auth.example.com/magic-link?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static enum gh_err render(const char *name, const char *ext, char **out)
{
    *out = NULL;
    return mail_template(name, ext, LINK, 30, out);
}

static void template_fills_placeholders(void **state)
{
    (void)state;
    char *out = NULL;
    write_tpl("signin.txt", "{{brand}}: {{link}} ({{minutes}} min) {{unknown}} {{{{link}}}}\n");
    assert_int_equal(render("signin", "txt", &out), GH_OK);
    assert_string_equal(out, "Gatehouse: " LINK " (30 min) {{unknown}} {{" LINK "}}\n");
    gh_free_secret_str(out);
    assert_int_equal(render("reset", "txt", &out), GH_ERR_NOT_FOUND);
    assert_null(out);
}

/* An LF-only template comes out with CRLF once built into a message. */
static void template_lf_goes_out_as_crlf(void **state)
{
    (void)state;
    char *out = NULL;
    write_tpl("verify.txt", "Hello,\n\nconfirm here:\n{{link}}\n\n-- \n{{brand}}\n");
    assert_int_equal(render("verify", "txt", &out), GH_OK);
    char *msg = build("a@example.com", "s", out, "<p>h</p>");
    assert_smtp_safe(msg);
    const char *cte;
    char *text = part_body(msg, "text/plain", &cte);
    assert_string_equal(text,
                        "Hello,\r\n\r\nconfirm here:\r\n" LINK "\r\n\r\n-- \r\nGatehouse\r\n");
    free(text);
    free(msg);
    gh_free_secret_str(out);
}

static void expect_refused(const char *name)
{
    char *out = (char *)"untouched";
    if (mail_template(name, "html", LINK, 30, &out) != GH_ERR_INVALID)
        fail_msg("template %s.html was not refused", name);
    assert_string_equal(out, "untouched");
}

static void template_refused_not_cut(void **state)
{
    (void)state;
    /* a line that only passes 998 octets once the link is in */
    char line[1100];
    size_t fill = MAIL_LINE_MAX - strlen(LINK) + 1;
    memset(line, 'x', fill);
    snprintf(line + fill, sizeof line - fill, "{{link}}\n");
    write_tpl("longline.html", line);
    expect_refused("longline");
    /* exactly 998 octets is fine, with CRLF, LF or CR after it */
    line[fill - 1] = '\0';
    char ok[1200];
    snprintf(ok, sizeof ok, "%s{{link}}\r\nnext\rlast", line);
    write_tpl("edge.html", ok);
    char *out = NULL;
    assert_int_equal(render("edge", "html", &out), GH_OK);
    assert_int_equal(strcspn(out, "\r"), MAIL_LINE_MAX);
    gh_free_secret_str(out);

    /* within the file limit, but past MAIL_TEMPLATE_OUT_MAX once filled in */
    size_t reps = MAIL_TEMPLATE_FILE_MAX / 9;
    char *many = malloc(reps * 9 + 1);
    assert_non_null(many);
    for (size_t i = 0; i < reps; i++)
        memcpy(many + i * 9, "{{link}}\n", 9);
    many[reps * 9] = '\0';
    assert_true(reps * (strlen(LINK) + 1) > MAIL_TEMPLATE_OUT_MAX);
    write_tpl("expands.html", many);
    expect_refused("expands");
    free(many);

    /* over the file limit */
    char *big = malloc(MAIL_TEMPLATE_FILE_MAX + 2);
    assert_non_null(big);
    for (size_t i = 0; i <= MAIL_TEMPLATE_FILE_MAX; i++)
        big[i] = i % 80 == 79 ? '\n' : 'a';
    big[MAIL_TEMPLATE_FILE_MAX + 1] = '\0';
    write_tpl("toobig.html", big);
    expect_refused("toobig");
    big[MAIL_TEMPLATE_FILE_MAX] = '\0'; /* exactly the limit is fine */
    write_tpl("atlimit.html", big);
    assert_int_equal(render("atlimit", "html", &out), GH_OK);
    assert_string_equal(out, big);
    gh_free_secret_str(out);
    free(big);

    write_tpl("latin1.html", "<p>Caf\xe9 {{link}}</p>");
    expect_refused("latin1");
    write_file("nul.html", "<p>{{link}}</p>\0<p>hidden</p>", 30);
    expect_refused("nul");
}

static int group_setup(void **state)
{
    (void)state;
    test_config();
    if (sodium_init() < 0) return -1;
    snprintf(gh_cfg.smtp_from, sizeof gh_cfg.smtp_from, "%s", "noreply@example.com");
    if (test_mkdtemp(tdir, sizeof tdir, "mail")) return -1;
    snprintf(gh_cfg.template_dir, sizeof gh_cfg.template_dir, "%s", tdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_line_endings_become_crlf),
        cmocka_unit_test(headers),
        cmocka_unit_test(non_ascii_subject_is_encoded),
        cmocka_unit_test(refuses_header_injection_and_bad_subjects),
        cmocka_unit_test(long_lines_go_base64),
        cmocka_unit_test(refuses_oversized_messages),
        cmocka_unit_test(template_fills_placeholders),
        cmocka_unit_test(template_lf_goes_out_as_crlf),
        cmocka_unit_test(template_refused_not_cut),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
