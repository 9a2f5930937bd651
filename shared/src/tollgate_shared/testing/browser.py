"""The real browser the page tests drive: Debian's Chromium through Playwright. Without one a
page test is skipped on a developer's machine, and fails under CI (`CI` set), where `.ci/run`
installs it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, NoReturn

import pytest

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing(why: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser tests (.ci/run installs Chromium)")
    pytest.skip(f"{why} (apt-get install chromium to run the browser tests)")


def chromium() -> Path:
    """Chromium's executable (skips the test without one, fails it under CI)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _missing("no chromium on PATH")
    return Path(found)


def playwright() -> Any:
    """`playwright.async_api` (skips the test without it, fails it under CI)."""
    try:
        import playwright.async_api as api
    except ImportError:
        _missing("playwright is not installed (a dev dependency)")
    return api
