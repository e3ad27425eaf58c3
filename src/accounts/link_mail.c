#include "accounts/link_mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "http/pool.h"
#include "mail/mail.h"
#include "store/store.h"

struct magic_job {
    char email[STORE_EMAIL_MAX + 1];
    char key[STORE_EMAIL_MAX + 1];
    enum link_kind kind;
};

static const char *const link_purpose[] = {"signin", "reset", "verify"};
static const char *const link_path[] = {"magic-link", "reset-password", "verify-email"};
static const char *const link_what[] = {"sign in to", "choose a new password for",
                                        "confirm your email address for"};
static const char *const link_button[] = {"Sign in", "Choose a new password",
                                          "Confirm my email address"};
static const char *const link_subject[] = {"Sign in to", "Reset your password for",
                                           "Confirm your email address for"};

/* In the background, so the answer to the request takes the same time
 * whether or not the account exists. */
static void magic_send(void *arg, const struct store_ops *ops, struct store_conn *c)
{
    struct magic_job *j = arg;
    struct store_user u;
    memset(&u, 0, sizeof u);
    enum gh_err rc = ops->users.by_email_key(c, j->key, &u);
    gh_wipe(u.password_hash, sizeof u.password_hash);
    if (rc == GH_ERR_NOT_FOUND && (j->kind != LINK_SIGNIN || !gh_cfg.magic_link_signup))
        goto out; /* nothing to send */
    if (rc && rc != GH_ERR_NOT_FOUND) {
        gh_log(GH_LOG_ERROR, "magic link: store error");
        goto out;
    }
    const char *to = rc == GH_OK ? u.email : j->email;
    char token[44], link[700], text[1200], html[1600];
    uint8_t h[32];
    struct store_magic m;
    memset(&m, 0, sizeof m);
    snprintf(m.purpose, sizeof m.purpose, "%s", link_purpose[j->kind]);
    memcpy(m.email_key, j->key, sizeof m.email_key);
    memcpy(m.email, to, strlen(to) + 1);
    m.expires_at = gh_now_s() + gh_cfg.magic_link_ttl;
    if (gh_random_token(token, sizeof token, 32) || gh_sha256(h, token, 43) ||
        ops->links.create(c, h, &m, gh_now_s())) {
        gh_log(GH_LOG_ERROR, "magic link: cannot create the link");
        goto wipe;
    }
    const char *what = link_what[j->kind];
    snprintf(link, sizeof link, "%s/%s?token=%s", gh_cfg.public_url, link_path[j->kind], token);
    snprintf(text, sizeof text,
             "Use this link to %s %s:\r\n\r\n%s\r\n\r\nIt works once and expires in %lld "
             "minutes. If you did not ask for it, ignore this email.\r\n",
             what, gh_cfg.brand, link, (long long)(gh_cfg.magic_link_ttl / 60));
    snprintf(html, sizeof html,
             "<p>Use this link to %s %s:</p><p><a href=\"%s\">%s</a></p>"
             "<p>It works once and expires in %lld minutes. If you did not ask for it, ignore "
             "this email.</p>",
             what, gh_cfg.brand, link, link_button[j->kind],
             (long long)(gh_cfg.magic_link_ttl / 60));
    char subject[128];
    snprintf(subject, sizeof subject, "%s %s", link_subject[j->kind], gh_cfg.brand);
    /* The operator's own texts, when GATEHOUSE_TEMPLATE_DIR has them. */
    char *t_text = NULL, *t_html = NULL;
    long long minutes = (long long)(gh_cfg.magic_link_ttl / 60);
    if (mail_template(link_purpose[j->kind], "txt", link, minutes, &t_text) != GH_OK) t_text = NULL;
    if (mail_template(link_purpose[j->kind], "html", link, minutes, &t_html) != GH_OK)
        t_html = NULL;
    rc = mail_enqueue(ops, c, to, subject, t_text ? t_text : text, t_html ? t_html : html);
    gh_free_secret_str(t_text);
    gh_free_secret_str(t_html);
    if (rc != GH_OK)
        gh_log(GH_LOG_ERROR, "magic link: cannot queue the email");
    else if (!gh_cfg.production)
        gh_log(GH_LOG_INFO, "development: %s link for %s: %s", link_purpose[j->kind], to, link);
wipe:
    gh_wipe(token, sizeof token);
    gh_wipe(link, sizeof link);
    gh_wipe(text, sizeof text);
    gh_wipe(html, sizeof html);
out:
    free(j);
}

/* Queues the link job in the background (a full queue drops it). */
void link_mail_queue(const char *email, const char *key, enum link_kind kind)
{
    struct magic_job *j = calloc(1, sizeof *j);
    if (!j) return;
    j->kind = kind;
    snprintf(j->email, sizeof j->email, "%s", email);
    snprintf(j->key, sizeof j->key, "%s", key);
    if (pool_submit(POOL_DB, magic_send, j) != GH_OK) {
        gh_log(GH_LOG_WARN, "link email: queue full, request dropped");
        free(j);
    }
}
