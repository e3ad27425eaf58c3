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
#define MAIL_LINE_MAX 998              /* octets a line, CRLF excluded (RFC 5322 2.1.1) */
#define MAIL_TEMPLATE_FILE_MAX 16384   /* an operator template file */
#define MAIL_TEMPLATE_OUT_MAX 65536    /* a template once its placeholders are filled in */
#define MAIL_MESSAGE_MAX (1024 * 1024) /* a whole message as queued */

enum gh_err mail_init(void) GH_WUR;
void mail_shutdown(void);

/** Queues a message to one address (already validated) with a plain-text
 *  and an HTML body (see mail_build). GH_ERR_INVALID: refused by mail_build. */
enum gh_err mail_enqueue(const struct store_ops *ops, struct store_conn *c, const char *to,
                         const char *subject, const char *text, const char *html) GH_WUR;

/** Builds the RFC 5322 message (multipart/alternative, text then HTML) the
 *  queue stores. Every body line ending (LF, CR or CRLF) becomes CRLF; a
 *  body with a line over MAIL_LINE_MAX goes base64 instead of 8bit; a
 *  subject with anything but printable ASCII is RFC 2047 encoded
 *  (=?UTF-8?B?...?=, folded). GH_ERR_INVALID if to or subject holds CR or
 *  LF (header injection), subject is not UTF-8, or the message would pass
 *  MAIL_MESSAGE_MAX; GH_ERR_NOMEM. id names the boundary and Message-ID; now is the
 *  Date. On GH_OK *out is heap (NUL-terminated, *len bytes before the NUL)
 *  and holds the bodies: wipe and free it. */
enum gh_err mail_build(const char *to, const char *subject, const char *text, const char *html,
                       const char *id, int64_t now, char **out, size_t *len) GH_WUR;

/** Renders <GATEHOUSE_TEMPLATE_DIR>/<name>.<ext> if the operator provided
 *  it, replacing {{link}}, {{brand}} and {{minutes}}. *out is heap (it
 *  holds the link: wipe it). GH_ERR_NOT_FOUND: no such template, use the
 *  built-in text. GH_ERR_INVALID: the template is refused (over
 *  MAIL_TEMPLATE_FILE_MAX, a NUL byte, not UTF-8, or once filled in over
 *  MAIL_TEMPLATE_OUT_MAX or with a line over MAIL_LINE_MAX), logged as a
 *  warning: use the built-in text. Never cut short. */
enum gh_err mail_template(const char *name, const char *ext, const char *link, long long minutes,
                          char **out) GH_WUR;

/** Queues a notice (no link) to one address: the operator's templates
 *  <name>.txt / <name>.html when present and accepted, else the built-in
 *  text and html given. As mail_enqueue. */
enum gh_err mail_enqueue_notice(const struct store_ops *ops, struct store_conn *c, const char *to,
                                const char *name, const char *subject, const char *text,
                                const char *html) GH_WUR;

/** Periodic job: delivers what is due. */
void mail_deliver(const struct store_ops *ops, struct store_conn *c);

#endif
