"""The loopback FakeOpenAIServer."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from toolgym.tasks import Task
from toolgym.testing import FakeOpenAIServer, Fault, oracle_responder, scripted_responder


def call(srv: FakeOpenAIServer, method: str, path: str, body: Any = None,
         timeout: float = 10) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = json.loads(resp.read() or b"null")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
    finally:
        conn.close()


def chat(srv: FakeOpenAIServer, **body: Any) -> tuple[int, dict[str, str], Any]:
    body.setdefault("model", "m")
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return call(srv, "POST", "/v1/chat/completions", body)


def test_models_route_404_and_bad_body() -> None:
    with FakeOpenAIServer(model_name="my-model") as srv:
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        status, _, payload = call(srv, "GET", "/v1/models")
        assert status == 200 and payload["data"][0]["id"] == "my-model"
        assert call(srv, "GET", "/v1/nothing")[0] == 404
        assert call(srv, "POST", "/v1/chat/completions", {"no": "messages"})[0] == 400
        assert [r.method for r in srv.requests] == ["GET", "GET", "POST"]


def test_script_replies_are_completions_and_requests_recorded() -> None:
    items = ["hello", {"content": None, "tool_calls": [{"name": "f", "arguments": {"a": 1}}],
                       "usage": {"prompt_tokens": 11, "completion_tokens": 3}}]
    with FakeOpenAIServer(script=items) as srv:
        status, _, first = chat(srv, temperature=0)
        _, _, second = chat(srv)
        _, _, third = chat(srv)
    assert status == 200 and first["object"] == "chat.completion"
    assert first["choices"][0]["message"] == {"role": "assistant", "content": "hello"}
    assert first["choices"][0]["finish_reason"] == "stop"
    call0 = second["choices"][0]["message"]["tool_calls"][0]
    assert call0["type"] == "function" and call0["function"] == {"name": "f",
                                                                 "arguments": '{"a": 1}'}
    assert second["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert third["choices"][0]["message"]["content"] == "Done."
    assert srv.chat_requests[0]["temperature"] == 0 and len(srv.chat_requests) == 3


def test_faults_are_consumed_in_order() -> None:
    with FakeOpenAIServer(lambda req: "fine") as srv:
        srv.inject("429", retry_after=2)
        srv.inject(Fault("500"), Fault("context_overflow"))
        srv.inject("malformed_args", name="f")
        srv.inject("text_tool_call", name="g", arguments={"k": "v"})
        assert srv.pending_faults == 5
        s429, h429, b429 = chat(srv)
        assert s429 == 429 and h429["retry-after"] == "2"
        assert b429["error"]["code"] == "rate_limit_exceeded"
        assert chat(srv)[0] == 500
        s400, _, b400 = chat(srv)
        assert s400 == 400 and "maximum context length" in b400["error"]["message"]
        bad = chat(srv)[2]["choices"][0]["message"]["tool_calls"][0]["function"]
        assert bad["name"] == "f"
        with pytest.raises(json.JSONDecodeError):
            json.loads(bad["arguments"])
        text = chat(srv)[2]["choices"][0]["message"]
        assert "tool_calls" not in text
        assert text["content"] == 'fine\n<tool_call>{"name": "g", "arguments": {"k": "v"}}' \
                                  "</tool_call>"
        assert chat(srv)[2]["choices"][0]["message"]["content"] == "fine"
    with pytest.raises(ValueError):
        Fault("418")


def test_timeout_fault_hangs_until_client_gives_up_and_stop_wakes_it() -> None:
    srv = FakeOpenAIServer(lambda req: "x").start()
    srv.inject("timeout", delay_s=30)
    with pytest.raises(TimeoutError):
        chat_conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=0.2)
        chat_conn.request("POST", "/v1/chat/completions",
                          body=json.dumps({"model": "m", "messages": []}))
        chat_conn.getresponse()
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 5


def test_responder_errors_and_passthrough() -> None:
    def responder(req: dict[str, Any]) -> Any:
        if req["messages"][-1]["content"] == "boom":
            raise RuntimeError("kaput")
        if req["messages"][-1]["content"] == "raw":
            return {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant",
                                                                    "content": "raw!"}}]}
        return {"error": "429", "retry_after": 1}

    with FakeOpenAIServer(responder) as srv:
        status, _, body = chat(srv, messages=[{"role": "user", "content": "boom"}])
        assert status == 500 and "kaput" in body["error"]["message"]
        assert chat(srv, messages=[{"role": "user", "content": "raw"}])[2]["id"] == "x"
        assert chat(srv)[1]["retry-after"] == "1"
    with pytest.raises(ValueError):
        FakeOpenAIServer(responder, script=[])


def test_scripted_responder_repeat_last() -> None:
    respond = scripted_responder(["a", "b"], repeat_last=True)
    assert [respond({}) for _ in range(4)] == ["a", "b", "b", "b"]


def test_handles_200_concurrent_requests() -> None:
    n = 200
    barrier = threading.Barrier(n)

    def responder(req: dict[str, Any]) -> str:
        barrier.wait(timeout=20)  # every request is in flight at once
        return "ok"

    with FakeOpenAIServer(responder) as srv, ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: chat(srv, timeout=30), range(n)))
    assert [r[0] for r in results] == [200] * n
    assert srv.max_in_flight == n and srv.in_flight == 0


def test_oracle_responder_follows_the_conversation() -> None:
    task = Task.model_validate({
        "id": "t", "user_scenario": {"instructions": "x"},
        "evaluation_criteria": {"actions": [{"name": "a", "arguments": {"x": 1}},
                                            {"name": "b", "arguments": {}}],
                                "communicate_info": ["42"]}})
    respond = oracle_responder(task)
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    first = respond({"messages": msgs})
    assert first == {"tool_calls": [{"name": "a", "arguments": {"x": 1}}]}
    msgs.append({"role": "assistant", "tool_calls": [{"id": "1"}]})
    assert respond({"messages": msgs})["tool_calls"][0]["name"] == "b"
    msgs.append({"role": "assistant", "tool_calls": [{"id": "2"}]})
    final = respond({"messages": msgs})
    assert "42" in final
    msgs.append({"role": "assistant", "content": final})
    assert respond({"messages": msgs}) != final
