"""A real browser for the dashboard tests: Debian's chromium driven headless by
selenium through chromedriver (both from apt; .ci/run installs them). Selenium blocks,
so every call runs in a thread while the dashboard's server runs on the test's loop.
Screenshots go outside the repository (TIPOFF_SCREENSHOTS, default
/tmp/tipoff-screenshots). Chromium's own background traffic is switched off: nothing
but 127.0.0.1 is reached."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SHOTS = Path(os.environ.get("TIPOFF_SCREENSHOTS", "/tmp/tipoff-screenshots"))
QUIET_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,900", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--disable-client-side-phishing-detection", "--metrics-recording-only",
               "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
               "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")


def require_browser() -> None:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if path is None]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium")
    if missing:
        reason = f"the browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("TIPOFF_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


class Browser:
    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM or ""
        for flag in QUIET_FLAGS:
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        self.driver.set_page_load_timeout(20)

    async def get(self, url: str) -> str:
        await asyncio.to_thread(self.driver.get, url)
        return await self.text()

    async def text(self) -> str:
        from selenium.common.exceptions import StaleElementReferenceException

        for _ in range(50):  # a page being replaced: read the new one
            try:
                return await asyncio.to_thread(lambda: self.driver.find_element("tag name", "body").text)
            except StaleElementReferenceException:
                await asyncio.sleep(0.1)
        raise AssertionError("the page never settled")

    async def submit(self, css: str) -> str:
        """Press a form's button and wait for the page it leads to."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def press() -> None:
            old = self.driver.find_element("tag name", "html")
            self.driver.find_element("css selector", css).click()

            def left(driver: object) -> bool:
                try:
                    old.is_enabled()
                except WebDriverException:  # stale; or, mid-navigation, chromium's "does not belong
                    return True  # to the document", which selenium's staleness_of does not expect
                return False
            WebDriverWait(self.driver, 15).until(left)
        await asyncio.to_thread(press)
        return await self.text()

    async def type(self, css: str, text: str) -> None:
        def typing() -> None:
            field = self.driver.find_element("css selector", css)
            field.clear()
            field.send_keys(text)
        await asyncio.to_thread(typing)

    async def click(self, css: str) -> None:
        await asyncio.to_thread(lambda: self.driver.find_element("css selector", css).click())

    async def wait_for_text(self, css: str, wanted: str, timeout: float = 10.0) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        shown = ""
        while asyncio.get_running_loop().time() < deadline:
            shown = await asyncio.to_thread(lambda: self.driver.find_element("css selector", css).text)
            if wanted in shown:
                return shown
            await asyncio.sleep(0.1)
        raise AssertionError(f"{wanted!r} never appeared in {css}: {shown!r}")

    async def cookies(self) -> dict[str, dict[str, object]]:
        return {c["name"]: c for c in await asyncio.to_thread(self.driver.get_cookies)}

    async def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        await asyncio.to_thread(self.driver.save_screenshot, str(path))
        return path

    def close(self) -> None:
        self.driver.quit()
