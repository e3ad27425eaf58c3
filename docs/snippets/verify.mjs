// Verifies a Gatehouse access token in Node with `jose` (npm install jose).
// Usage: node verify.mjs <issuer> <audience> <access token>
// Prints the verified claims as JSON; exits 1 with the reason otherwise.
// tests/api/snippets.test.mjs runs this very file against a live server.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [issuer, audience, token] = process.argv.slice(2);

// Where the keys are: the discovery document names the JWKS URL. Create the
// key set once per process: it caches the keys and refetches on a new kid.
const discovery = await (await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`)).json();
if (discovery.issuer !== issuer) throw new Error('discovery document names another issuer');
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

try {
  const { payload } = await jwtVerify(token, jwks, {
    issuer,                // iss must match exactly
    audience,              // aud must contain it
    algorithms: ['ES256'], // never accept what the token header asks for
    requiredClaims: ['sub', 'exp', 'iat'],
    // exp is always checked; add clockTolerance: '30s' if clocks may drift
  });
  console.log(JSON.stringify(payload));
} catch (e) {
  console.error(`rejected: ${e.code ?? e.name}: ${e.message}`);
  process.exit(1);
}
