"""Headless Chromium (Debian's, installed by `make test`) driven by Playwright, against one
`relais dev` run as a user runs it, shared by every browser test (the system tests that kill
their stack keep their own), with one browser. People sign in by their link, as they do;
`check_a11y` runs axe-core (shipped inside axe-playwright-python: nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.system.conftest import DevStack

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    found = os.environ.get("RELAIS_CHROMIUM") or shutil.which("chromium")
    assert found, "Chromium manque : `make test` l'installe (apt-get install chromium)."
    return found


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory) -> Iterator[DevStack]:
    """One `relais dev` for every browser test, stopped with Ctrl-C at the end (cleanly)."""
    s = DevStack(tmp_path_factory.mktemp("browser") / "relais-home")
    s.start()
    yield s
    if s.proc and s.proc.poll() is None:
        assert s.ctrl_c() == 0


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        await b.close()


_axe = Axe()


async def check_a11y(page: Page) -> None:
    """No critical or serious axe-core violation on the page as it stands."""
    results = await _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("critical", "serious")
    ]
    assert not bad, f"{page.url}\n" + "\n".join(bad)


async def fits(page: Page, width: int) -> None:
    """Nothing wider than the screen (no sideways scrolling)."""
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide on a {width} px screen"


class People:
    """Browsers for the demo's people. The first time, a person signs in by their printed
    link (its page, its button); later, a new browser of theirs gets that session's cookies
    (signing in by link is what the sign-in tests click through)."""

    _cookies: ClassVar[dict[str, list]] = {}  # one sign-in per person per stack

    def __init__(self, stack: DevStack, browser: Browser) -> None:
        self.stack = stack
        self.browser = browser
        self.contexts: list[BrowserContext] = []

    async def new(self, viewport: dict[str, int] = DESKTOP) -> Page:
        ctx = await self.browser.new_context(viewport=viewport, locale="fr-FR")
        self.contexts.append(ctx)
        return await ctx.new_page()

    async def page(self, who: str, viewport: dict[str, int] = DESKTOP) -> Page:
        page = await self.new(viewport)
        if who in self._cookies:
            await page.context.add_cookies(self._cookies[who])
            await page.goto(self.stack.url + "/tableau-de-bord")
        else:
            await page.goto(self.stack.links()[who])
            await page.click("button[type=submit]")
            self._cookies[who] = await page.context.cookies()
        await expect(page.locator("h1")).to_have_text("Tableau de bord")
        return page

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()


@pytest.fixture
async def people(shared_stack, browser) -> AsyncIterator[People]:
    p = People(shared_stack, browser)
    yield p
    await p.close()
