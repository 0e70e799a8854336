"""OAuth scope names: Google's short aliases and the identity scopes granted unconditionally."""

from __future__ import annotations

from collections.abc import Iterable

OPENID = "openid"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"

# Google answers with the full URL even when the short alias was requested, which is why
# oauthlib warns "Scope has changed" for `openid email profile` unless OAUTHLIB_RELAX_TOKEN_SCOPE.
_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}

# The granular consent screen never lets the user untick these.
IDENTITY_SCOPES = frozenset({OPENID, USERINFO_EMAIL, USERINFO_PROFILE})


def normalize(scope: str) -> str:
    """The canonical (full URL) form of a scope."""
    return _ALIASES.get(scope, scope)


def parse_scope_param(text: str | None) -> list[str]:
    """Split a space-separated `scope` value into canonical scopes, keeping order, no duplicates."""
    seen: dict[str, None] = {}
    for part in (text or "").split():
        seen[normalize(part)] = None
    return list(seen)


def format_scopes(scopes: Iterable[str]) -> str:
    """The space-separated `scope` value of a token response (sorted for stable output)."""
    return " ".join(sorted(scopes))
