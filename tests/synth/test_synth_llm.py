"""The llm generator and the rewriter, offline: a loopback server and the scripted provider."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from toolgym.cli._app import app
from toolgym.models import ModelConfig
from toolgym.synth import generate_tasks
from toolgym.testing import FakeOpenAIServer, Fault

runner = CliRunner()

_ASK = re.compile(r"test case #(\d+) of scenario type '(\w+)'.* for user (\S+)\.$", re.S)


def _no_ground(domain: Any) -> tuple[str, str]:
    db = domain.snapshot.fork()
    for res in db.reservations.values():
        statuses = {db.flights[s.flight_number].dates[s.date].status for s in res.flights}
        if (res.status is None and res.cabin != "business" and res.insurance == "no"
                and res.created_at < "2024-05-14T15:00:00" and statuses == {"available"}):
            return res.user_id, res.reservation_id
    raise AssertionError("no such reservation")  # pragma: no cover


def _task(user: str, actions: list[tuple[str, dict[str, Any]]], communicate: list[str],
          known: str | None = None) -> str:
    return json.dumps({
        "scenario_type": "info",
        "user_scenario": {"reason_for_call": "You want to check your account.",
                          "known_info": known if known is not None
                          else f"Your user id is {user}.",
                          "task_instructions": "Be brief."},
        "actions": [{"name": n, "arguments": a} for n, a in actions],
        "communicate_info": communicate, "facts": []})


def _replies(domain: Any) -> dict[str, Any]:
    """Reply makers by kind: user id -> reply text."""
    db = domain.snapshot.fork()
    owner, rid = _no_ground(domain)

    def good(user: str) -> str:
        return _task(user, [("get_user_details", {"user_id": user})],
                     [db.users[user].membership])

    return {
        "prose": lambda user: "A nice task would be a cancellation, I think.",
        "replay": lambda user: _task(user, [("get_user_details", {"user_id": user}),
                                            ("cancel_reservation",
                                             {"reservation_id": "ZZZZZZ"})], []),
        "policy": lambda user: _task(owner, [("get_user_details", {"user_id": owner}),
                                             ("cancel_reservation",
                                              {"reservation_id": rid})], []),
        "facts": lambda user: _task(user, [("get_user_details", {"user_id": user})],
                                    [db.users[user].membership], known="You are in a hurry."),
        "no_effect": lambda user: _task(user, [("get_user_details", {"user_id": user})], []),
        "good": good,
    }


PLAN = ["prose", "replay", "policy", "facts", "no_effect", "good"]
EXPECTED = ["generation", "replay", "policy", "facts", "no_effect", None]


def _responder(domain: Any) -> Any:
    makers = _replies(domain)

    def respond(request: dict[str, Any]) -> Any:
        body = request["messages"][-1]["content"]
        m = _ASK.search(body)
        assert m, body[-300:]
        return makers[PLAN[int(m.group(1)) % len(PLAN)]](m.group(3))

    return respond


def test_llm_path_generates_validates_and_rejects(airline: Any) -> None:
    with FakeOpenAIServer(_responder(airline)) as srv:
        config = ModelConfig(model="openai/fake-model", base_url=srv.base_url,
                             backoff_base_s=0)
        result = generate_tasks(airline, n=1, method="llm", generator=config, seed=0,
                                types=["info"])
    assert len(result.tasks) == 1 and result.raw[0]["method"] == "llm"
    report = result.report
    assert report.checked == len(PLAN) and report.kept == 1
    for verdict, rule in zip(report.verdicts, EXPECTED, strict=True):
        rules = {r.rule for r in verdict.reasons}
        assert (verdict.kept and not rules) if rule is None else rule in rules, verdict
    policy = next(v for v in report.verdicts if "policy" in {r.rule for r in v.reasons})
    assert "without a ground the policy accepts" in policy.reasons[0].message
    assert report.usage is not None and report.usage["calls"] == len(PLAN)
    assert report.usage["prompt_tokens"] > 0
    prompt = srv.chat_requests[0]["messages"][-1]["content"]
    assert "POLICY:" in prompt and "CUSTOMER RECORDS:" in prompt and "EXAMPLES:" in prompt


def test_llm_calls_are_retried(airline: Any) -> None:
    makers = _replies(airline)
    with FakeOpenAIServer(lambda req: makers["good"](_ASK.search(
            req["messages"][-1]["content"]).group(3))) as srv:  # type: ignore[union-attr]
        srv.inject(Fault("500"), Fault("429", retry_after=0))
        config = ModelConfig(model="openai/fake-model", base_url=srv.base_url,
                             backoff_base_s=0, backoff_max_s=0)
        result = generate_tasks(airline, n=2, method="llm", generator=config, seed=1)
        assert len(srv.chat_requests) == 4
    assert len(result.tasks) == 2 and result.report.rejected == 0


def test_rewrite_keeps_every_fact_or_is_undone(airline: Any) -> None:
    calls: list[int] = []

    def respond(request: dict[str, Any]) -> Any:
        body = request["messages"][-1]["content"]
        shown = json.loads(body.split("INSTRUCTIONS:\n", 1)[1])
        calls.append(1)
        if len(calls) == 1:  # faithful, reworded
            return json.dumps({**shown, "reason_for_call": "Hey there! "
                               + shown["reason_for_call"]})
        return json.dumps({"reason_for_call": "I need some help with my trip."})  # loses facts

    plain = generate_tasks(airline, n=2, seed=4)
    with FakeOpenAIServer(respond) as srv:
        config = ModelConfig(model="openai/fake-model", base_url=srv.base_url)
        result = generate_tasks(airline, n=2, seed=4, rewrite_instructions=True,
                                generator=config)
    first, second = result.raw
    assert first["user_scenario"]["instructions"]["reason_for_call"].startswith("Hey there! ")
    assert first["synth"]["rewritten_by"] == "openai/fake-model"
    assert second["user_scenario"] == plain.raw[1]["user_scenario"]
    assert "rewritten_by" not in second["synth"]
    notes = result.report.verdicts[1].notes
    assert notes and notes[0].rule == "rewrite" and "lost" in notes[0].message
    assert result.report.kept == 2 and result.report.usage["calls"] == 2  # type: ignore[index]


def test_cli_llm_with_the_scripted_provider(airline: Any, tmp_path: Path) -> None:
    user = next(iter(airline.snapshot.fork().users))
    makers = _replies(airline)
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([makers["prose"](user), makers["good"](user)]))
    out = tmp_path / "llm.json"
    result = runner.invoke(app, ["synth", "tasks", "--domain", "airline", "--method", "llm",
                                 "--n", "1", "--generator-model", "scripted",
                                 "--generator-arg", f"script={script}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 candidates checked, 1 kept" in result.stdout
    assert "generation: the generator's reply holds no JSON object" in result.stderr
    assert json.loads(out.read_text())[0]["user_id"] == user


def test_cli_llm_over_http(airline: Any, tmp_path: Path) -> None:
    with FakeOpenAIServer(_responder(airline)) as srv:
        out = tmp_path / "t.json"
        result = runner.invoke(app, [
            "synth", "tasks", "--method", "llm", "--n", "1", "--types", "info",
            "--generator-model", "openai/fake-model", "--generator-base-url", srv.base_url,
            "--generator-arg", "temperature=0.7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert srv.chat_requests[0]["temperature"] == 0.7
    report = json.loads((tmp_path / "t.report.json").read_text())
    assert report["kept"] == 1 and report["checked"] == len(PLAN)
    assert "generator: 6 calls" in result.stdout
