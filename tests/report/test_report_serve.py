"""The live report server: local only, rebuilds on new results, stoppable."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_synth import make_result, write_run

from toolgym.errors import DataError
from toolgym.report import ReportServer, run_in_progress, serve
from toolgym.runner._results import Termination
from toolgym.runner._store import ResultsWriter


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode("utf-8")


@pytest.fixture
def live_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "live"
    write_run(run_dir, [make_result("first", 0, 1.0)], complete=None)  # no summary yet
    return run_dir


@pytest.fixture
def server(live_run: Path) -> Iterator[ReportServer]:
    srv = serve([live_run], refresh_s=0.5)
    yield srv
    srv.shutdown()


def test_serves_page_and_version_on_localhost(server: ReportServer) -> None:
    assert server.host == "127.0.0.1" and server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/"
    status, ctype, page = get(server.url)
    assert status == 200 and ctype.startswith("text/html")
    assert "first" in page and "A run is still in progress" in page
    meta = json.loads(page.split('id="tg-meta">', 1)[1].split("</script>", 1)[0])
    assert meta["live"]["poll"] is True and meta["live"]["refresh_s"] == 0.5
    status, ctype, body = get(server.url + "version")
    v = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert v == {"version": meta["live"]["version"], "live": True}
    assert get(server.url + "nope")[0] == 404


def test_page_follows_new_results_and_completion(server: ReportServer, live_run: Path) -> None:
    v1 = json.loads(get(server.url + "version")[2])["version"]
    writer = ResultsWriter(live_run / "results.jsonl", fsync=False)
    writer.append(make_result("second", 0, 0.0))
    writer.close()
    v2 = json.loads(get(server.url + "version")[2])["version"]
    assert v2 != v1
    page = get(server.url)[2]
    assert '"second"' in page and f'"version":"{v2}"' in page
    (live_run / "summary.json").write_text(json.dumps({"complete": True}))
    assert not run_in_progress(live_run)
    v3 = json.loads(get(server.url + "version")[2])
    assert v3["live"] is False and v3["version"] != v2
    assert "A run is still in progress" not in get(server.url)[2]


def test_a_corrupt_results_line_is_skipped_and_named(server: ReportServer,
                                                      live_run: Path) -> None:
    with open(live_run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"task_id": "<b>broken</b>"}\n')
    status, _, page = get(server.url)
    assert status == 200
    assert "results.jsonl:" in page and "skipped, not a valid rollout record" in page
    assert "<b>broken</b>" not in page


def test_shutdown_releases_the_port(live_run: Path) -> None:
    srv = serve([live_run])
    url = srv.url
    assert get(url)[0] == 200
    srv.shutdown()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        serve([tmp_path / "absent"])


def test_in_progress_rules(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    assert run_in_progress(d)
    (d / "config.json").write_text("{}")
    assert run_in_progress(d)
    (d / "summary.json").write_text(json.dumps({"complete": False, "interrupted": True}))
    assert not run_in_progress(d)  # stopped, not running
    (d / "summary.json").write_text(json.dumps({"status": "running"}))
    assert run_in_progress(d)


def test_live_page_and_error_page_never_show_keys(tmp_path: Path) -> None:
    key = "sk-proj-Lw3Nd8Qz1Ry5Tb7Vc2Xf6Hm0"
    failed = make_result("k", 0, 0.0, termination=Termination.MODEL_ERROR)
    failed.error = f"TerminalModelError: HTTP 401: Incorrect API key provided: {key}"
    write_run(tmp_path / "run", [failed], complete=None)
    with serve([tmp_path / "run"], refresh_s=0.5) as srv:
        page = get(srv.url)[2]
        assert "Incorrect API key provided: sk-***" in page and key not in page
    odd = tmp_path / f"run-token={key}"  # the error message names the file, and so the key
    write_run(odd, [failed], complete=None)
    with open(odd / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write("{}\n")
    with serve([odd], refresh_s=0.5) as srv:
        page = get(srv.url)[2]
    # The corrupt line is skipped and named in a note, whose text is redacted.
    notes = [part.split("</div>")[0] for part in page.split('<div class="note">')
             if "not a valid rollout" in part.split("</div>")[0]]
    assert notes and "run-token=sk-***/results.jsonl" in notes[0] and key not in notes[0]


def request_with_host(srv: ReportServer, path: str, host: str | None) -> tuple[int, bytes]:
    """GET ``path`` from the server over real HTTP with a chosen ``Host`` header."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_loopback_host_headers_are_served(server: ReportServer) -> None:
    for name in ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"]:
        status, body = request_with_host(server, "/", f"{name}:{server.port}")
        assert status == 200 and b'"first"' in body, name
        assert request_with_host(server, "/version", f"{name}:{server.port}")[0] == 200, name


def test_other_host_headers_get_403_and_no_data(server: ReportServer) -> None:
    port = server.port
    hosts = [f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}",
             f"localhost:{port + 1}", "127.0.0.1", "localhost", f"192.0.2.7:{port}", "", None]
    for host in hosts:
        for path in ["/", "/version", "/index.html", "/nothing"]:
            status, body = request_with_host(server, path, host)
            assert status == 403, (host, path)
            assert b"first" not in body and b"version" not in body, (host, path)


def test_bound_to_every_interface_the_url_is_loopback(live_run: Path) -> None:
    with serve([live_run], host="0.0.0.0", refresh_s=0.5) as srv:
        assert srv.url == f"http://127.0.0.1:{srv.port}/"
        assert get(srv.url)[0] == 200
        assert request_with_host(srv, "/", f"0.0.0.0:{srv.port}")[0] == 403
