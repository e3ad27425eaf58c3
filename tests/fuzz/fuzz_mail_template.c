/* Fuzzes mail_template (an operator's email template, written to a file
 * from the input) and mail_build on what it renders. Properties: a rendered
 * template is exactly the naive expansion of the file, NUL-terminated,
 * within MAIL_TEMPLATE_OUT_MAX, UTF-8, no line over MAIL_LINE_MAX; a
 * refused one (GH_ERR_INVALID) is over a limit, not UTF-8 or holds a NUL,
 * never cut; the built message has CRLF line endings only and no line over
 * MAIL_LINE_MAX. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "fuzz.h"
#include "mail/mail.h"

#define LINK "https://auth.example.com/magic-link?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define BRAND "Acm\xc3\xa9 {{link}}" /* a brand that looks like a placeholder is not expanded */

/* The expansion, computed the slow and obvious way; NULL past max. */
static char *expand(const char *tpl, size_t max, size_t *len)
{
    static const char *const keys[] = {"{{link}}", "{{brand}}", "{{minutes}}"};
    static const char *const vals[] = {LINK, BRAND, "30"};
    char *out = malloc(max + 1);
    size_t o = 0;
    while (out && *tpl) {
        size_t k = 0;
        while (k < 3 && strncmp(tpl, keys[k], strlen(keys[k])) != 0)
            k++;
        const char *v = k < 3 ? vals[k] : tpl;
        size_t vl = k < 3 ? strlen(v) : 1;
        if (o + vl > max) {
            free(out);
            return NULL;
        }
        memcpy(out + o, v, vl);
        o += vl;
        tpl += k < 3 ? strlen(keys[k]) : 1;
    }
    if (out) out[o] = '\0';
    *len = o;
    return out;
}

static size_t longest_line(const char *s)
{
    size_t max = 0, cur = 0;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            cur = 0;
        else if (++cur > max)
            max = cur;
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[512], path[600];
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/fuzz_mail_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof path, "%s/signin.txt", dir);
        snprintf(gh_cfg.template_dir, sizeof gh_cfg.template_dir, "%s", dir);
        snprintf(gh_cfg.brand, sizeof gh_cfg.brand, "%s", BRAND);
        snprintf(gh_cfg.smtp_from, sizeof gh_cfg.smtp_from, "%s",
                 "Gatehouse <noreply@example.com>");
        gh_log_set_level(GH_LOG_CRIT); /* refusals log warnings */
        FUZZ_CHECK(sodium_init() >= 0);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size);
    close(fd);

    char *out = NULL;
    enum gh_err rc = mail_template("signin", "txt", LINK, 30, &out);
    FUZZ_CHECK(rc == GH_OK || rc == GH_ERR_INVALID);

    char *tpl = malloc(size + 1);
    FUZZ_CHECK(tpl != NULL);
    memcpy(tpl, data, size);
    tpl[size] = '\0';
    size_t want_len = 0;
    char *want = expand(tpl, MAIL_TEMPLATE_OUT_MAX, &want_len);
    bool acceptable = size <= MAIL_TEMPLATE_FILE_MAX && !memchr(data, 0, size) &&
                      gh_utf8_valid(tpl, size) && want && longest_line(want) <= MAIL_LINE_MAX;
    FUZZ_CHECK((rc == GH_OK) == acceptable);
    if (rc == GH_OK) {
        FUZZ_CHECK(strlen(out) == want_len && memcmp(out, want, want_len + 1) == 0);
        char *msg = NULL;
        size_t len = 0;
        FUZZ_CHECK(mail_build("a@example.com", "Sign in to Acm\xc3\xa9", out, "<p>h</p>",
                              "00000000-0000-4000-8000-000000000000", 1700000000, &msg,
                              &len) == GH_OK);
        FUZZ_CHECK(strlen(msg) == len);
        size_t cur = 0;
        for (size_t i = 0; i < len; i++) {
            if (msg[i] == '\r') {
                FUZZ_CHECK(msg[i + 1] == '\n');
                i++;
                cur = 0;
            } else {
                FUZZ_CHECK(msg[i] != '\n' && ++cur <= MAIL_LINE_MAX);
            }
        }
        gh_free_secret_str(msg);
        gh_free_secret_str(out);
    }
    free(want);
    free(tpl);
    return 0;
}
