#!/usr/bin/env python3
"""Verifies a Tessera access token with PyJWT, an implementation independent of Tessera's.

Usage: verify_jwks.py JWKS_URL TOKEN ISSUER AUDIENCE

It knows only the JWKS URL: it fetches the key set, picks the key named by the token's `kid`,
pins the algorithm to that key's `alg`, checks the signature, `typ`, `iss`, `aud` and `exp`,
and prints the `sub`. Any failure (including a missing PyJWT) exits non-zero with a reason on
stderr: the Rust test that runs this must fail, never skip.
"""

import json
import sys
import urllib.request

try:
    import jwt
except ImportError as error:  # the test command installs pyjwt[crypto]; say so loudly
    sys.exit(f"PyJWT is missing ({error}): pip install 'pyjwt[crypto]'")


def main() -> int:
    if len(sys.argv) != 5:
        sys.exit("usage: verify_jwks.py JWKS_URL TOKEN ISSUER AUDIENCE")
    jwks_url, token, issuer, audience = sys.argv[1:]

    with urllib.request.urlopen(jwks_url, timeout=10) as response:
        jwks = json.load(response)

    header = jwt.get_unverified_header(token)
    if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
        sys.exit(f"typ is {header.get('typ')!r}, not at+jwt")
    kid = header.get("kid")
    matching = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if len(matching) != 1:
        sys.exit(f"kid {kid!r} is not (exactly once) in the JWKS")
    jwk = matching[0]
    algorithm = jwk.get("alg")
    if not algorithm:
        sys.exit(f"the JWK {kid!r} does not pin an alg")
    if header.get("alg") != algorithm:
        sys.exit(f"token alg {header.get('alg')!r} differs from the key's {algorithm!r}")

    key = jwt.PyJWK(jwk, algorithm=algorithm)
    claims = jwt.decode(
        token,
        key=key,
        algorithms=[algorithm],
        issuer=issuer,
        audience=audience,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    print(claims["sub"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
