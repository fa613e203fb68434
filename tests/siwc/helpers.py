"""Helpers for the official route's tests: play the browser, read the official files."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx2

from llm_codex import config
from llm_codex.testing.siwc_fake import browser_consent

PLAN_MODEL = "chatgpt/gpt-5.5"


class Browser:
    """Stands in for ``webbrowser.open``: opens the authorize URL in a thread and follows the
    redirect to the loopback listener, as a browser whose user consents would."""

    def __init__(self, *, before: Any = None) -> None:
        self.urls: list[str] = []
        self.errors: list[BaseException] = []
        self.before = before  # called with the authorize URL before consenting
        self.threads: list[threading.Thread] = []

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> bool:
        self.urls.append(url)

        def run() -> None:
            try:
                if self.before is not None:
                    self.before(url)
                browser_consent(url)
            except BaseException as exc:  # a refused authorize shows up in the test
                self.errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        return True


def install_browser(monkeypatch, **kwargs: Any) -> Browser:
    browser = Browser(**kwargs)
    monkeypatch.setattr("webbrowser.open", browser)
    monkeypatch.setenv("LLM_CODEX_LOGIN_TIMEOUT", "20")
    return browser


def official_doc() -> dict[str, Any] | None:
    path = config.official_auth_path()
    return json.loads(path.read_text()) if path.exists() else None


def official_path() -> Path:
    return config.official_auth_path()


def get(url: str, **kwargs: Any) -> httpx2.Response:
    with httpx2.Client(follow_redirects=False, timeout=10.0) as http:
        return http.get(url, **kwargs)
