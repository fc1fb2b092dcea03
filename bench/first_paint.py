"""Start-up as a user meets it: a fresh studio server, then the Data page in headless Chromium.

    python bench/first_paint.py [--page data] [--runs 1]

Prints the seconds from opening the address until: the sidebar's steps show, the loading spinner
shows and goes, the page's title shows, and its first section is drawn. A measurement
to compare before and after a change on the same machine, not a test: a busy machine is slower.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKS = {  # what the page shows -> a selector for it
    "sidebar": "[data-testid='stSidebar'] a:has-text('Data')",
    "spinner": "[data-testid='stSpinner']",
    "title": "h1:has-text('Your images')",
    "complete": "text=Zip file",  # the first section's uploader, drawn after the page's tabs
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(port: int, home: str) -> subprocess.Popen:
    env = {**os.environ, "TLSTUDIO_HOME": home}
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_healthy(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the studio server did not start")


def measure(page: str) -> dict[str, float | None]:
    """One fresh server, one visit: seconds from opening the address to each mark."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    with tempfile.TemporaryDirectory() as home:
        server = _server(port, home)
        try:
            _wait_healthy(port)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium")
                tab = browser.new_page()
                start = time.monotonic()
                tab.goto(f"http://127.0.0.1:{port}/{page}")
                seen: dict[str, float | None] = {k: None for k in (*MARKS, "spinner gone")}
                deadline = start + 180
                while time.monotonic() < deadline and seen["complete"] is None:
                    for mark, selector in MARKS.items():
                        if seen[mark] is None and tab.locator(selector).count():
                            seen[mark] = time.monotonic() - start
                    if seen["spinner"] is not None and seen["spinner gone"] is None and \
                            not tab.locator(MARKS["spinner"]).count():
                        seen["spinner gone"] = time.monotonic() - start
                    time.sleep(0.05)
                browser.close()
        finally:
            os.killpg(server.pid, 15)
            server.wait()
    return seen


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--page", default="data")
    args.add_argument("--runs", type=int, default=1)
    a = args.parse_args()
    for _ in range(a.runs):
        seen = measure(a.page)
        print("  ".join(f"{k} {'-' if v is None else f'{v:.1f} s'}" for k, v in seen.items()), flush=True)


if __name__ == "__main__":
    main()
