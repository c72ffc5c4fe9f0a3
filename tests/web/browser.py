"""What the browser tests share: Debian's Chromium driven by Playwright, and the app served by
uvicorn on a free local port in a thread. Without Chromium a browser test skips, unless
``CI`` is set: then it fails."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD

CHROMIUM = os.environ.get("KIEMTIN_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
SHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"


def need_chromium() -> None:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app):
    """The app served at the yielded base URL until the block ends."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def log_in(page, base: str, name: str, lands_on: str = "/queue") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")  # not the header's language switch
    page.wait_for_url(f"{base}{lands_on}")
