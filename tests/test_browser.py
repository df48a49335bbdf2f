"""The HTML reports in a real headless Chromium: no console errors, no network requests, a screenshot
that shows something, and print-to-PDF with more than one page.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL bytes on file descriptors 3 and 4), with the standard library only, so the tests need
no browser-automation package. They are skipped when Debian's ``chromium`` is not installed
(``apt-get install chromium``; .ci/run installs it).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from planner.report.views import render_compare, render_plan

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.access(p, os.X_OK)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"),
]


class CDPError(RuntimeError):
    pass


class Browser:
    """A headless Chromium and one page, driven over the DevTools protocol on a pipe."""

    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="rackplan-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds() -> None:  # put the pipe ends on fds 3 (Chromium reads) and 4 (Chromium writes)
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=child_fds, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    # protocol -------------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise CDPError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._to_chrome, data):]
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CDPError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_for(self, method: str) -> dict[str, Any]:
        for m in self.events:
            if m["method"] == method:
                return m
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_message(deadline)
            if "method" in m:
                self.events.append(m)
                if m["method"] == method:
                    return m

    # page -----------------------------------------------------------------------------------------
    def open_page(self, width: int = 1280, height: int = 1000) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def load(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")
        self.send("Runtime.evaluate", {"expression": "1"})  # let pending console/log events arrive

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                args = (str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                out.append("console: " + " ".join(args))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log: {p['entry'].get('source')}: {p['entry'].get('text')}")
            elif e["method"] == "Network.loadingFailed":
                out.append(f"network: {p.get('errorText')}")
        return out

    def evaluate(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def screenshot(self, height: int | None = None, y: int = 0, scale: float = 1.0) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if height is not None:
            width = self.evaluate("document.documentElement.scrollWidth")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": y, "width": width, "height": height, "scale": scale})
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def pdf(self) -> bytes:
        return base64.b64decode(self.send("Page.printToPDF", {"preferCSSPageSize": True,
                                                              "printBackground": False})["data"])

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", session=False)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB or RGBA PNG as an (H, W, channels) array (standard library plus numpy)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
            depth, ctype, interlace = body[8], body[9], body[12]
            assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unsupported PNG (depth {depth}, type {ctype})"
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        f, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:  # Sub: running sum per channel
            cur = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) % 256
        elif f == 2:  # Up
            cur = (line + prev) % 256
        else:  # Average or Paeth: each byte depends on the one to its left
            cur = np.zeros(stride, dtype=np.int32)
            lv, pv = line.tolist(), prev.tolist()
            c = [0] * stride
            for i in range(stride):
                a = c[i - channels] if i >= channels else 0
                b = pv[i]
                if f == 3:
                    c[i] = (lv[i] + (a + b) // 2) & 255
                else:
                    cc = pv[i - channels] if i >= channels else 0
                    p = a + b - cc
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
                    c[i] = (lv[i] + pred) & 255
            cur = np.array(c, dtype=np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


def image_stats(png: bytes) -> tuple[int, float]:
    """(distinct RGB colours, share of pixels that are not white)."""
    img = decode_png(png)[:, :, :3].astype(np.uint32)
    packed = (img[:, :, 0] << 16) | (img[:, :, 1] << 8) | img[:, :, 2]
    return len(np.unique(packed)), float((packed != 0xFFFFFF).mean())


# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    b = Browser(CHROMIUM)
    try:
        b.open_page()
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory, plans, compare_doc) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("browser")
    files = {}
    for name, plan in plans.items():
        files[name] = out / f"{name}.html"
        files[name].write_text(render_plan(plan), encoding="utf-8")
    files["compare"] = out / "compare.html"
    files["compare"].write_text(render_compare(compare_doc), encoding="utf-8")
    return files


@pytest.mark.parametrize("name", ["contract", "ai-hall", "colo", "compare"])
def test_page_loads_clean_and_offline(browser, pages, name):
    url = pages[name].as_uri()
    browser.load(url)
    assert browser.errors() == []
    assert browser.requests() == [url], "the report must fetch nothing but itself"
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.querySelectorAll('link[rel=stylesheet],img,iframe,object,embed').length") == 0
    # every inline SVG laid out with a size
    sizes = browser.evaluate("[...document.querySelectorAll('main svg')].map(s => s.getBoundingClientRect().width)")
    assert sizes and min(sizes) > 0


@pytest.mark.parametrize("name", ["contract", "compare"])
def test_screenshot_is_not_blank(browser, pages, name, tmp_path):
    browser.load(pages[name].as_uri())
    png = browser.screenshot(height=1800)
    (tmp_path / f"{name}.png").write_bytes(png)
    colours, ink = image_stats(png)
    assert colours > 200, f"only {colours} distinct colours"
    assert ink > 0.03, f"only {ink:.1%} of pixels are not white"


def test_print_to_pdf_has_pages_per_hall(browser, pages, plans):
    browser.load(pages["contract"].as_uri())
    pdf = browser.pdf()
    assert pdf.startswith(b"%PDF")
    halls = len(plans["contract"]["halls"])
    assert halls >= 2
    # summary pages, one section per hall on its own pages, then assumptions
    assert pdf_pages(pdf) >= halls + 2


def test_compare_print_to_pdf(browser, pages):
    browser.load(pages["compare"].as_uri())
    pdf = browser.pdf()
    assert pdf.startswith(b"%PDF") and pdf_pages(pdf) > 1


def test_escaped_names_do_not_run(browser, tmp_path, plans):
    plan = json.loads(json.dumps(plans["contract"]))
    plan["facility"]["name"] = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    page = tmp_path / "evil.html"
    page.write_text(render_plan(plan), encoding="utf-8")
    browser.load(page.as_uri())
    assert browser.errors() == []
    assert browser.requests() == [page.as_uri()]
    assert browser.evaluate("document.scripts.length") == 0
    assert "<script>alert(1)</script>" in browser.evaluate("document.querySelector('h1').textContent")
