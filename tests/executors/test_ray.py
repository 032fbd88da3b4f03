"""The Ray executor on a local Ray instance: same results as the local executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.executors._ray import worker_share
from toolgym.testing import FakeOpenAIServer, roleplay_responder

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]


def test_worker_shares_sum_to_the_limit() -> None:
    for limit in range(1, 20):
        for workers in range(1, 6):
            shares = [worker_share(limit, workers, i) for i in range(workers)]
            assert sum(s for s in shares if s) == limit
    assert worker_share(None, 3, 0) is None


def _view(run: Any) -> dict[Any, Any]:
    return {r.key: (r.reward, r.termination, r.steps,
                    [(m.role, m.content, [(c.name, c.arguments) for c in m.tool_calls or []])
                     for m in r.messages]) for r in run.results}


def test_ray_gives_the_local_executors_results(ray_lib: Any, tmp_path: Path) -> None:
    common = dict(domain="airline", agent_model={"model": "oracle", "args": {"error_rate": 0.5}},
                  tasks="0-9", trials=2, seed=5, concurrency=8)
    local = toolgym.run(out=tmp_path / "local", **common)
    ray = toolgym.run(out=tmp_path / "ray", executor="ray", ray_workers=2, **common)
    assert _view(ray) == _view(local)
    assert ray.summary["pass_k"] == local.summary["pass_k"]
    # Resume and the executor: a resumed run may switch executors.
    lines = (tmp_path / "ray" / "results.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "ray" / "results.jsonl").write_bytes(b"".join(lines[:7]))
    again = toolgym.resume(tmp_path / "ray")
    assert _view(again) == _view(local)
    assert (tmp_path / "ray" / "results.jsonl").read_bytes().count(b"\n") == 20


def test_endpoint_limits_hold_across_workers(ray_lib: Any, tmp_path: Path) -> None:
    domain = toolgym.load_domain("airline")
    with FakeOpenAIServer(roleplay_responder(domain.tasks), latency_ms=30) as srv:
        model = {"model": "openai/fake-model", "base_url": srv.base_url, "max_concurrency": 2,
                 "backoff_base_s": 0.0}
        run = toolgym.run(domain="airline", agent_model=model, tasks="0-7", concurrency=8,
                          executor="ray", ray_workers=2, out=tmp_path / "r")
        assert srv.max_in_flight <= 2
    assert [r.reward for r in run.results] == [1.0] * 8
