"""Open a report.html in headless Chromium: take a screenshot and check that every image and
video in it loads.

    python scripts/screenshot_report.py results/run/report.html [--png shot.png]

Prints one line per media element and exits 1 if any image or video failed to load (or 2
when no Chromium is installed). tests/report/test_report.py uses check_media() as its render test.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Appended to a copy of the page: waits until every <video> has decoded a frame (or failed),
# then writes what loaded into <pre id="media-check">, which --dump-dom prints.
_CHECK = """<script>
(function () {
  function done() {
    var r = {images: [], videos: []};
    document.querySelectorAll('img').forEach(function (i) {
      r.images.push({ok: i.complete && i.naturalWidth > 0, width: i.naturalWidth, height: i.naturalHeight});
    });
    document.querySelectorAll('video').forEach(function (v) {
      r.videos.push({ok: v.readyState >= 2 && v.videoWidth > 0 && !v.error, ready: v.readyState,
                     width: v.videoWidth, height: v.videoHeight, duration: v.duration,
                     error: v.error ? v.error.code : null});
    });
    var pre = document.createElement('pre'); pre.id = 'media-check'; pre.textContent = JSON.stringify(r);
    document.body.appendChild(pre);
  }
  window.addEventListener('load', function () {
    var vids = Array.prototype.slice.call(document.querySelectorAll('video'));
    Promise.all(vids.map(function (v) {
      return new Promise(function (res) {
        if (v.readyState >= 2 || v.error) return res();
        v.addEventListener('loadeddata', res); v.addEventListener('error', res); setTimeout(res, 15000);
      });
    })).then(done);
  });
})();
</script>"""

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
          "--no-first-run", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(chromium: str, args: list[str], timeout: int = 90) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([chromium, *_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def check_media(html_path, chromium: str | None = None) -> dict:
    """Load the page in headless Chromium; return {"images": [...], "videos": [...]} load states."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium found")
    html_path = Path(html_path).resolve()
    page = html_path.read_text(encoding="utf-8")
    # the probe lies beside the page, so that media linked by relative path load as they do for it
    with tempfile.NamedTemporaryFile("w", suffix=".html", prefix=".media-check-", dir=html_path.parent,
                                     encoding="utf-8", delete=False) as f:
        f.write(page.replace("</body>", _CHECK + "</body>"))
    probe = Path(f.name)
    try:
        dom = _run(chromium, ["--virtual-time-budget=20000", "--dump-dom", probe.as_uri()])
    finally:
        probe.unlink()
    m = re.search(r'<pre id="media-check">(.*?)</pre>', dom, re.S)
    if not m:
        raise RuntimeError("the page never finished loading its media")
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(html_path, png_path, chromium: str | None = None, size=(1280, 2400)) -> Path:
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium found")
    png_path = Path(png_path).resolve()
    _run(chromium, [f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000",
                    f"--screenshot={png_path}", Path(html_path).resolve().as_uri()])
    return png_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html")
    parser.add_argument("--png", default=None, help="screenshot path (default: beside the report)")
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print("no chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    status = check_media(args.html)
    for kind in ("images", "videos"):
        for i, s in enumerate(status[kind]):
            print(f"{kind[:-1]} {i}: {'ok' if s['ok'] else 'FAILED'} {s}")
    png = screenshot(args.html, args.png or Path(args.html).with_suffix(".png"))
    print(f"screenshot: {png}")
    bad = [s for k in ("images", "videos") for s in status[k] if not s["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
