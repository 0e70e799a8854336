"""The small, localized HTML page the OAuth callback shows before returning to the app."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from shared.services.linking import CallbackOutcome, LinkResult

# ruff: noqa: E501 - user-facing sentences read better unbroken.

_TEXT: dict[str, dict[LinkResult | str, str]] = {
    "ko": {
        "title_ok": "Google 계정이 연결되었습니다",
        "title_approved": "앱으로 돌아가 연결을 완료하세요",
        LinkResult.APPROVED: "Google에서 승인되었습니다. 연결을 시작한 앱으로 돌아가면 연결이 완료됩니다. 앱에서 시작하지 않았다면 이 창을 닫으세요.",
        "title_fail": "Google 계정을 연결하지 못했습니다",
        "back": "앱으로 돌아가기",
        LinkResult.LINKED: "이제 앱에서 캘린더, 메일, 드라이브 알림을 사용할 수 있습니다.",
        LinkResult.ACCESS_DENIED: "권한 요청이 취소되었습니다. 앱에서 다시 시도해 주세요.",
        LinkResult.INVALID_STATE: "연결 요청이 올바르지 않거나 이미 사용되었습니다. 앱에서 다시 시작해 주세요.",
        LinkResult.EXPIRED_STATE: "연결 요청이 만료되었습니다. 앱에서 다시 시작해 주세요.",
        LinkResult.EXCHANGE_FAILED: "Google 인증을 완료하지 못했습니다. 다시 시도해 주세요.",
        LinkResult.NO_REFRESH_TOKEN: "Google이 오프라인 접근 권한을 주지 않았습니다. 다시 시도해 주세요.",
        LinkResult.ACCOUNT_IN_USE: "이 Google 계정은 이미 다른 사용자와 연결되어 있습니다.",
    },
    "en": {
        "title_ok": "Your Google account is linked",
        "title_approved": "Return to the app to finish linking",
        LinkResult.APPROVED: "Google approved the request. Return to the app that started it to finish linking. If you did not start this in the app, close this window.",
        "title_fail": "Your Google account could not be linked",
        "back": "Return to the app",
        LinkResult.LINKED: "Calendar, mail and Drive notifications are now available in the app.",
        LinkResult.ACCESS_DENIED: "You cancelled the permission request. Try again from the app.",
        LinkResult.INVALID_STATE: "This link request is invalid or was already used. Start again from the app.",
        LinkResult.EXPIRED_STATE: "This link request expired. Start again from the app.",
        LinkResult.EXCHANGE_FAILED: "Google sign-in could not be completed. Please try again.",
        LinkResult.NO_REFRESH_TOKEN: "Google did not grant offline access. Please try again.",
        LinkResult.ACCOUNT_IN_USE: "This Google account is already linked to another user.",
    },
}


def language(accept_language: str | None) -> str:
    """``en`` when the browser prefers English over Korean, else ``ko`` (the default)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ko"):
            return "ko"
        if tag.startswith("en"):
            return "en"
    return "ko"


def deep_link(base: str, outcome: CallbackOutcome) -> str:
    """The configured app deep link carrying the result code and, when approved, the
    one-time completion code (never a URL from a request)."""
    params = {"result": outcome.result.value}
    if outcome.completion_code:
        params["completion_code"] = outcome.completion_code
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(params)}"


def result_page(result: LinkResult, lang: str, app_link: str) -> str:
    """A self-contained page that returns to the app at once and offers a button to do so."""
    text = _TEXT.get(lang, _TEXT["ko"])
    titles = {LinkResult.LINKED: "title_ok", LinkResult.APPROVED: "title_approved"}
    title = text[titles.get(result, "title_fail")]
    target = html.escape(app_link, quote=True)
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="1;url={target}">
<title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;display:flex;min-height:100vh;
align-items:center;justify-content:center;background:#f6f7f9;color:#1f2328}}
main{{max-width:28rem;padding:2rem;background:#fff;border-radius:12px;text-align:center;
box-shadow:0 1px 4px rgba(0,0,0,.08)}}
a.button{{display:inline-block;margin-top:1rem;padding:.75rem 1.5rem;border-radius:8px;
background:#e6007e;color:#fff;text-decoration:none}}
</style>
</head>
<body>
<main data-result="{result.value}">
<h1 id="title">{html.escape(title)}</h1>
<p id="message">{html.escape(text[result])}</p>
<a class="button" id="back" href="{target}">{html.escape(text["back"])}</a>
</main>
</body>
</html>
"""
