// Verify a Tessera access token with jose (npm install jose), knowing only the server's URL.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [tessera, token] = process.argv.slice(2); // e.g. http://127.0.0.1:8080 and a Bearer token

// Fetched once, cached, and refetched when a token names a key it does not know.
const jwks = createRemoteJWKSet(new URL(`${tessera}/.well-known/jwks.json`));

const { payload } = await jwtVerify(token, jwks, {
  issuer: tessera,
  audience: "tessera",
  typ: "at+jwt",
  algorithms: ["EdDSA", "ES256", "RS256"], // never "none"; HS256 only with a shared secret
});
console.log(payload.sub, payload.sid, payload.roles);
