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

PAPERS = {"A4": (210 / 25.4, 297 / 25.4), "Letter": (8.5, 11.0)}
"""Paper sizes the report must print on: (width, height) [in]."""
PDFTOPPM = shutil.which("pdftoppm")
"""poppler-utils' PDF rasterizer, to look at printed pages (apt-get install poppler-utils; .ci/run does)."""

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
        # optimizeForSpeed: the same pixels, encoded with PNG's Sub filter, which decode_png undoes
        # with numpy in a few milliseconds (Paeth rows take it a second per screenshot in Python)
        params: dict[str, Any] = {"format": "png", "optimizeForSpeed": True}
        if height is not None:
            width = self.evaluate("document.documentElement.scrollWidth")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": y, "width": width, "height": height, "scale": scale})
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def pdf(self, paper: str | None = None) -> bytes:
        """Print the page to PDF, on ``paper`` (a key of :data:`PAPERS`) or the browser's default."""
        # untagged: the same pages, pixel for pixel, in half the time (the campus report's accessibility
        # structure took Chromium about 4 s of its 9 s); no test reads the tags
        params: dict[str, Any] = {"preferCSSPageSize": True, "printBackground": False, "generateTaggedPDF": False}
        if paper is not None:
            width, height = PAPERS[paper]
            params.update(paperWidth=width, paperHeight=height)
        return base64.b64decode(self.send("Page.printToPDF", params)["data"])

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
def pages(tmp_path_factory, rendered, compare_doc) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("browser")
    files = {}
    for name, html in rendered.items():
        files[name] = out / f"{name}.html"
        files[name].write_text(html, encoding="utf-8")
    files["compare"] = out / "compare.html"
    files["compare"].write_text(render_compare(compare_doc), encoding="utf-8")
    files["ai-building"] = out / "ai-building.html"  # what `make demo` plans: a power tree and CDU groups
    files["ai-building"].write_text(render_plan(_building_plan()), encoding="utf-8")
    return files


def _building_plan() -> dict[str, Any]:
    from planner.api import run_plan
    from planner.inputs.demand import load_demand
    from planner.inputs.facility import load_facility
    from planner.inputs.specs import load_catalogue

    root = Path(__file__).resolve().parent.parent
    cat = load_catalogue()
    demand, tdp = load_demand(str(root / "examples" / "ai-building-demand.yaml"), cat)
    return run_plan(load_facility(root / "facilities" / "ai-building.yaml"), cat, demand, tdp_w=tdp,
                    time_limit=60).plan


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


def test_the_comparison_cost_table_fits_a_printed_page(browser, pages):
    """Printed on A4 (about 718 CSS px between the margins), every column of the comparison's cost table
    is on the page: the table ends inside the page's width (on screen it may scroll instead)."""
    browser.load(pages["compare"].as_uri())
    try:
        browser.send("Emulation.setEmulatedMedia", {"media": "print"})
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 718, "height": 1000, "deviceScaleFactor": 1,
                                                            "mobile": False})
        right, page = browser.evaluate("[document.querySelector('table.tco').getBoundingClientRect().right, "
                                       "document.documentElement.clientWidth]")
    finally:  # back to the page size every test is opened with
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1000, "deviceScaleFactor": 1,
                                                            "mobile": False})
        browser.send("Emulation.setEmulatedMedia", {"media": ""})
    assert right <= page, (right, page)


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


# --------------------------------------------------------------------------------------------------
# printed pages: A4 and Letter, portrait, no page left mostly blank, nothing cut off


