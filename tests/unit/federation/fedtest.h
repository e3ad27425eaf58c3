/* Helpers for the federation unit tests: keys made here (cjose), a JWKS of
 * their public halves, ID tokens signed with them. Header-only. */
#ifndef GH_TESTS_UNIT_FEDTEST_H
#define GH_TESTS_UNIT_FEDTEST_H

#include "testutil.h"

#include <cjose/cjose.h>
#include <jansson.h>

#include "core/util.h"

static inline cjose_jwk_t *ft_rsa(size_t bits)
{
    static const uint8_t e[] = {0x01, 0x00, 0x01};
    cjose_err cerr;
    cjose_jwk_t *k = cjose_jwk_create_RSA_random(bits, e, sizeof e, &cerr);
    assert_non_null(k);
    return k;
}

static inline cjose_jwk_t *ft_ec(cjose_jwk_ec_curve crv)
{
    cjose_err cerr;
    cjose_jwk_t *k = cjose_jwk_create_EC_random(crv, &cerr);
    assert_non_null(k);
    return k;
}

/* The public JWK of k as a jansson object with kid and, if given, alg/use. */
static inline json_t *ft_pub(cjose_jwk_t *k, const char *kid, const char *alg, const char *use)
{
    cjose_err cerr;
    char *s = cjose_jwk_to_json(k, false, &cerr);
    assert_non_null(s);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(j);
    json_object_del(j, "kid");
    if (kid) json_object_set_new(j, "kid", json_string(kid));
    if (alg) json_object_set_new(j, "alg", json_string(alg));
    if (use) json_object_set_new(j, "use", json_string(use));
    return j;
}

/* {"keys":[...]} of the given keys (steals them); heap string. */
static inline char *ft_jwks_json(json_t **keys, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, keys[i]);
    json_t *root = json_pack("{s:o}", "keys", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(s);
    return s;
}

/* A compact JWS of claims (stolen) with k, header alg and kid (NULL: none);
 * extra_hdr: a raw header member "name" set to JSON "value" (or NULL). */
static inline char *ft_sign_hdr(cjose_jwk_t *k, const char *alg, const char *kid, json_t *claims,
                                const char *extra_name, const char *extra_json)
{
    cjose_err cerr;
    cjose_header_t *h = cjose_header_new(&cerr);
    assert_true(cjose_header_set(h, CJOSE_HDR_ALG, alg, &cerr));
    if (kid) assert_true(cjose_header_set(h, CJOSE_HDR_KID, kid, &cerr));
    if (extra_name) assert_true(cjose_header_set_raw(h, extra_name, extra_json, &cerr));
    char *pl = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    cjose_jws_t *jws = cjose_jws_sign(k, h, (const uint8_t *)pl, strlen(pl), &cerr);
    assert_non_null(jws);
    const char *ser = NULL;
    assert_true(cjose_jws_export(jws, &ser, &cerr));
    char *out = strdup(ser);
    cjose_jws_release(jws);
    cjose_header_release(h);
    free(pl);
    return out;
}

static inline char *ft_sign(cjose_jwk_t *k, const char *alg, const char *kid, json_t *claims)
{
    return ft_sign_hdr(k, alg, kid, claims, NULL, NULL);
}

/* An unsigned token (alg none) of claims (stolen): header.payload. */
static inline char *ft_none(const char *kid, json_t *claims)
{
    char hdr[128], b1[256], *pl = json_dumps(claims, JSON_COMPACT), b2[4096];
    json_decref(claims);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"none\",\"kid\":\"%s\"}", kid);
    assert_int_equal(gh_b64url_encode(b1, sizeof b1, hdr, strlen(hdr)), GH_OK);
    assert_int_equal(gh_b64url_encode(b2, sizeof b2, pl, strlen(pl)), GH_OK);
    free(pl);
    size_t n = strlen(b1) + strlen(b2) + 3;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s.", b1, b2);
    return t;
}

#endif
