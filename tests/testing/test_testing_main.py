"""``python -m toolgym.testing``: documented options, a chosen port, one-line errors."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys

import pytest

from toolgym.testing import FakeOpenAIServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_help_documents_every_option() -> None:
    res = subprocess.run([sys.executable, "-m", "toolgym.testing", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())
    assert "loopback OpenAI-compatible server" in text and "gold actions" in text
    for option, words in [("--domain", "registered domain"), ("--data-dir", "tau2-format"),
                          ("--latency-ms", "milliseconds"), ("--port", "a free port")]:
        assert f"{option}" in text and words in text, option


def test_port_option_picks_the_port() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "toolgym.testing", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/v1"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["data"]
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_port_in_use_is_a_one_line_error() -> None:
    with FakeOpenAIServer() as busy:
        port = busy.port
        res = subprocess.run([sys.executable, "-m", "toolgym.testing", "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize("port", [0, None])
def test_server_port_parameter(port: int | None) -> None:
    wanted = free_port() if port is None else port
    with FakeOpenAIServer(port=wanted) as srv:
        assert srv.port > 0 and (port == 0 or srv.port == wanted)
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
