"""The oracle provider: gold actions, communicate text, seeded mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from toolgym.errors import ConfigError
from toolgym.messages import Message
from toolgym.models import (
    EpisodeInfo,
    ModelConfig,
    OracleModel,
    TerminalModelError,
    create_model,
    oracle_plan,
)
from toolgym.tasks import Task

ACTIONS = [
    {"action_id": "0", "name": "get_user_details", "arguments": {"user_id": "mia_1"}},
    {"action_id": "1", "name": "cancel_reservation", "arguments": {"reservation_id": "ABC123"}},
    {"action_id": "2", "name": "user_side", "requestor": "user", "arguments": {}},
    {"action_id": "3", "name": "update_baggages",
     "arguments": {"reservation_id": "XYZ789", "total_baggages": 2, "payment_id": "gift_7"}},
]


class _Toolkit:
    @classmethod
    def tool_specs(cls) -> dict[str, tuple[str, str, dict[str, Any]]]:
        return {"get_user_details": ("read", "", {}), "cancel_reservation": ("write", "", {}),
                "update_baggages": ("write", "", {})}


class _Domain:
    toolkit_type = _Toolkit


def make_task(task_id: str = "t1", info: list[str] | None = None) -> Task:
    return Task.model_validate({
        "id": task_id,
        "user_scenario": {"instructions": "cancel my trip"},
        "evaluation_criteria": {"actions": ACTIONS, "communicate_info": info or []},
    })


async def play(model: Any, steps: int) -> list[Message]:
    return [(await model.generate([Message.user("hi")])).message for _ in range(steps)]


async def test_replays_gold_actions_then_communicates() -> None:
    task = make_task(info=["1,628", "refund of 200"])
    model = create_model("oracle").for_episode(EpisodeInfo(task, _Domain(), 0, 0, "agent"))
    msgs = await play(model, 5)
    calls = [m.tool_calls[0] for m in msgs[:3] if m.tool_calls]
    assert [(c.name, c.arguments) for c in calls] == [
        (a["name"], a["arguments"]) for a in ACTIONS if a.get("requestor") != "user"]
    assert all(len(m.tool_calls or []) == 1 for m in msgs[:3])
    assert [c.id for c in calls] == ["call_0", "call_1", "call_2"]
    final = msgs[3].content or ""
    assert msgs[3].tool_calls is None
    for s in ["1,628", "refund of 200"]:
        assert s in final
    assert msgs[4].content and msgs[4].tool_calls is None
    assert msgs[0].usage is not None and msgs[0].usage.cost == 0.0
    assert model.mistake is None


async def test_episode_calls_do_not_share_state() -> None:
    oracle = OracleModel()
    task = make_task()
    a = oracle.for_episode(EpisodeInfo(task, None, 0, 0, "agent"))
    b = oracle.for_episode(EpisodeInfo(task, None, 1, 0, "agent"))
    await play(a, 2)
    first_b = (await b.generate([])).message
    assert first_b.tool_calls and first_b.tool_calls[0].name == "get_user_details"


async def test_needs_episode_and_agent_role() -> None:
    with pytest.raises(TerminalModelError):
        await OracleModel().generate([])
    with pytest.raises(ConfigError):
        OracleModel().for_episode(EpisodeInfo(make_task(), None, 0, 0, "user"))
    with pytest.raises(ConfigError):
        OracleModel(ModelConfig(model="oracle", args={"error_rate": 2}))


def test_error_rate_one_always_makes_one_deterministic_mistake() -> None:
    kinds = set()
    for trial in range(30):
        plan = oracle_plan(make_task(), domain=_Domain(), seed=3, trial=trial, error_rate=1.0)
        again = oracle_plan(make_task(), domain=_Domain(), seed=3, trial=trial, error_rate=1.0)
        assert plan.mistake is not None and plan.mistake == again.mistake
        assert plan.calls == again.calls and plan.final_text == again.final_text
        assert plan.calls != plan.gold
        m = plan.mistake
        kinds.add(m.kind)
        # Mistakes only ever touch write actions.
        assert plan.gold[m.action_index][0] in {"cancel_reservation", "update_baggages"}
        if m.kind == "wrong_argument":
            assert len(plan.calls) == len(plan.gold)
            _name, args = plan.calls[m.action_index]
            assert args[m.argument] == m.new != m.old == plan.gold[m.action_index][1][m.argument]
        elif m.kind == "skipped_action":
            assert len(plan.calls) == len(plan.gold) - 1
        else:
            assert plan.calls == plan.gold[:m.action_index]
            assert "not able" in plan.final_text
    assert kinds == {"wrong_argument", "skipped_action", "early_stop"}


def test_error_rate_depends_on_seed_and_is_zero_by_default() -> None:
    assert oracle_plan(make_task(), domain=_Domain(), seed=0, trial=0).mistake is None
    made = [oracle_plan(make_task(f"t{i}"), domain=_Domain(), seed=1, trial=0,
                        error_rate=0.5).mistake is not None for i in range(40)]
    assert 5 < sum(made) < 35
    other = [oracle_plan(make_task(f"t{i}"), domain=_Domain(), seed=2, trial=0,
                         error_rate=0.5).mistake is not None for i in range(40)]
    assert made != other


def test_name_heuristic_without_domain() -> None:
    plan = oracle_plan(make_task(), domain=None, seed=0, trial=0, error_rate=1.0)
    assert plan.mistake is not None
    assert plan.gold[plan.mistake.action_index][0] != "get_user_details"


async def test_model_applies_error_rate_from_args() -> None:
    model = create_model(ModelConfig(model="oracle", args={"error_rate": 1.0}))
    ep = model.for_episode(EpisodeInfo(make_task(), _Domain(), 0, 7, "agent"))
    assert isinstance(ep, OracleModel) and ep.mistake is not None
    assert ep.plan is not None
    msgs = await play(ep, len(ep.plan.calls) + 1)
    sent = [(m.tool_calls[0].name, m.tool_calls[0].arguments) for m in msgs if m.tool_calls]
    assert sent == ep.plan.calls


def test_unknown_args_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as exc:
        create_model(ModelConfig(model="oracle", args={"error_rat": 0.3}))
    assert str(exc.value) == ("oracle: unknown argument(s) 'error_rat' (known: error_rate, "
                              "heed_prompt, latency_ms, price_in, price_out, prices, role)")
    with pytest.raises(ConfigError, match="max_concurrency is a model setting, not an arg"):
        create_model(ModelConfig(model="oracle", args={"max_concurrency": 2}))
    model = create_model(ModelConfig(model="oracle", args={
        "error_rate": 0.5, "latency_ms": 0, "price_in": 1.0, "price_out": 2.0, "role": "agent"}))
    assert isinstance(model, OracleModel) and model.error_rate == 0.5


async def test_a_heeding_oracle_skips_the_mistake_its_prompt_warns_about() -> None:
    from toolgym.messages import Message

    task = make_task()
    model = create_model(ModelConfig(model="oracle", args={"error_rate": 1.0,
                                                           "heed_prompt": True}))
    plain = model.for_episode(EpisodeInfo(task, _Domain(), 0, 7, "agent"))
    assert isinstance(plain, OracleModel) and plain.plan is not None
    tool = plain.plan.mistake_tool
    assert tool is not None
    for prompt, mistaken in [("Be helpful.", True),
                             (f"Be helpful.\nWhen calling {tool}, check the ids.", False),
                             (f"- when calling `{tool}` be careful", False),
                             ("When calling some_other_tool, check.", True)]:
        ep = model.for_episode(EpisodeInfo(task, _Domain(), 0, 7, "agent"))
        assert isinstance(ep, OracleModel) and ep.plan is not None
        first = await ep.generate([Message.system(prompt), Message.user("hi")])
        calls = [first.message] + await play(ep, len(ep.plan.calls) + 1)
        sent = [(m.tool_calls[0].name, m.tool_calls[0].arguments) for m in calls
                if m.tool_calls]
        assert (sent != ep.plan.gold) == mistaken, prompt
    deaf = create_model(ModelConfig(model="oracle", args={"error_rate": 1.0}))
    ep = deaf.for_episode(EpisodeInfo(task, _Domain(), 0, 7, "agent"))
    assert isinstance(ep, OracleModel)
    await ep.generate([Message.system(f"When calling {tool}, check."), Message.user("hi")])
    assert ep.mistake is not None  # without heed_prompt the prompt changes nothing


async def test_the_oracle_reflector_adds_one_rule_per_blamed_tool() -> None:
    from toolgym.messages import Message
    from toolgym.models._oracle import OracleReflector, ruled_tools

    model = create_model(ModelConfig(model="oracle", args={"role": "reflection"}))
    assert isinstance(model, OracleReflector)
    prompt = ("I gave an assistant these instructions:\n```\nBe nice.\nWhen calling a_tool, "
              "check.\n```\nFeedback:\n```\nMissing action: tool `b_tool` was never called."
              "\nWrong arguments: tool `a_tool` was called with x.\ntool `b_tool` again\n```")
    reply = (await model.generate([Message.user(prompt)])).message.content or ""
    text = reply.split("```")[1].strip("\n")
    assert text.startswith("Be nice.") and ruled_tools(text) == {"a_tool", "b_tool"}
    assert text.count("When calling b_tool") == 1
