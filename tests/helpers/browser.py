"""A real headless Chromium (Debian's `chromium` and `chromium-driver`, which .ci/run installs)
driven by Selenium, with every http(s) request blocked: what a page shows on a machine with
no internet."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("MUSICGENRE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts"))


def require_chromium() -> None:
    """CI installs Chromium, so there a missing browser is a failure; elsewhere, a skip that
    says how to install it."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    message = "no system Chromium: apt-get install chromium chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def render_offline(html: Path, screenshot: Path, plots: int, timeout_s: float = 60) -> dict:
    """Load `html` from disk with the network blocked, wait until `plots` Vega views have
    drawn (a canvas or an SVG each), save a full-page screenshot, and return the browser's
    console messages, the requests that were blocked and each view's count of non-background
    pixels."""
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch drivers
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,4000",
                "--host-resolver-rules=MAP * ~NOTFOUND"):  # no name resolves: no network
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
        driver.get(Path(html).resolve().as_uri())
        selector = ".vega-embed canvas, .vega-embed svg.marks"
        WebDriverWait(driver, timeout_s).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, selector)) >= plots)
        views = driver.find_elements(By.CSS_SELECTOR, selector)
        inked = []
        for view in views:
            image = Image.open(io.BytesIO(view.screenshot_as_png)).convert("L")
            inked.append(sum(image.histogram()[:235]))  # pixels darker than the background
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        console = driver.get_log("browser")
    finally:
        driver.quit()
    return {"views": len(views), "inked_pixels": inked, "console": console}
