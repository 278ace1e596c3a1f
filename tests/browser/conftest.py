"""A real headless Chromium (Debian's, driven by Playwright) against the real web server."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.procs import child_env, spare_port, start_web, start_worker, wait_for

CHROMIUM = os.environ.get("HUIJIA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def live_server(test_env, tmp_path, db, users):
    """gunicorn + one Celery worker on the test database and Redis; yields the base URL."""
    import requests

    env = child_env(test_env)
    port = spare_port()
    web = start_web(env, port, tmp_path / "web.log")
    worker = start_worker(env, tmp_path / "worker.log", "-c", "1")
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(base + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, 30, what=f"web server\n{web.tail()}")
        yield base
    finally:
        web.stop()
        worker.stop()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    p = context.new_page()
    yield p
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