def _read_pgm(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    magic, size, _maxval, data = raw.split(b"\n", 3)
    assert magic == b"P5"
    width, height = map(int, size.split())
    return np.frombuffer(data, dtype=np.uint8)[: width * height].reshape(height, width)


def page_images(pdf: bytes, dpi: int = 24) -> list[np.ndarray]:
    """Every page of a PDF as a greyscale image (pdftoppm)."""
    with tempfile.TemporaryDirectory(prefix="rackplan-pdf-") as tmp:
        src = Path(tmp) / "report.pdf"
        src.write_bytes(pdf)
        subprocess.run([PDFTOPPM, "-r", str(dpi), "-gray", str(src), str(Path(tmp) / "p")], check=True,
                       capture_output=True, timeout=300)
        return [_read_pgm(p) for p in sorted(Path(tmp).glob("p-*.pgm"), key=lambda p: int(p.stem.split("-")[1]))]


FOOTER = 0.055
"""Bottom share of a page that holds only the page number (the bottom margin)."""


def page_fill(img: np.ndarray, bands: int = 40) -> float:
    """Share of the page's height above the footer that carries ink: the page is cut into ``bands``
    horizontal strips and a strip counts when anything is printed in it. A full page of text,
    tables or drawings scores about 0.8-1.0; a page whose content stops half way about 0.5."""
    body = img[: int(img.shape[0] * (1 - FOOTER))] < 200
    strips = np.array_split(body.any(axis=1), bands)
    return sum(bool(s.any()) for s in strips) / bands


def ink_right_of(img: np.ndarray, share: float) -> bool:
    """Whether anything is printed right of ``share`` of the page's width."""
    return bool((img[:, int(img.shape[1] * share):] < 200).any())


EXPECTED_PAGES = {"contract": (3, 5), "ai-hall": (3, 6), "colo": (3, 6), "compare": (3, 6), "ai-building": (6, 11)}
"""Pages each fixture's report may take, on either paper: a few, not one per section."""


@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm not installed (apt-get install poppler-utils)")
@pytest.mark.parametrize("paper", list(PAPERS))
@pytest.mark.parametrize("name", list(EXPECTED_PAGES))
def test_prints_on_a4_and_letter_without_blank_pages(browser, pages, name, paper, tmp_path):
    browser.load(pages[name].as_uri())
    pdf = browser.pdf(paper)
    (tmp_path / f"{name}-{paper}.pdf").write_bytes(pdf)
    images = page_images(pdf)
    low, high = EXPECTED_PAGES[name]
    count = len(images)
    assert low <= count <= high, f"{count} pages on {paper}"
    assert pdf_pages(pdf) == len(images)
    width, height = PAPERS[paper]
    fills = [page_fill(img) for img in images]
    for i, img in enumerate(images, start=1):
        # every page on the paper asked for, upright: no landscape pages
        assert img.shape[0] / img.shape[1] == pytest.approx(height / width, rel=0.03), f"page {i}"
        # nothing runs past the right margin (12 mm) and off the paper
        assert not ink_right_of(img, 1 - 8 / (width * 25.4)), f"page {i} is cut off at the right"
    # no page is mostly blank; the last may end where the report ends, but holds something
    assert min(fills[:-1], default=1.0) >= 0.6, [round(f, 2) for f in fills]
    assert fills[-1] > 0


@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm not installed (apt-get install poppler-utils)")
def test_campus_scale_prints_without_blank_pages(browser, big_html, tmp_path):
    """About 30,000 rack positions in six halls: the floor layouts come in parts that the pages break
    between, and the capped tables fill their pages."""
    page = tmp_path / "big.html"
    page.write_text(big_html, encoding="utf-8")
    browser.load(page.as_uri())
    pdf = browser.pdf("A4")
    images = page_images(pdf, dpi=16)
    fills = [page_fill(img) for img in images]
    count = len(images)
    assert 20 <= count <= 80, f"{count} pages"
    assert min(fills[:-1]) >= 0.6, [round(f, 2) for f in fills]


def test_printed_hall_without_planned_racks_is_one_line(browser, pages, plans):
    """contract-example's hall-2 has existing load but no planned rack: one line on screen and paper."""
    plan = plans["contract"]
    empty = [h["name"] for h in plan["halls"] if h["racks_used"] == 0]
    assert empty
    browser.load(pages["contract"].as_uri())
    browser.send("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        found = browser.evaluate("[...document.querySelectorAll('details.hall-empty')].map(d => "
                                 "[d.open, d.querySelector('summary').textContent, d.getBoundingClientRect().height])")
    finally:
        browser.send("Emulation.setEmulatedMedia", {"media": ""})
    assert [f[1].split(":")[0] for f in found] == [f"Hall {h}" for h in empty]
    for is_open, text, height in found:
        assert not is_open and "no planned rack" in text
        assert height < 40, f"{height} px: more than one line"
