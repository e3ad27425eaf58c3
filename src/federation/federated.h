/* The accounts logic of federated sign-in: what a verified provider
 * identity (oidc.h's claims) does to accounts. Keyed by (provider, sub),
 * never by an address alone: a provider that says an address is someone's
 * never reaches that account unless its owner, signed in, linked the
 * identity (no silent takeover). A new account is made only for a
 * verified address no account holds, while sign-up is open
 * (GATEHOUSE_SIGNUP). Every link, unlink and federated sign-in is audited
 * (identity.linked, identity.unlinked, signin.success with method "oidc"
 * and the provider, signin.failure for a refusal).
 *
 * Worker threads only (the store); nothing here does network I/O. Results
 * are GH_OK with an outcome (accounts.h) or a failure; struct
 * accounts_result is the caller's (accounts_result_clear). */
#ifndef GH_FEDERATION_FEDERATED_H
#define GH_FEDERATION_FEDERATED_H

#include <stdbool.h>
#include <stddef.h>

#include "accounts/accounts.h"
#include "core/err.h"
#include "federation/oidc.h"
#include "store/store.h"

/** A provider vouched for cl (already verified). Signs in the linked account
 *  (MFA_REQUIRED when it has a second factor, unless trust_mfa && cl->mfa), or creates
 *  one (email_verified, address free, sign-up open; name kept when given), or answers
 *  LINK_REQUIRED (address taken, or not verified: the same page either way),
 *  SIGNUP_CLOSED. Audited (signin.success method "oidc", identity.linked on create).
 *  NOT_VERIFIED for a linked account whose address is unconfirmed under
 *  GATEHOUSE_EMAIL_VERIFICATION=required, as a password sign-in. A cookie
 *  sign-in when in->cookie. GH_ERR_INVALID: provider or sub malformed. */
enum gh_err federated_signin(const struct store_ops *ops, struct store_conn *c,
                             const struct accounts_req *in, const char *provider,
                             const struct fed_claims *cl, bool trust_mfa,
                             struct accounts_result *res) GH_WUR;

/** Links provider identity cl to user_id (the person proved the account: signed in).
 *  Refused (GH_ERR_DENIED) unless cl->email_verified; GH_ERR_CONFLICT when that identity
 *  belongs to another account. Audited identity.linked. GH_OK (nothing
 *  written) when it is linked to user_id already. */
enum gh_err federated_link(const struct store_ops *ops, struct store_conn *c,
                           const struct accounts_req *in, const char *user_id, const char *provider,
                           const struct fed_claims *cl) GH_WUR;

/** Whether provider is a well-formed provider name: [a-z0-9_], 1..32. */
bool federated_provider_name_ok(const char *provider);

enum federated_unlink_outcome {
    FEDERATED_UNLINKED,    /* removed, audited identity.unlinked */
    FEDERATED_NOT_LINKED,  /* user_id has no such identity */
    FEDERATED_AMBIGUOUS,   /* several of that provider and no subject named */
    FEDERATED_LAST_METHOD, /* it is the account's last way to sign in: kept */
};

/** Removes user_id's identity at provider (subject: which one when the
 *  account has several there; NULL or "": the only one), unless it is the
 *  last way to sign in (a password; each identity; email links when the
 *  address is verified). One write transaction: two removals at once
 *  cannot both pass the check. *unlinked gets the removed identity. */
enum gh_err federated_unlink(const struct store_ops *ops, struct store_conn *c,
                             const struct accounts_req *in, const char *user_id,
                             const char *provider, const char *subject,
                             enum federated_unlink_outcome *out,
                             struct store_identity *unlinked) GH_WUR;

/** The ways user u can sign in besides identities: a password, email
 *  links (a verified address). */
int federated_other_ways(const struct store_user *u);

#endif
