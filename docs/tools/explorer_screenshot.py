"""The README's picture of the backward explorer (docs/explorer.png), taken in headless Chromium.

    .venv/bin/python docs/tools/explorer_screenshot.py            # writes docs/explorer.png

It writes the page of ``graphgrad draw --html`` (one training step of the demo's untrained
CNN) into out/, opens it, clicks the first convolution, plays backward for a few steps and
saves a screenshot.  Needs what the browser tests need (tests/browser.py): Chromium,
chromedriver and selenium.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from browser import chrome  # noqa: E402

from graphgrad import demo  # noqa: E402


def main() -> int:
    page = demo.draw(out=ROOT / "out" / "explorer" / "cnn.html", html=True, log=lambda *a: None)
    driver = chrome(1500, 900)
    try:
        driver.get(page.resolve().as_uri())
        driver.execute_script("""
            const steps = explorer.data.steps;
            const conv = steps.findIndex((s) => s[1] === "conv2d" || s[1] === "unfold");
            explorer.goTo(Math.max(conv - 1, 0));
            const vertex = Object.keys(explorer.data.vertices).find(
                (id) => explorer.data.vertices[id].title === "block2.0.weight");
            explorer.select(vertex, false);
        """)
        driver.find_element("id", "step").click()
        target = ROOT / "docs" / "explorer.png"
        driver.save_screenshot(str(target))
    finally:
        driver.quit()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
