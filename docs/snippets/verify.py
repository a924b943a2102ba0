"""Verify a Tessera access token with PyJWT (pip install "pyjwt[crypto]"), knowing only the server's URL."""
import sys

import jwt

tessera, token = sys.argv[1], sys.argv[2]  # e.g. http://127.0.0.1:8080 and a Bearer token

# Fetched once, cached, and refetched when a token names a key it does not know.
jwks = jwt.PyJWKClient(f"{tessera}/.well-known/jwks.json")

if jwt.get_unverified_header(token).get("typ") != "at+jwt":
    sys.exit("not an access token")
claims = jwt.decode(
    token,
    jwks.get_signing_key_from_jwt(token),  # the key named by "kid", with its pinned "alg"
    algorithms=["EdDSA", "ES256", "RS256"],  # never "none"; HS256 only with a shared secret
    audience="tessera",
    issuer=tessera,
    options={"require": ["exp", "iat", "sub", "sid"]},
)
print(claims["sub"], claims["sid"], claims["roles"])
