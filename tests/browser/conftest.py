"""Headless Chromium (Debian's, installed by `make test`) driven by Playwright, against
`relais dev` run as a user runs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.system.conftest import stack  # noqa: F401 (the same fixture)

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str:
    found = os.environ.get("RELAIS_CHROMIUM") or shutil.which("chromium")
    assert found, "Chromium manque : `make test` l'installe (apt-get install chromium)."
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        await b.close()
