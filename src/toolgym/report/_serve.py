"""A small local HTTP server showing the report of runs, live while they run.

Requests must name the server by a loopback address in their ``Host``
header (``127.0.0.1``, ``localhost`` or ``[::1]`` with the served port);
any other gets 403, which defeats DNS rebinding (a web page whose domain
is re-pointed at 127.0.0.1 cannot read the runs).

The page is rebuilt when a run's files change (size or mtime of
``results.jsonl``, ``config.json`` or ``summary.json``). While a run is in
progress the page polls ``/version`` and reloads itself when it changes (it keeps
polling afterwards, cheaply, so a resumed run shows up as well); the
trajectory that was open reopens, since it lives in the URL hash.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from toolgym._secrets import redact_secrets
from toolgym.errors import DataError, ToolgymError
from toolgym.report._html import report_html
from toolgym.runner._store import CONFIG, RESULTS, SUMMARY, load_run

__all__ = ["ReportServer", "run_in_progress", "serve"]

_RUNNING_STATUS = {"running", "in_progress"}


def run_in_progress(run_dir: Path) -> bool:
    """Whether a run looks like it is being written: no config or summary yet.

    The runner writes ``summary.json`` when it stops, so a summary saying
    ``"complete": false`` is a finished but partial (e.g. interrupted) run;
    a ``"status"`` of ``running`` is also honoured.
    """
    if not (run_dir / CONFIG).exists() or not (run_dir / SUMMARY).exists():
        return True
    try:
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return True  # being replaced right now
    if not isinstance(summary, dict):
        return True
    return str(summary.get("status", "")).lower() in _RUNNING_STATUS


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class ReportServer:
    """A running report server; call :meth:`shutdown` to stop it."""

    def __init__(self, run_dirs: Sequence[str | Path], host: str, port: int,
                 refresh_s: float, title: str | None = None) -> None:
        self.run_dirs = [Path(d) for d in run_dirs]
        self.refresh_s = refresh_s
        self.title = title
        self._lock = threading.Lock()
        self._page: bytes = b""
        self._page_version: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not server.host_allowed(self.headers.get("Host")):
                    # DNS rebinding: a page from another site reaching us through
                    # a name that resolves to 127.0.0.1 gets nothing.
                    self._send(403, "text/plain; charset=utf-8", b"forbidden: unexpected Host\n")
                    return
                path = self.path.split("?", 1)[0]
                if path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", server.page())
                elif path == "/version":
                    body = json.dumps({"version": server.version(),
                                       "live": server.in_progress()}).encode()
                    self._send(200, "application/json", body)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the terminal quiet; the CLI prints the URL once

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="toolgym-report", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the one picked when 0 was asked for)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The page's address (a loopback one when bound to every interface)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = host if ":" not in host else f"[{host}]"
        return f"http://{host}:{self.port}/"

    def allowed_hosts(self) -> frozenset[str]:
        """``Host`` header values this server answers (lower case).

        Loopback names with the served port (``127.0.0.1``, ``localhost``,
        ``[::1]``), plus the bound address itself when it is a specific IP
        address (``--host 192.0.2.7``): an IP literal cannot be rebound.
        A name without the port is accepted only when the port is 80.
        """
        names = {"127.0.0.1", "localhost", "[::1]"}
        bound = self.host
        if bound not in ("0.0.0.0", "::", ""):
            names.add(f"[{bound}]" if ":" in bound else bound)
        allowed = {f"{n}:{self.port}" for n in names}
        if self.port == 80:
            allowed |= names
        return frozenset(allowed)

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request's ``Host`` header names this server (see :meth:`allowed_hosts`)."""
        return host is not None and host.strip().lower() in self.allowed_hosts()

    def version(self) -> str:
        """A digest of the run files' sizes and mtimes; changes when any of them does."""
        sig = [(str(d), [_stat(d / n) for n in (RESULTS, CONFIG, SUMMARY)])
               for d in self.run_dirs]
        return hashlib.sha256(repr(sig).encode()).hexdigest()[:16]

    def in_progress(self) -> bool:
        """Whether any served run is still running."""
        return any(run_in_progress(d) for d in self.run_dirs)

    def page(self) -> bytes:
        """The current page, rebuilt only when the run files changed."""
        with self._lock:
            version = self.version()
            if version != self._page_version:
                self._page = self._build(version)
                self._page_version = version
            return self._page

    def _build(self, version: str) -> bytes:
        # The page always polls (a stat of three files per run, cheap) so that
        # a resumed run shows up too; the banner depends on in_progress.
        live = {"poll": True, "in_progress": self.in_progress(), "refresh_s": self.refresh_s,
                "version": version}
        try:
            runs = [load_run(d) for d in self.run_dirs]
            html = report_html(runs, self.title, live=live)
        except (ToolgymError, OSError, ValueError) as exc:
            # Shown in the page, then retried: a run being written may fix itself.
            html = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                    f'<meta http-equiv="refresh" content="{max(1, round(self.refresh_s))}">'
                    "<title>toolgym report</title></head><body><h1>Cannot show the run</h1>"
                    f"<pre>{escape(redact_secrets(str(exc)))}</pre></body></html>")
        return html.encode("utf-8", errors="backslashreplace")

    def shutdown(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReportServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(run_dirs: Sequence[str | Path], host: str = "127.0.0.1", port: int = 0,
          refresh_s: float = 2.0, title: str | None = None) -> ReportServer:
    """Serve the report of one or more run directories in a background thread.

    Args:
        run_dirs: Run directories (they may still be being written).
        host: Address to bind; the default keeps the server local.
        port: Port; 0 picks a free one (see ``server.url``).
        refresh_s: How often an open page checks for new results while a
            run is in progress.
        title: Page title.

    Returns:
        The running server; call ``shutdown()`` to stop it.
    """
    for d in run_dirs:
        if not Path(d).is_dir():
            raise DataError(f"{d}: run directory not found")
    return ReportServer(run_dirs, host, port, refresh_s, title)
