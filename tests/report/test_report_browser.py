"""The report in a real browser (headless Chromium): viewer renders, nothing injected runs.

Skipped when Chromium is missing, except under ``TOOLGYM_REQUIRE_BROWSER=1``
(CI), where a missing browser is a failure. ``scripts/install-chromium.sh``
installs it on Debian.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from report_synth import make_result

from toolgym.messages import Message
from toolgym.report import render_report
from toolgym.runner._store import RunData

# Longer than the suite's 60 s: under TOOLGYM_REQUIRE_BROWSER=1 the first test
# may install Chromium with apt (up to 900 s, see chromium()).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(1000)]

PWN = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
PWN_SCRIPT = "<script>document.body.setAttribute('data-pwned','2')</script>"


def _find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "",
                      shutil.which("chromium-browser") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


_INSTALL_TRIED: list[bool] = []


def chromium() -> str:
    """Path of the Chromium binary.

    Under TOOLGYM_REQUIRE_BROWSER=1 (CI) a missing browser is installed once
    with scripts/install-chromium.sh (Debian's package), and still missing is
    a failure; otherwise the test skips.
    """
    found = _find_chromium()
    if found:
        return found
    required = os.environ.get("TOOLGYM_REQUIRE_BROWSER") == "1"
    if required and not _INSTALL_TRIED:
        _INSTALL_TRIED.append(True)
        script = Path(__file__).resolve().parents[2] / "scripts" / "install-chromium.sh"
        subprocess.run(["bash", str(script)], check=False, timeout=900)
        found = _find_chromium()
        if found:
            return found
    message = "headless Chromium not found (run scripts/install-chromium.sh)"
    if required:
        pytest.fail(message)
    pytest.skip(message)


def run_chromium(tmp_path: Path, url: str, *extra: str) -> str:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", *extra, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def report(run_factory: Callable[..., RunData], tmp_path: Path) -> Path:
    evil = make_result("x1", 0, 0.0, user_text=f"please help {PWN} {PWN_SCRIPT}",
                       tool_text=f'{{"note": "{PWN}"}}', db_match=False,
                       annotations=[{"judge": "policy", "turn": 2, "text": PWN_SCRIPT,
                                     "verdict": "fail"}])
    evil.messages.append(Message(role="assistant", content="</script>" + PWN_SCRIPT))
    a = run_factory("base", [evil] + [make_result(str(t), 0, 1.0) for t in range(3)])
    b = run_factory("new", [make_result(str(t), 0, 0.0) for t in range(4)])
    return render_report([a, b], tmp_path / "report.html")


def test_open_hash_renders_trajectory_as_text(report: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path, report.as_uri() + "#open=x1:0", "--dump-dom")
    assert "data-render-ms=" in dom  # our script ran to the end without an error
    assert "Run A · task x1 · trial 0" in dom
    assert dom.count('class="msg role-') == len(make_result("x1").messages) + 1
    # The payloads are visible as text...
    assert "please help &lt;img src=x onerror=" in dom
    assert "&lt;script&gt;document.body.setAttribute" in dom
    # ...and never became elements or ran.
    assert "<img" not in dom
    assert 'data-pwned="' not in dom
    assert 'class="annot"' in dom and 'class="dbdiff"' in dom
    assert '<span class="del">- status: "active"' in dom
    assert '<span class="ins">+ status: "cancelled"' in dom


def test_open_hash_selects_the_run(report: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path, report.as_uri() + "#open=2:0&run=1", "--dump-dom")
    assert "Run B · task 2 · trial 0" in dom
    assert "8 of 8 rollouts match" in dom
    dom = run_chromium(tmp_path, report.as_uri(), "--dump-dom")
    assert '<aside id="tg-viewer" hidden="">' in dom
    assert dom.count('class="cell ') + dom.count('class="cell"') >= 8


def test_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, report.as_uri() + "#open=x1:0", f"--screenshot={shot}",
                 "--window-size=1280,900")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a blank 1280x900 page compresses to a few KB
