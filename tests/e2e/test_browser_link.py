"""The linking redirect flow in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from devstack.drivers.clients import AuthUser
from devstack.drivers.linking import api, complete, start_link
from tests.e2e.conftest import RunningStack

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required (make setup installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open_consent(stack: RunningStack, browser: Browser, locale: str) -> tuple[AuthUser, Page]:
    user = stack.auth.create_user()
    consent = start_link(stack.function_url("account_api"), user)
    page = browser.new_page(locale=locale)
    page.goto(consent.url)
    return user, page


def _app_visits(stack: RunningStack) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.urls.fake_google}/_control/app-link/visits", timeout=5)
    return list(response.json()["visits"])


def test_link_flow_in_a_real_browser(stack: RunningStack, browser: Browser) -> None:
    google_user = stack.google.create_user("park.seo@gmail.example")
    stack.seen.add("park.seo@gmail.example")
    user, page = _open_consent(stack, browser, "en-US")
    page.check(f"#user-{google_user['sub']}")
    page.click("#allow")
    page.wait_for_selector("main[data-result='approved']")
    assert page.url.startswith(stack.urls.oauth_redirect_uri)
    # The page sends the user back to the app, which finishes the link.
    assert page.inner_text("#title") == "Return to the app to finish linking"
    page.screenshot(path=str(stack.workdir / "link-success.png"))
    back = f"{stack.urls.app_deep_link}?result=approved&completion_code="
    page.wait_for_url(lambda url: url.startswith(back), timeout=15_000)
    visits = _app_visits(stack)
    assert [visit["result"] for visit in visits] == ["approved"]
    account = stack.function_url("account_api")
    assert api(account, "GET", "/v1/google", user).json()["status"] == "not_linked"
    done = complete(account, user, visits[0]["completion_code"])
    assert done.status_code == 200 and done.json()["status"] == "linked", done.text
    page.close()


def test_cancelled_consent_shows_the_korean_failure_page(
    stack: RunningStack, browser: Browser
) -> None:
    google_user = stack.google.create_user("choi.yu@gmail.example")
    stack.seen.add("choi.yu@gmail.example")
    user, page = _open_consent(stack, browser, "ko-KR")
    page.check(f"#user-{google_user['sub']}")
    page.click("#cancel")
    page.wait_for_selector("main[data-result='access_denied']")
    assert page.inner_text("#title") == "Google 계정을 연결하지 못했습니다"
    assert page.get_attribute("#back", "href") == f"{stack.urls.app_deep_link}?result=access_denied"
    page.screenshot(path=str(stack.workdir / "link-denied.png"))
    page.wait_for_url(f"{stack.urls.app_deep_link}?result=access_denied", timeout=15_000)
    status = api(stack.function_url("account_api"), "GET", "/v1/google", user).json()
    assert status["status"] == "not_linked"
    page.close()
