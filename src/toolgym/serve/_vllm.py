"""``toolgym serve vllm``: start vLLM's OpenAI-compatible server and wait until it is usable.

The most common cluster failures are an experiment that starts before its
server is ready, and a wrong host, port or model name. So this command
returns only once the server is *usable*: ``GET /v1/models`` lists the model
and a one-token chat completion succeeds. It streams the server's log to a
file, fails with the log's last lines on timeout or when the server exits,
prints the base URL, and can write it to a file (or an env file) for the
experiment to read. With ``wait_only`` it starts nothing and just waits for a
server started elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolgym.errors import ConfigError, ToolgymError

__all__ = ["ServeError", "Server", "start_vllm", "wait_until_ready"]

#: How many log lines a failure shows.
TAIL_LINES = 20


class ServeError(ToolgymError):
    """The server did not become usable (the message has the reason and the log's tail)."""


@dataclass
class Server:
    """A started (or found) server."""

    base_url: str
    model: str
    pid: int | None
    log: Path | None
    seconds: float


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
    return ("\nlast lines of " + str(log) + ":\n" + "\n".join("  " + x for x in lines)
            if lines else f"\n{log} is empty")


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: dict[str, object], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _probe(base_url: str, model: str, timeout: float) -> str | None:
    """None when usable; otherwise what is not ready yet."""
    try:
        status, body = _get(base_url.rstrip("/") + "/models", timeout)
    except (OSError, urllib.error.URLError) as exc:
        return f"not answering ({getattr(exc, 'reason', exc)})"
    if status != 200:
        return f"GET /models answered HTTP {status}"
    try:
        ids = [m.get("id") for m in json.loads(body).get("data", [])]
    except (ValueError, AttributeError):
        return "GET /models answered something that is not a model list"
    if model not in ids:
        return f"serves {', '.join(map(str, ids)) or 'no model'}, not {model!r}"
    try:
        status, _ = _post(base_url.rstrip("/") + "/chat/completions", {
            "model": model, "max_tokens": 1,
            "messages": [{"role": "user", "content": "Say OK."}]}, timeout)
    except (OSError, urllib.error.URLError) as exc:
        return f"a one-token completion failed ({getattr(exc, 'reason', exc)})"
    if status != 200:
        return f"a one-token completion answered HTTP {status}"
    return None


def wait_until_ready(base_url: str, model: str, *, timeout_s: float = 900.0,
                     poll_s: float = 2.0, process: subprocess.Popen[bytes] | None = None,
                     log: Path | None = None) -> float:
    """Wait until the server lists ``model`` and completes one token; return the seconds.

    Raises:
        ServeError: the timeout passed, or the server process exited (with its log's tail).
    """
    started = time.monotonic()
    last = "not answering"
    while True:
        if process is not None and process.poll() is not None:
            raise ServeError(f"the server exited with status {process.returncode} before it "
                             f"was ready ({last}){_tail(log)}")
        problem = _probe(base_url, model, timeout=min(30.0, max(1.0, poll_s * 5)))
        if problem is None:
            return time.monotonic() - started
        last = problem
        if time.monotonic() - started >= timeout_s:
            raise ServeError(f"{base_url} was not ready after {timeout_s:g} s: {last}"
                             f"{_tail(log)}")
        time.sleep(poll_s)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def start_vllm(model: str, *, port: int = 8000, host: str = "127.0.0.1",
               tool_call_parser: str | None = None, log: Path | None = None,
               extra: Sequence[str] = (), timeout_s: float = 900.0, poll_s: float = 2.0,
               wait_only: bool = False, executable: str = "vllm") -> Server:
    """Start ``vllm serve`` (or, with ``wait_only``, find a started server) and wait for it.

    Args:
        model: The model to serve (its name is what requests use).
        port: The server's port.
        host: Where it listens (the base URL uses it; ``0.0.0.0`` is reached as 127.0.0.1).
        tool_call_parser: vLLM's ``--tool-call-parser`` (tool calling is switched on with
            ``--enable-auto-tool-choice``); guessed from the model family when None.
        log: Where the server's output goes (default ``vllm-<port>.log``).
        extra: More ``vllm serve`` arguments.
        timeout_s: How long to wait for readiness.
        poll_s: Seconds between readiness checks.
        wait_only: Start nothing; wait for a server already started.
        executable: The vLLM command.

    Raises:
        ConfigError: vLLM is not installed, or the port is taken.
        ServeError: the server did not become usable.
    """
    from toolgym.datasets._recipe import tool_call_parser as guess_parser

    reach = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base_url = f"http://{reach}:{port}/v1"
    if wait_only:
        seconds = wait_until_ready(base_url, model, timeout_s=timeout_s, poll_s=poll_s)
        return Server(base_url, model, None, None, seconds)
    if shutil.which(executable) is None:
        raise ConfigError(f"{executable!r} is not installed here: pip install vllm (on a GPU "
                          "machine), or start the server elsewhere and use --wait-only")
    if not _port_free(reach, port):
        raise ConfigError(f"port {port} on {reach} is already in use (another server?); "
                          "choose --port, or --wait-only to use the running one")
    log = log or Path(f"vllm-{port}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [executable, "serve", model, "--host", host, "--port", str(port),
           "--enable-auto-tool-choice", "--tool-call-parser",
           tool_call_parser or guess_parser(model), *extra]
    with open(log, "ab") as fh:
        # A session of its own: the server outlives this command (and its Ctrl-C).
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, env=os.environ.copy())
    try:
        seconds = wait_until_ready(base_url, model, timeout_s=timeout_s, poll_s=poll_s,
                                   process=proc, log=log)
    except BaseException:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
    return Server(base_url, model, proc.pid, log, seconds)
