/* Private to src/credentials: a stored hash taken apart (legacy_hash.c),
 * for legacy_verify.c. Holds no secret of the user's (salts and hashes are
 * not secrets); the Firebase signer key stays sealed here. */
#ifndef GH_CREDENTIALS_LEGACY_PARSE_H
#define GH_CREDENTIALS_LEGACY_PARSE_H

#include "credentials/legacy_hash.h"

#define LEGACY_SALT_MAX 128
#define LEGACY_DK_MAX 128

/* Caps on what an imported hash may ask a sign-in to spend (a hash is
 * data, and a crafted one must not hold a worker for minutes). */
#define LEGACY_BCRYPT_COST_MAX 16
#define LEGACY_MEM_KIB_MAX (256u * 1024u) /* Argon2 m, scrypt 128*r*N */
#define LEGACY_ARGON2_T_MAX 16
#define LEGACY_ARGON2_P_MAX 16
#define LEGACY_PBKDF2_ITER_MAX 10000000u

struct legacy_parsed {
    enum legacy_kind kind;
    uint32_t cost;  /* bcrypt cost, PBKDF2 iterations, Argon2 t, scrypt log2(N) */
    uint32_t m_kib; /* Argon2 memory */
    uint32_t r, p;  /* scrypt / Argon2 lanes */
    uint8_t salt[LEGACY_SALT_MAX];
    size_t salt_len;
    uint8_t sep[LEGACY_SALT_MAX]; /* Firebase salt separator */
    size_t sep_len;
    uint8_t dk[LEGACY_DK_MAX]; /* the stored derived bytes */
    size_t dk_len;
    const char *inner;  /* bcrypt: the "$2b$..." string; argon2: the PHC string */
    const char *sealed; /* Firebase: the sealed signer key */
};

/** Takes a stored hash apart and checks every field and cap. GH_ERR_INVALID
 *  (reason set when non-NULL) when malformed. Pointers in out point into
 *  stored. */
enum gh_err legacy_parse(const char *stored, struct legacy_parsed *out, char *reason,
                         size_t reasonlen) GH_WUR;

#endif
