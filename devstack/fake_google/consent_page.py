"""HTML of the account chooser / consent screen and of the authorize error page.

Element ids and names are stable so browser tests can drive the page:
`input[name=user]#user-<sub>` (radio), `input[name=scope]#scope-<n>` (checkbox, value = scope),
`button#allow` / `button#cancel` (both `name=action`), `#error-code` on the error page.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from devstack.fake_google.scopes import IDENTITY_SCOPES
from devstack.fake_google.state import FakeUser

APPROVE_PATH = "/o/oauth2/v2/auth/approve"

_STYLE = (
    "body{font-family:sans-serif;max-width:36em;margin:2em auto}"
    "fieldset{margin:1em 0}label{display:block;margin:.3em 0}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def render_consent_page(
    client_id: str,
    auth_request: str,
    users: Iterable[FakeUser],
    scopes: Iterable[str],
    preselected_sub: str | None,
) -> str:
    """The consent form; `auth_request` is the original query string, carried unchanged."""
    user_rows = []
    for user in users:
        checked = " checked" if user.sub == preselected_sub else ""
        user_rows.append(
            f'<label><input type="radio" name="user" id="user-{escape(user.sub)}" '
            f'value="{escape(user.sub)}"{checked}> {escape(user.email)} '
            f"({escape(user.name)})</label>"
        )
    if not user_rows:
        user_rows.append('<p id="no-users">This fake Google has no accounts yet.</p>')
    scope_rows = []
    for index, scope in enumerate(scopes):
        # Like Google's granular consent: identity scopes cannot be unticked.
        locked = " disabled" if scope in IDENTITY_SCOPES else ""
        scope_rows.append(
            f'<label><input type="checkbox" name="scope" id="scope-{index}" '
            f'value="{escape(scope)}" checked{locked}> {escape(scope)}</label>'
        )
    body = (
        "<h1>Sign in with Google (fake)</h1>\n"
        f'<p>to continue to <span id="client-id">{escape(client_id)}</span></p>\n'
        f'<form id="consent-form" method="post" action="{APPROVE_PATH}">\n'
        f'<input type="hidden" name="auth_request" value="{escape(auth_request)}">\n'
        '<fieldset id="users"><legend>Choose an account</legend>\n'
        + "\n".join(user_rows)
        + "\n</fieldset>\n"
        '<fieldset id="scopes"><legend>Allow access to</legend>\n'
        + "\n".join(scope_rows)
        + "\n</fieldset>\n"
        '<button type="submit" name="action" value="allow" id="allow">Allow</button>\n'
        '<button type="submit" name="action" value="cancel" id="cancel">Cancel</button>\n'
        "</form>"
    )
    return _page("Sign in - Google Accounts (fake)", body)


def render_error_page(error: str, description: str) -> str:
    """The page Google shows instead of redirecting (e.g. redirect_uri_mismatch)."""
    body = (
        "<h1>Access blocked: authorization error</h1>\n"
        f'<p>Error <span id="error-code">{escape(error)}</span></p>\n'
        f'<p id="error-description">{escape(description)}</p>'
    )
    return _page("Error - Google Accounts (fake)", body)
