"""The token that guards the `/qtc/*` control endpoints (faults, clock, status overrides)."""

from __future__ import annotations

import hmac
import secrets
import string

from qtc.exchange.server.state import CODE_UNAUTHORIZED, AlpacaError

CONTROL_TOKEN_HEADER = "X-QTC-Control-Token"
CONTROL_TOKEN_ENV = "QTC_CONTROL_TOKEN"
MIN_LENGTH = 16
MAX_LENGTH = 256
# What a header value can carry unchanged, and what `token_urlsafe` produces a subset of.
_ALLOWED = frozenset(string.ascii_letters + string.digits + string.punctuation)


def new_control_token() -> str:
    """A fresh random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def control_headers(token: str | None) -> dict[str, str]:
    """The header a `/qtc/*` request carries for `token` (none when the controls are open)."""
    return {} if token is None else {CONTROL_TOKEN_HEADER: token}


def token_problem(token: str) -> str | None:
    """Why `token` cannot be a control token (too short, too long, a character a header cannot
    carry), or None when it can."""
    if not MIN_LENGTH <= len(token) <= MAX_LENGTH:
        return f"a control token has {MIN_LENGTH} to {MAX_LENGTH} characters, not {len(token)}"
    if not set(token) <= _ALLOWED:
        return "a control token has only visible ASCII characters (no spaces)"
    return None


def check_control_token(expected: str | None, presented: str | None) -> None:
    """Raise a 401 AlpacaError unless `presented` is `expected` (constant time); `expected`
    None means the controls are open (`--open-control`)."""
    if expected is None:
        return
    if not presented:
        raise AlpacaError(
            401,
            CODE_UNAUTHORIZED,
            f"control token required: send it in the {CONTROL_TOKEN_HEADER} header "
            "(qtc exchange prints it at start)",
        )
    # Starlette decodes header values as latin-1: encoding back gives the bytes that were sent.
    if not hmac.compare_digest(presented.encode("latin-1"), expected.encode()):
        raise AlpacaError(401, CODE_UNAUTHORIZED, "control token is wrong")
