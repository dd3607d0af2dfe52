"""A headless Chromium driven by selenium, for the tests (and docs tools) that open pages.

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the ``browser`` extra
(selenium); ``python3 tasks.py test`` installs all three (the packages where apt can
run).  Without them ``chrome()`` raises ``BrowserMissing`` saying what to install: the
tests turn that into a failure, never a skip, so a machine without a browser cannot pass
them silently.
"""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "out" / "test-artifacts"  # screenshots the browser tests leave behind
INSTALL = ("apt-get install -y chromium chromium-driver   (Debian/Ubuntu, as root; "
           "python3 tasks.py test does this) "
           "and pip install 'graphgrad[browser]'   (selenium; python3 tasks.py test does this)")


class BrowserMissing(RuntimeError):
    pass


def chrome(width: int = 1400, height: int = 900):
    """A headless Chromium WebDriver that keeps the pages' console messages."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise BrowserMissing(f"the browser tests need selenium: {INSTALL}") from err
    binary = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                   if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        missing = " and ".join(name for name, path in (("a Chromium browser", binary),
                                                       ("chromedriver", driver)) if path is None)
        raise BrowserMissing(f"the browser tests need {missing}, not found on PATH: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


def console_errors(driver) -> list[str]:
    """The page's console errors (and uncaught exceptions) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
