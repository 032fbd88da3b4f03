"""A loopback OpenAI-compatible HTTP server for tests and demos.

:class:`FakeOpenAIServer` is a real HTTP server on 127.0.0.1 (a free port by default),
serving ``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models``
from a background thread, one thread per connection. Replies come from a
*responder* (request JSON -> reply) or a script of replies; faults can be
queued to exercise clients: 429 with ``Retry-After``, 500, a hang longer than
the client's timeout, malformed tool-call arguments, or a tool call written as
``<tool_call>`` text. Every request is recorded for assertions.

A reply is one of:

* a string: assistant text;
* ``{"content": ..., "tool_calls": [{"name": ..., "arguments": {...} | "json"}]}``
  (optionally ``"usage": {"prompt_tokens": .., "completion_tokens": ..}``);
* ``{"error": "429" | "500" | "timeout" | "context_overflow" | "400"}``
  (the scripted provider's error items), or a :class:`Fault`;
* a full chat completion (a dict with ``"choices"``), sent as is.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeOpenAIServer",
    "Fault",
    "RecordedRequest",
    "Responder",
    "oracle_responder",
    "scripted_responder",
]

Responder = Callable[[dict[str, Any]], Any]

_FAULT_KINDS = ("429", "500", "timeout", "malformed_args", "text_tool_call",
                "context_overflow", "400", "401", "404", "malformed_json", "null_message",
                "bad_usage", "empty_choices", "disconnect")
#: Faults that answer 200 with a body that is not a usable chat completion.
_BODY_FAULTS = ("malformed_json", "null_message", "bad_usage", "empty_choices")


@dataclass(frozen=True)
class Fault:
    """One injected fault, consumed by the next chat request.

    Attributes:
        kind: ``429``, ``500``, ``timeout``, ``malformed_args``,
            ``text_tool_call``, ``context_overflow``, ``400``, ``401``, ``404``;
            or a 200 whose body is unusable: ``malformed_json`` (not JSON),
            ``null_message``, ``bad_usage`` (non-numeric token counts),
            ``empty_choices``; or ``disconnect`` (the connection is closed
            without an answer).
        retry_after: Seconds for the ``Retry-After`` header of a 429.
        delay_s: How long a ``timeout`` fault hangs (make it longer than the
            client's timeout; the server wakes it when it stops).
        name: Tool name for ``malformed_args`` / ``text_tool_call`` (default:
            the responder's call, else the first offered tool).
        arguments: Arguments for ``text_tool_call``.
    """

    kind: str
    retry_after: float | None = None
    delay_s: float = 30.0
    name: str | None = None
    arguments: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r} (known: {', '.join(_FAULT_KINDS)})")


@dataclass
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    at: float = field(default_factory=time.monotonic)


def scripted_responder(items: Sequence[Any], *, repeat_last: bool = False) -> Responder:
    """A responder playing ``items`` in order (thread-safe).

    Items use the scripted provider's format (text, content/tool_calls dicts,
    ``{"error": ...}``). When they run out the responder answers with the
    text ``Done.`` (or repeats the last item with ``repeat_last``).
    """
    replies = list(items)
    lock = threading.Lock()
    cursor = itertools.count()

    def respond(request: dict[str, Any]) -> Any:
        with lock:
            i = next(cursor)
        if i < len(replies):
            return replies[i]
        if repeat_last and replies:
            return replies[-1]
        return "Done."

    return respond


def oracle_responder(task: Any) -> Responder:
    """A responder that plays a task's gold actions, like the ``oracle`` provider.

    The position is read from the request: the number of assistant messages
    with tool calls so far picks the next gold action; after the last one the
    reply states the task's ``communicate_info``.
    """
    from toolgym.models._oracle import CLOSING_TEXT, oracle_plan

    plan = oracle_plan(task)

    def respond(request: dict[str, Any]) -> Any:
        done = sum(1 for m in request.get("messages", [])
                   if m.get("role") == "assistant" and m.get("tool_calls"))
        if done < len(plan.calls):
            name, args = plan.calls[done]
            return {"tool_calls": [{"name": name, "arguments": args}]}
        answered = any(m.get("role") == "assistant" and m.get("content") == plan.final_text
                       for m in request.get("messages", []))
        return CLOSING_TEXT if answered else plan.final_text

    return respond


def _estimate_tokens(value: Any) -> int:
    # A stable rough count (about 4 characters a token) is enough for tests.
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, len(text) // 4) if text else 0


_OK_MESSAGE = {"role": "assistant", "content": "ok"}
#: 200 bodies that are not a usable chat completion.
_BAD_BODIES: dict[str, bytes] = {
    "malformed_json": b'{"id": "chatcmpl-x", "choices": [{"message": ',
    "null_message": json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": None, "finish_reason": "stop"}]}).encode(),
    "bad_usage": json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": _OK_MESSAGE, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": "many", "completion_tokens": None}}).encode(),
    "empty_choices": json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode(),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        # Clients that time out or close keep-alive sockets are part of the game.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # idle keep-alive connections end eventually
    # Headers and body go out in separate writes; without TCP_NODELAY the
    # second one waits for a delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None
                   ) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)

    def _send_raw(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _refused(self) -> bool:
        """Answer 401 for a wrong key (when the server requires one)."""
        owner = self.server.owner
        if owner.api_key is None:
            return False
        if self.headers.get("Authorization") == f"Bearer {owner.api_key}":
            return False
        self._send_json(401, _error_body("Incorrect API key provided.",
                                         "invalid_request_error", "invalid_api_key"))
        return True

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record("GET", self.path, dict(self.headers.items()), None)
        if self._refused():
            return
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": owner.model_name, "object": "model", "created": 0, "owned_by": "toolgym"}
            ]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "x"}})

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        owner._record("POST", self.path, dict(self.headers.items()), body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "x"}})
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, _error_body("request body must be JSON with 'messages'"))
            return
        if self._refused():
            return
        if owner.strict_model and body.get("model") != owner.model_name:
            self._send_json(404, _error_body(f"The model `{body.get('model')}` does not exist.",
                                             code="model_not_found"))
            return
        preflight = self.headers.get("X-Toolgym-Preflight") == "1"
        owner._enter()
        status: int
        payload: Any
        headers: dict[str, str]
        try:
            if preflight:
                status, payload, headers = 200, owner._preflight_reply(body), {}
            else:
                status, payload, headers = owner._handle_chat(body)
        except Exception as exc:  # a responder bug becomes a visible 500
            status, payload, headers = 500, _error_body(f"responder failed: {exc!r}"), {}
        finally:
            owner._leave()
        if isinstance(payload, bytes):
            self._send_raw(status, payload)
        elif payload is _DISCONNECT:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send_json(status, payload, headers)


def _is_chat(r: RecordedRequest) -> bool:
    return r.method == "POST" and r.path.rstrip("/").endswith("/chat/completions")


def _is_preflight(r: RecordedRequest) -> bool:
    return any(k.lower() == "x-toolgym-preflight" and v == "1" for k, v in r.headers.items())


#: Payload meaning "close the connection without answering".
_DISCONNECT = object()


def _error_body(message: str, kind: str = "invalid_request_error",
                code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeOpenAIServer:
    """A loopback OpenAI-compatible server (see the module docstring).

    Args:
        responder: Request JSON -> reply. Mutually exclusive with ``script``.
        script: Replies played in order (see :func:`scripted_responder`).
        latency_ms: Delay added to every chat request.
        model_name: The model listed by ``GET /v1/models``.
        api_key: When set, requests without ``Authorization: Bearer <api_key>``
            get 401 (as a real server with a wrong key).
        strict_model: Answer 404 to chat requests for another model than
            ``model_name``.
        fault_rates: Random faults: ``{"malformed_json": 0.05, "500": 0.1}``
            (each chat request draws at most one, after queued faults).
        seed: Seed of the random faults.
        port: The port to listen on; 0 (the default) picks a free one.

    Requests carrying the ``X-Toolgym-Preflight: 1`` header (toolgym's
    endpoint preflight) are answered by the server itself, without using the
    responder or any fault: a ``ping`` tool call when tools are offered and no
    tool result is in the conversation yet, else ``pong``.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        script: Sequence[Any] | None = None,
        latency_ms: float = 0.0,
        model_name: str = "fake-model",
        api_key: str | None = None,
        strict_model: bool = False,
        fault_rates: dict[str, float] | None = None,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        if responder is not None and script is not None:
            raise ValueError("give a responder or a script, not both")
        self.responder: Responder = (
            responder or scripted_responder(script if script is not None else [])
        )
        self.latency_ms = latency_ms
        self.model_name = model_name
        self.api_key = api_key
        self.strict_model = strict_model
        self.fault_rates = dict(fault_rates or {})
        for kind in self.fault_rates:
            Fault(kind)  # validates the name
        self._rng = random.Random(seed)
        #: Faults served so far, by kind.
        self.faults_served: dict[str, int] = {}
        self.requested_port = port
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    # lifecycle -----------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind 127.0.0.1 (the requested port, or a free one) and serve in a daemon thread.

        Raises:
            OSError: the requested port is in use.
        """
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.requested_port), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (hanging ``timeout`` faults are woken up)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # faults and records ------------------------------------------------------------

    def inject(self, *faults: Fault | str, **kwargs: Any) -> None:
        """Queue faults for the next chat requests, in order.

        ``inject("429", retry_after=2)`` is short for ``inject(Fault("429", retry_after=2))``.
        """
        with self._lock:
            for f in faults:
                self._faults.append(f if isinstance(f, Fault) else Fault(f, **kwargs))

    @property
    def pending_faults(self) -> int:
        """Faults not consumed yet."""
        with self._lock:
            return len(self._faults)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat completion requests received, in arrival order.

        Preflight requests (answered by the server itself) are not included;
        see :attr:`preflight_requests`.
        """
        with self._lock:
            return [r.body for r in self.requests if _is_chat(r) and not _is_preflight(r)]

    @property
    def preflight_requests(self) -> list[RecordedRequest]:
        """Requests marked as toolgym's endpoint preflight (models list and chat)."""
        with self._lock:
            return [r for r in self.requests if _is_preflight(r)]

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    # chat handling ---------------------------------------------------------------

    def _handle_chat(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if self.latency_ms > 0:
            self._stopping.wait(self.latency_ms / 1000.0)
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            if fault is None:
                for kind, rate in self.fault_rates.items():
                    if self._rng.random() < rate:
                        fault = Fault(kind, delay_s=60.0)
                        break
            if fault is not None:
                self.faults_served[fault.kind] = self.faults_served.get(fault.kind, 0) + 1
        if fault is not None and fault.kind not in ("malformed_args", "text_tool_call"):
            return self._fault_reply(fault)
        reply = self.responder(body)
        if isinstance(reply, Fault):
            return self._fault_reply(reply)
        if isinstance(reply, dict) and "error" in reply:
            return self._fault_reply(Fault(str(reply["error"]),
                                           retry_after=reply.get("retry_after")))
        if isinstance(reply, dict) and "choices" in reply:
            return 200, reply, {}
        return 200, self._completion(body, reply, fault), {}

    def _preflight_reply(self, request: dict[str, Any]) -> dict[str, Any]:
        answered = any(m.get("role") == "tool" for m in request.get("messages", []))
        if request.get("tools") and not answered:
            name = request["tools"][0].get("function", {}).get("name", "ping")
            return self._completion(request, {"tool_calls": [{"name": name, "arguments": {}}]},
                                    None)
        return self._completion(request, "pong", None)

    def _fault_reply(self, fault: Fault) -> tuple[int, Any, dict[str, str]]:
        if fault.kind in _BODY_FAULTS:
            return 200, _BAD_BODIES[fault.kind], {}
        if fault.kind == "disconnect":
            return 0, _DISCONNECT, {}
        if fault.kind == "401":
            return 401, _error_body("Incorrect API key provided: sk-test****1234.",
                                    code="invalid_api_key"), {}
        if fault.kind == "404":
            return 404, _error_body(f"The model `{self.model_name}x` does not exist.",
                                    code="model_not_found"), {}
        if fault.kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return 429, _error_body("Rate limit reached", "rate_limit_error",
                                    "rate_limit_exceeded"), headers
        if fault.kind == "500":
            return 500, _error_body("internal server error", "server_error"), {}
        if fault.kind == "timeout":
            self._stopping.wait(fault.delay_s)
            return 504, _error_body("gateway timeout", "server_error"), {}
        if fault.kind == "context_overflow":
            return 400, _error_body(
                "This model's maximum context length is 8192 tokens. However, your messages "
                "resulted in 9000 tokens.", code="context_length_exceeded"), {}
        return 400, _error_body("bad request"), {}

    def _completion(self, request: dict[str, Any], reply: Any, fault: Fault | None
                    ) -> dict[str, Any]:
        if isinstance(reply, str):
            reply = {"content": reply}
        if not isinstance(reply, dict):
            raise TypeError(f"responder returned {type(reply).__name__}, expected str or dict")
        content: str | None = reply.get("content")
        calls = [dict(c) for c in (reply.get("tool_calls") or [])]
        if fault is not None:
            offered = [t.get("function", {}).get("name") for t in request.get("tools") or []]
            name = fault.name or (calls[0]["name"] if calls else None) or (
                offered[0] if offered else "tool")
            if fault.kind == "malformed_args":
                args = json.dumps(fault.arguments or (calls[0].get("arguments") if calls else {})
                                  or {"x": 1})
                calls = [{"name": name, "arguments": args[:-1] + ", }"}]  # broken JSON
            else:  # text_tool_call: the server "forgot" to parse the call
                blocks = calls or [{"name": name, "arguments": fault.arguments or {}}]
                text = "".join(
                    "<tool_call>" + json.dumps({"name": c["name"],
                                                "arguments": c.get("arguments", {})})
                    + "</tool_call>" for c in blocks
                )
                content, calls = ((content + "\n") if content else "") + text, []
        n = next(self._ids)
        tool_calls = [
            {"id": c.get("id") or f"call_{n}_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]
                          if isinstance(c.get("arguments"), str)
                          else json.dumps(c.get("arguments", {}))}}
            for i, c in enumerate(calls)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        usage = reply.get("usage") or {}
        prompt = int(usage.get("prompt_tokens", _estimate_tokens(request.get("messages"))))
        produced = _estimate_tokens(content or "") + (
            _estimate_tokens(tool_calls) if tool_calls else 0)
        completion = int(usage.get("completion_tokens", produced))
        return {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", self.model_name),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }
