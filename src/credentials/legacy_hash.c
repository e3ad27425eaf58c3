#include "credentials/legacy_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/util.h"
#include "credentials/legacy_parse.h"
#include "vault/vault.h"

#define PFX_BCS_HEX "{bcrypt_sha256_hex}"
#define PFX_BCS_B64 "{bcrypt_sha256_base64}"
#define PFX_FIREBASE "{firebase_scrypt}"

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

enum legacy_kind legacy_hash_kind(const char *s)
{
    if (!s) return LEGACY_UNKNOWN;
    if (strcmp(s, "!") == 0) return LEGACY_NONE;
    if (starts(s, "$argon2id$")) return LEGACY_ARGON2ID;
    if (starts(s, "$argon2i$")) return LEGACY_ARGON2I;
    if (starts(s, "$2a$") || starts(s, "$2b$") || starts(s, "$2y$")) return LEGACY_BCRYPT;
    if (starts(s, PFX_BCS_HEX)) return LEGACY_BCRYPT_SHA256_HEX;
    if (starts(s, PFX_BCS_B64)) return LEGACY_BCRYPT_SHA256_BASE64;
    if (starts(s, "$scrypt$")) return LEGACY_SCRYPT;
    if (starts(s, PFX_FIREBASE)) return LEGACY_FIREBASE_SCRYPT;
    if (starts(s, "pbkdf2_sha256$")) return LEGACY_PBKDF2_SHA256;
    return LEGACY_UNKNOWN;
}

static const char *const kind_names[] = {
    [LEGACY_UNKNOWN] = "unknown",
    [LEGACY_NONE] = "none",
    [LEGACY_ARGON2ID] = "argon2id",
    [LEGACY_ARGON2I] = "argon2i",
    [LEGACY_BCRYPT] = "bcrypt",
    [LEGACY_BCRYPT_SHA256_HEX] = "bcrypt_sha256_hex",
    [LEGACY_BCRYPT_SHA256_BASE64] = "bcrypt_sha256_base64",
    [LEGACY_SCRYPT] = "scrypt",
    [LEGACY_FIREBASE_SCRYPT] = "firebase_scrypt",
    [LEGACY_PBKDF2_SHA256] = "pbkdf2_sha256",
};

const char *legacy_kind_name(enum legacy_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "unknown";
}

static enum gh_err bad(char *reason, size_t reasonlen, const char *why)
{
    if (reason && reasonlen) snprintf(reason, reasonlen, "%s", why);
    return GH_ERR_INVALID;
}

/* Decimal 1..max, no sign, no leading zero; *s advances past it. */
static bool take_u32(const char **s, uint32_t max, uint32_t *v)
{
    const char *p = *s;
    uint64_t n = 0;
    if (*p < '1' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') {
        n = n * 10 + (uint64_t)(*p++ - '0');
        if (n > max) return false;
    }
    *v = (uint32_t)n;
    *s = p;
    return true;
}

static bool take_lit(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0) return false;
    *s += n;
    return true;
}

/* Standard base64 (passlib's '.' for '+' accepted), padded or not, of
 * lo..cap bytes, up to the next '$' or the end; *s advances past it. */
static bool take_b64(const char **s, uint8_t *out, size_t lo, size_t cap, size_t *len)
{
    char buf[4 * LEGACY_DK_MAX];
    size_t n = strcspn(*s, "$");
    size_t pad = 0;
    while (pad < n && pad < 2 && (*s)[n - 1 - pad] == '=')
        pad++;
    if (n == 0 || n - pad >= sizeof buf || (pad && n % 4)) return false;
    for (size_t i = 0; i < n - pad; i++) {
        char c = (*s)[i];
        if (c == '.')
            c = '+';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/'))
            return false;
        buf[i] = c;
    }
    if (sodium_base642bin(out, cap, buf, n - pad, NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        *len < lo)
        return false;
    *s += n;
    return true;
}

static bool bcrypt_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/';
}

static enum gh_err parse_bcrypt(const char *s, struct legacy_parsed *o, char *rs, size_t rl)
{
    if (strlen(s) != 60 || s[0] != '$' || s[1] != '2' || !strchr("aby", s[2]) || s[3] != '$' ||
        s[6] != '$' || s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9')
        return bad(rs, rl, "not a bcrypt hash ($2a$/$2b$/$2y$, cost, 53 characters)");
    for (size_t i = 7; i < 60; i++)
        if (!bcrypt_char(s[i]))
            return bad(rs, rl, "bcrypt hash has a character outside its alphabet");
    o->cost = (uint32_t)((s[4] - '0') * 10 + (s[5] - '0'));
    if (o->cost < 4 || o->cost > LEGACY_BCRYPT_COST_MAX)
        return bad(rs, rl, "bcrypt cost must be 4..16");
    o->inner = s;
    return GH_OK;
}

static enum gh_err parse_argon2(const char *s, struct legacy_parsed *o, char *rs, size_t rl)
{
    const char *p = s + (o->kind == LEGACY_ARGON2ID ? 10 : 9);
    uint32_t v = 0;
    if (!take_lit(&p, "v=") || !take_u32(&p, 19, &v) || v != 19 || !take_lit(&p, "$m=") ||
        !take_u32(&p, LEGACY_MEM_KIB_MAX, &o->m_kib) || !take_lit(&p, ",t=") ||
        !take_u32(&p, LEGACY_ARGON2_T_MAX, &o->cost) || !take_lit(&p, ",p=") ||
        !take_u32(&p, LEGACY_ARGON2_P_MAX, &o->p) || !take_lit(&p, "$"))
        return bad(rs, rl,
                   "Argon2 hash must read $argon2id$v=19$m=..,t=..,p=..$salt$hash "
                   "(m <= 262144, t <= 16, p <= 16)");
    if (o->m_kib < 8 * o->p) return bad(rs, rl, "Argon2 memory must be at least 8 KiB per lane");
    if (!take_b64(&p, o->salt, 8, sizeof o->salt, &o->salt_len) || !take_lit(&p, "$") ||
        !take_b64(&p, o->dk, 16, sizeof o->dk, &o->dk_len) || *p)
        return bad(rs, rl, "Argon2 salt (>= 8 bytes) or hash (>= 16 bytes) is not base64");
    o->r = 0;
    o->inner = s;
    return GH_OK;
}

/* scrypt memory 128 * r * 2^ln bytes, capped like Argon2's. */
static bool scrypt_mem_ok(uint32_t ln, uint32_t r)
{
    return ln >= 1 && ln <= 24 && ((uint64_t)r << ln) * 128 <= (uint64_t)LEGACY_MEM_KIB_MAX * 1024;
}

static enum gh_err parse_scrypt(const char *s, struct legacy_parsed *o, char *rs, size_t rl)
{
    const char *p = s + 8;
    if (!take_lit(&p, "ln=") || !take_u32(&p, 63, &o->cost) || !take_lit(&p, ",r=") ||
        !take_u32(&p, 64, &o->r) || !take_lit(&p, ",p=") || !take_u32(&p, 16, &o->p) ||
        !take_lit(&p, "$"))
        return bad(rs, rl, "scrypt hash must read $scrypt$ln=..,r=..,p=..$salt$hash");
    if (!scrypt_mem_ok(o->cost, o->r)) return bad(rs, rl, "scrypt memory over 256 MiB");
    if (!take_b64(&p, o->salt, 1, sizeof o->salt, &o->salt_len) || !take_lit(&p, "$") ||
        !take_b64(&p, o->dk, 16, 64, &o->dk_len) || *p)
        return bad(rs, rl, "scrypt salt or hash (16..64 bytes) is not base64");
    return GH_OK;
}

static enum gh_err parse_pbkdf2(const char *s, struct legacy_parsed *o, char *rs, size_t rl)
{
    const char *p = s + 14;
    if (!take_u32(&p, LEGACY_PBKDF2_ITER_MAX, &o->cost) || !take_lit(&p, "$"))
        return bad(rs, rl,
                   "PBKDF2 must read pbkdf2_sha256$iterations$salt$hash "
                   "(iterations 1..10000000)");
    size_t n = strcspn(p, "$");
    if (n == 0 || n > sizeof o->salt || p[n] != '$')
        return bad(rs, rl, "PBKDF2 salt must be 1..128 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
            return bad(rs, rl, "PBKDF2 salt must be printable ASCII");
    memcpy(o->salt, p, n);
    o->salt_len = n;
    p += n + 1;
    if (!take_b64(&p, o->dk, 16, 64, &o->dk_len) || *p)
        return bad(rs, rl, "PBKDF2 hash (16..64 bytes) is not base64");
    return GH_OK;
}

static bool sealed_chars(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static enum gh_err parse_firebase(const char *s, struct legacy_parsed *o, char *rs, size_t rl)
{
    const char *p = s + strlen(PFX_FIREBASE);
    if (!take_lit(&p, "r=") || !take_u32(&p, 64, &o->r) || !take_lit(&p, ",m=") ||
        !take_u32(&p, 63, &o->cost) || !take_lit(&p, "$") || !scrypt_mem_ok(o->cost, o->r))
        return bad(rs, rl, "firebase_scrypt rounds 1..64 and mem_cost 1..24 (256 MiB at most)");
    o->p = 1;
    if (!take_b64(&p, o->sep, 0, sizeof o->sep, &o->sep_len) || !take_lit(&p, "$") ||
        !take_b64(&p, o->salt, 1, sizeof o->salt, &o->salt_len) || !take_lit(&p, "$") ||
        !take_b64(&p, o->dk, 1, sizeof o->dk, &o->dk_len) || !take_lit(&p, "$") || !sealed_chars(p))
        return bad(rs, rl, "firebase_scrypt fields are not base64");
    o->sealed = p;
    return GH_OK;
}

enum gh_err legacy_parse(const char *stored, struct legacy_parsed *o, char *rs, size_t rl)
{
    memset(o, 0, sizeof *o);
    if (!stored || strlen(stored) > LEGACY_HASH_MAX) return bad(rs, rl, "hash too long");
    o->kind = legacy_hash_kind(stored);
    switch (o->kind) {
    case LEGACY_BCRYPT:
        return parse_bcrypt(stored, o, rs, rl);
    case LEGACY_BCRYPT_SHA256_HEX:
        return parse_bcrypt(stored + strlen(PFX_BCS_HEX), o, rs, rl);
    case LEGACY_BCRYPT_SHA256_BASE64:
        return parse_bcrypt(stored + strlen(PFX_BCS_B64), o, rs, rl);
    case LEGACY_ARGON2ID:
    case LEGACY_ARGON2I:
        return parse_argon2(stored, o, rs, rl);
    case LEGACY_SCRYPT:
        return parse_scrypt(stored, o, rs, rl);
    case LEGACY_FIREBASE_SCRYPT:
        return parse_firebase(stored, o, rs, rl);
    case LEGACY_PBKDF2_SHA256:
        return parse_pbkdf2(stored, o, rs, rl);
    case LEGACY_NONE:
        return GH_OK;
    default:
        return bad(rs, rl, "unknown hash format");
    }
}

enum gh_err legacy_hash_family(const char *stored, char *out, size_t cap)
{
    struct legacy_parsed o;
    if (legacy_parse(stored, &o, NULL, 0) || o.kind == LEGACY_NONE) return GH_ERR_INVALID;
    const char *n = legacy_kind_name(o.kind);
    int w;
    switch (o.kind) {
    case LEGACY_ARGON2ID:
    case LEGACY_ARGON2I:
        w = snprintf(out, cap, "%s:m=%u,t=%u,p=%u", n, o.m_kib, o.cost, o.p);
        break;
    case LEGACY_SCRYPT:
    case LEGACY_FIREBASE_SCRYPT:
        w = snprintf(out, cap, "%s:ln=%u,r=%u,p=%u", n, o.cost, o.r, o.p);
        break;
    default:
        w = snprintf(out, cap, "%s:%u", n, o.cost);
    }
    return w > 0 && (size_t)w < cap ? GH_OK : GH_ERR_INVALID;
}

/* ---- import ---- */

static bool copy_out(char out[LEGACY_HASH_MAX + 1], const char *a, const char *b)
{
    int w = snprintf(out, LEGACY_HASH_MAX + 1, "%s%s", a, b);
    return w > 0 && w <= LEGACY_HASH_MAX;
}

/* A base64 member of o (any of two spellings) into out. */
static bool member_b64(const json_t *o, const char *k1, const char *k2, uint8_t *out, size_t lo,
                       size_t cap, size_t *len)
{
    const json_t *v = json_object_get(o, k1);
    if (!v) v = json_object_get(o, k2);
    const char *s = json_string_value(v);
    if (!s || strchr(s, '$')) return false;
    return take_b64(&s, out, lo, cap, len) && *s == '\0';
}

static bool member_int(const json_t *o, const char *k, uint32_t lo, uint32_t hi, uint32_t *v)
{
    const json_t *j = json_object_get(o, k);
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
        return false;
    *v = (uint32_t)json_integer_value(j);
    return true;
}

static bool b64_append(char *out, size_t cap, size_t *used, const uint8_t *b, size_t n)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (*used + need + 1 > cap) return false;
    sodium_bin2base64(out + *used, need, b, n, sodium_base64_VARIANT_ORIGINAL);
    *used += strlen(out + *used);
    out[(*used)++] = '$';
    out[*used] = '\0';
    return true;
}

static enum gh_err import_firebase(const char *hash, const json_t *f, const char *user_id,
                                   char out[LEGACY_HASH_MAX + 1], char *rs, size_t rl)
{
    uint8_t key[LEGACY_DK_MAX], sep[LEGACY_SALT_MAX], salt[LEGACY_SALT_MAX], dk[LEGACY_DK_MAX];
    size_t key_len = 0, sep_len = 0, salt_len = 0, dk_len = 0;
    uint32_t rounds = 0, mem = 0;
    const char *h = hash;
    if (!json_is_object(f) || !user_id || !*user_id)
        return bad(rs, rl, "firebase_scrypt needs its parameters in the format object");
    if (!member_b64(f, "signer_key", "base64_signer_key", key, 1, sizeof key, &key_len) ||
        !member_b64(f, "salt_separator", "base64_salt_separator", sep, 0, sizeof sep, &sep_len) ||
        !member_b64(f, "salt", "password_salt", salt, 1, sizeof salt, &salt_len) ||
        !member_int(f, "rounds", 1, 64, &rounds) || !member_int(f, "mem_cost", 1, 24, &mem) ||
        !scrypt_mem_ok(mem, rounds) || strchr(h, '$') || !take_b64(&h, dk, 1, sizeof dk, &dk_len) ||
        *h) {
        gh_wipe(key, sizeof key);
        return bad(rs, rl,
                   "firebase_scrypt needs base64 signer_key, salt_separator, salt and "
                   "hash, rounds 1..64 and mem_cost 1..24");
    }
    char *sealed = NULL;
    enum gh_err rc = vault_seal("users", "password_hash", user_id, key, key_len, &sealed);
    gh_wipe(key, sizeof key);
    if (rc) {
        if (rs && rl) snprintf(rs, rl, "the vault could not seal the signer key");
        return GH_ERR_INTERNAL;
    }
    int w = snprintf(out, LEGACY_HASH_MAX + 1, PFX_FIREBASE "r=%u,m=%u$", rounds, mem);
    size_t used = w > 0 ? (size_t)w : 0;
    bool ok = w > 0 && b64_append(out, LEGACY_HASH_MAX + 1, &used, sep, sep_len) &&
              b64_append(out, LEGACY_HASH_MAX + 1, &used, salt, salt_len) &&
              b64_append(out, LEGACY_HASH_MAX + 1, &used, dk, dk_len) &&
              used + strlen(sealed) <= LEGACY_HASH_MAX;
    if (ok) memcpy(out + used, sealed, strlen(sealed) + 1);
    free(sealed);
    return ok ? GH_OK : bad(rs, rl, "firebase_scrypt hash too long");
}

static const char *format_name(const json_t *format)
{
    if (json_is_string(format)) return json_string_value(format);
    return json_string_value(json_object_get(format, "name"));
}

enum gh_err legacy_hash_import(const char *hash, const json_t *format, const char *user_id,
                               char out[LEGACY_HASH_MAX + 1], char *reason, size_t reasonlen)
{
    enum gh_err rc = GH_ERR_INVALID;
    out[0] = '\0';
    if (!hash || !*hash || strlen(hash) > LEGACY_HASH_MAX - 32) {
        rc = bad(reason, reasonlen, "password_hash is empty or too long");
        goto out;
    }
    enum legacy_kind given = legacy_hash_kind(hash);
    enum legacy_kind want = given;
    if (given == LEGACY_BCRYPT_SHA256_HEX || given == LEGACY_BCRYPT_SHA256_BASE64 ||
        given == LEGACY_FIREBASE_SCRYPT) /* our own forms: never taken from a source */
        given = want = LEGACY_UNKNOWN;
    if (format) {
        const char *name = format_name(format);
        if (!name) {
            rc = bad(reason, reasonlen, "password_hash_format must be a name or {\"name\": ...}");
            goto out;
        }
        want = LEGACY_UNKNOWN;
        for (int k = LEGACY_ARGON2ID; k <= LEGACY_PBKDF2_SHA256; k++)
            if (strcmp(name, legacy_kind_name((enum legacy_kind)k)) == 0)
                want = (enum legacy_kind)k;
        if (want == LEGACY_UNKNOWN) {
            rc = bad(reason, reasonlen, "unknown password_hash_format");
            goto out;
        }
    }
    switch (want) {
    case LEGACY_BCRYPT_SHA256_HEX:
    case LEGACY_BCRYPT_SHA256_BASE64:
        if (given != LEGACY_BCRYPT) {
            rc = bad(reason, reasonlen, "a bcrypt_sha256 format needs a $2a$/$2b$/$2y$ hash");
            goto out;
        }
        if (!copy_out(out, want == LEGACY_BCRYPT_SHA256_HEX ? PFX_BCS_HEX : PFX_BCS_B64, hash))
            goto out;
        break;
    case LEGACY_FIREBASE_SCRYPT:
        rc = import_firebase(hash, format, user_id, out, reason, reasonlen);
        if (rc) goto out;
        break;
    case LEGACY_ARGON2ID:
    case LEGACY_ARGON2I:
    case LEGACY_BCRYPT:
    case LEGACY_SCRYPT:
    case LEGACY_PBKDF2_SHA256:
    case LEGACY_NONE:
        if (given != want) {
            rc = bad(reason, reasonlen, "the hash does not match its declared format");
            goto out;
        }
        if (!copy_out(out, "", hash)) goto out;
        break;
    default:
        rc = bad(reason, reasonlen,
                 *hash == '{' ? "unknown hash format (declare password_hash_format)"
                              : "unknown hash format");
        goto out;
    }
    struct legacy_parsed p;
    rc = legacy_parse(out, &p, reason, reasonlen);
out:
    if (rc) gh_wipe(out, LEGACY_HASH_MAX + 1);
    return rc;
}
