"""Verifies a Gatehouse access token in Python with PyJWT (Debian:
python3-jwt python3-cryptography; pip: pyjwt[crypto]).

Usage: python3 verify.py <issuer> <audience> <access token>
Prints the verified claims as JSON; exits 1 with the reason otherwise.
tests/api/snippets.test.mjs runs this very file against a live server.
"""
import json
import sys
import urllib.request

import jwt

issuer, audience, token = sys.argv[1:4]

# Where the keys are: the discovery document names the JWKS URL. Create the
# client once per process: it caches the keys.
with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/openid-configuration") as r:
    discovery = json.load(r)
if discovery["issuer"] != issuer:
    sys.exit("discovery document names another issuer")
jwks = jwt.PyJWKClient(discovery["jwks_uri"])

try:
    key = jwks.get_signing_key_from_jwt(token)  # by the token's kid
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],  # never accept what the token header asks for
        issuer=issuer,         # iss must match exactly
        audience=audience,     # aud must contain it
        options={"require": ["sub", "exp", "iat"]},
        # exp is always checked; add leeway=30 if clocks may drift
    )
except jwt.PyJWTError as e:
    sys.exit(f"rejected: {type(e).__name__}: {e}")
print(json.dumps(claims))
