/* Email: a persistent queue in the store (a restart loses nothing), drained
 * by a periodic job on a worker with retries and backoff, delivered over
 * SMTP through libcurl, or, in development without GATEHOUSE_SMTP_URL,
 * written as .eml files under <data dir>/outbox. Messages are sealed by the
 * vault while queued: they carry sign-in links. Store calls: workers only. */
#ifndef GH_MAIL_MAIL_H
#define GH_MAIL_MAIL_H

#include "core/err.h"
#include "store/store.h"

#define MAIL_MAX_ATTEMPTS 8

enum gh_err mail_init(void) GH_WUR;
void mail_shutdown(void);

/** Queues a message to one address (already validated) with a plain-text
 *  and an HTML body. */
enum gh_err mail_enqueue(const struct store_ops *ops, struct store_conn *c, const char *to,
                         const char *subject, const char *text, const char *html) GH_WUR;

/** Renders <GATEHOUSE_TEMPLATE_DIR>/<name>.<ext> if the operator provided
 *  it, replacing {{link}}, {{brand}} and {{minutes}}. *out is heap (it
 *  holds the link: wipe it). GH_ERR_NOT_FOUND: use the built-in text. */
enum gh_err mail_template(const char *name, const char *ext, const char *link, long long minutes,
                          char **out) GH_WUR;

/** Periodic job: delivers what is due. */
void mail_deliver(const struct store_ops *ops, struct store_conn *c);

#endif
