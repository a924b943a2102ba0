#!/usr/bin/env python3
"""Talks to Tessera's OAuth2 endpoints with Authlib, a standard client library, unchanged.

Usage: oauth_client.py TOKEN_URL REVOKE_URL USERNAME PASSWORD

It fetches a token with the password grant, refreshes it with the refresh_token grant, revokes
the refreshed refresh token (RFC 7009), then tries to refresh again. It prints one JSON object
with what it saw; the Rust test that runs it asserts on that. Any failure (including a missing
Authlib) exits non-zero with a reason on stderr: the test must fail, never skip.
"""

import base64
import json
import sys

try:
    from authlib.integrations.requests_client import OAuth2Session
except ImportError as error:  # the test command installs authlib; say so loudly
    sys.exit(f"Authlib is missing ({error}): pip install -r scripts/test-requirements.txt")


def subject(access_token: str) -> str:
    """The `sub` claim of a JWT (the Rust test checks signatures elsewhere)."""
    payload = access_token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))["sub"]


def main() -> int:
    if len(sys.argv) != 5:
        sys.exit("usage: oauth_client.py TOKEN_URL REVOKE_URL USERNAME PASSWORD")
    token_url, revoke_url, username, password = sys.argv[1:]

    client = OAuth2Session(client_id="tessera-interop-test")
    fetched = client.fetch_token(token_url, username=username, password=password)
    if fetched.get("token_type", "").lower() != "bearer":
        sys.exit(f"token_type is {fetched.get('token_type')!r}")

    refreshed = client.refresh_token(token_url, refresh_token=fetched["refresh_token"])

    revoked = client.revoke_token(revoke_url, token=refreshed["refresh_token"])

    try:
        client.refresh_token(token_url, refresh_token=refreshed["refresh_token"])
        after_revoke = "refreshed"
    except Exception as error:  # Authlib raises OAuthError carrying the RFC 6749 code
        after_revoke = getattr(error, "error", None) or repr(error)

    print(
        json.dumps(
            {
                "fetched_sub": subject(fetched["access_token"]),
                "refreshed_sub": subject(refreshed["access_token"]),
                "refresh_token_rotated": refreshed["refresh_token"] != fetched["refresh_token"],
                "access_token_changed": refreshed["access_token"] != fetched["access_token"],
                "refreshed_access_token": refreshed["access_token"],
                "revoke_status": revoked.status_code,
                "refresh_after_revoke": after_revoke,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
