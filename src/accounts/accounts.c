#include "accounts/accounts.h"

#include <string.h>

#include "core/util.h"

void accounts_result_init(struct accounts_result *res)
{
    memset(res, 0, sizeof *res);
}

void accounts_result_clear(struct accounts_result *res)
{
    sessions_pair_clear(&res->pair);
    gh_wipe(res->u.password_hash, sizeof res->u.password_hash);
    gh_wipe(res->mfa_token, sizeof res->mfa_token);
}
