"""Ground-truth evaluation on the tau2 data and the built-in domains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolgym.domains import Domain, load_domain
from toolgym.env import Environment
from toolgym.evaluation import Evaluator
from toolgym.messages import Message, ToolCall
from toolgym.tasks import RewardType, Task

DETERMINISTIC = {RewardType.DB, RewardType.ACTION, RewardType.COMMUNICATE,
                 RewardType.ENV_ASSERTION}


def gold_conversation(domain: Domain[Any], task: Task) -> list[Message]:
    """A conversation whose tool calls are exactly the gold actions."""
    env = Environment(domain, task)
    msgs = [Message.system(domain.policy), Message.user("help me")]
    for i, action in enumerate(task.gold_actions):
        call = ToolCall(id=f"c{i}", name=action.name, arguments=action.arguments)
        msgs.append(Message.assistant(tool_calls=[call]))
        msgs.append(Environment.tool_message(env.execute(call)))
    info = (task.evaluation_criteria.communicate_info or []) if task.evaluation_criteria else []
    msgs.append(Message.assistant("Done. " + " ".join(info)))
    return msgs


def _check_gold_scores(domain: Domain[Any]) -> None:
    ev = Evaluator(domain)
    for task in domain.tasks:
        b = ev.evaluate(task, gold_conversation(domain, task))
        for comp in DETERMINISTIC:
            assert b.components[comp] == 1.0, (task.id, comp, b)
        if set(task.reward_basis) <= DETERMINISTIC:
            assert b.reward == 1.0, task.id
        elif ev.needs_judge(task):
            assert b.reward is None and b.status == "judge_needed", task.id


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_gold_trajectories_score_one_on_tau2(name: str, shared_dir: Path) -> None:
    _check_gold_scores(load_domain(name, data_dir=shared_dir / "tau2" / name))


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_gold_trajectories_score_one_on_builtin(name: str) -> None:
    _check_gold_scores(load_domain(name))


def _write_task(domain: Domain[Any]) -> Task:
    return next(t for t in domain.tasks
                if any(domain.toolkit().kind(a.name) == "write" for a in t.gold_actions))


def test_db_mismatch_is_reported_with_a_diff(tau2_airline_dir: Path) -> None:
    domain = load_domain("airline", data_dir=tau2_airline_dir)
    task = _write_task(domain)
    convo = gold_conversation(domain, task)
    # Drop the last write call: the database no longer matches.
    writes = [i for i, m in enumerate(convo)
              if m.tool_calls and domain.toolkit().kind(m.tool_calls[0].name) == "write"]
    dropped = convo[writes[-1]].tool_calls[0]
    convo = convo[: writes[-1]] + convo[writes[-1] + 2:]
    b = Evaluator(domain).evaluate(task, convo)
    assert b.components["DB"] == 0.0 and b.reward == 0.0
    assert b.db is not None and not b.db.match and b.db.diff
    assert b.components["ACTION"] == 0.0
    assert dropped.name in [a.name for a in b.actions if not a.matched]


def test_abnormal_end_scores_zero(tau2_airline_dir: Path) -> None:
    domain = load_domain("airline", data_dir=tau2_airline_dir)
    task = domain.tasks[0]
    b = Evaluator(domain).evaluate(task, gold_conversation(domain, task), normal_end=False)
    assert b.reward == 0.0 and b.status == "not_scored"


def test_no_write_task_fails_when_agent_writes(tau2_airline_dir: Path) -> None:
    domain = load_domain("airline", data_dir=tau2_airline_dir)
    task = domain.task("0")  # refusal: actions == []
    assert task.gold_actions == []
    convo = [Message.system("p"), Message.assistant(tool_calls=[ToolCall(
        id="c", name="cancel_reservation", arguments={"reservation_id": "EHGLP3"})])]
    b = Evaluator(domain).evaluate(task, convo)
    assert b.reward == 0.0 and b.db is not None and b.db.diff[0]["key"] == "EHGLP3"


def test_communicate_ignores_case_and_commas() -> None:
    domain = load_domain("airline")
    task = domain.tasks[0].model_copy(deep=True)
    assert task.evaluation_criteria is not None
    task.evaluation_criteria.communicate_info = ["1628"]
    task.evaluation_criteria.actions = []
    task.evaluation_criteria.reward_basis = [RewardType.COMMUNICATE]
    ev = Evaluator(domain)
    ok = ev.evaluate(task, [Message.assistant("The total is $1,628.")])
    bad = ev.evaluate(task, [Message.user("1628"), Message.assistant("The total is 1 628")])
    assert ok.reward == 1.0 and bad.reward == 0.0


def test_compare_args_semantics() -> None:
    from toolgym.evaluation import check_actions
    from toolgym.tasks import Action

    domain = load_domain("airline")
    task = domain.tasks[0].model_copy(deep=True)
    assert task.evaluation_criteria is not None
    task.evaluation_criteria.actions = [
        Action(name="get_user_details", arguments={"user_id": "a"}, compare_args=[]),
        Action(name="search_direct_flight", arguments={"origin": "JFK", "destination": "SFO",
               "date": "2024-05-20"}, compare_args=["origin", "destination"]),
        Action(name="calculate", arguments={"expression": "1 + 1"}),
    ]
    convo = [Message.assistant(tool_calls=[
        ToolCall(id="1", name="get_user_details", arguments={"user_id": "zzz"}),
        ToolCall(id="2", name="search_direct_flight",
                 arguments={"origin": "JFK", "destination": "SFO", "date": "2024-05-21"}),
        ToolCall(id="3", name="calculate", arguments={"expression": "1+1"}),
    ])]
    checks = check_actions(task, convo)
    assert [c.matched for c in checks] == [True, True, False]
    assert checks[2].differing_args == ["expression"]


def test_abnormal_end_without_criteria_scores_zero() -> None:
    domain = load_domain("airline")
    task = domain.tasks[0].model_copy(update={"evaluation_criteria": None})
    ev = Evaluator(domain)
    assert ev.evaluate(task, [], normal_end=True).reward == 1.0
    b = ev.evaluate(task, [], normal_end=False)
    assert b.reward == 0.0 and b.status == "not_scored"


def test_db_check_does_not_treat_true_as_one(tau2_airline_dir: Path) -> None:
    domain = load_domain("airline", data_dir=tau2_airline_dir)
    rid = next(iter(domain.snapshot.fork().reservations))
    a, b = domain.snapshot.fork(), domain.snapshot.fork()
    args = {"reservation_id": rid, "nonfree_baggages": 0, "payment_id": "x"}
    user = domain.snapshot.fork().reservations[rid].user_id
    pay = next(iter(domain.snapshot.fork().users[user].payment_methods))
    args["payment_id"] = pay
    assert not domain.toolkit(a).call("update_reservation_baggages",
                                      {**args, "total_baggages": 1}).error
    assert not domain.toolkit(b).call("update_reservation_baggages",
                                      {**args, "total_baggages": True}).error
    assert a.digest() != b.digest()
    assert not a.same_state(b)


def test_snapshot_is_untouched_by_gold_replays(tau2_airline_dir: Path) -> None:
    domain = load_domain("airline", data_dir=tau2_airline_dir)
    Evaluator(domain).gold_db(domain.tasks[1])
    for task in domain.tasks:
        Evaluator(domain).gold_db(task)
    assert domain.snapshot.verify()


def test_judge_is_not_called_for_unscored_nl_assertions(tau2_airline_dir: Path) -> None:
    import asyncio

    class Judge:
        calls = 0

        async def grade(self, task: Task, messages: object, assertions: object) -> list[object]:
            Judge.calls += 1
            raise AssertionError("the judge must not be called")

    domain = load_domain("airline", data_dir=tau2_airline_dir)
    task = domain.tasks[0]  # nl_assertions present, basis [DB, COMMUNICATE]
    assert task.evaluation_criteria and task.evaluation_criteria.nl_assertions
    b = asyncio.run(Evaluator(domain).evaluate_async(task, gold_conversation(domain, task),
                                                     judge=Judge()))
    assert Judge.calls == 0 and b.reward == 1.0


def test_lone_surrogates_in_the_db_still_compare(tau2_airline_dir: Path) -> None:
    domain = load_domain("airline", data_dir=tau2_airline_dir)
    rid = next(iter(domain.snapshot.fork().reservations))
    n = len(domain.snapshot.fork().reservations[rid].passengers)
    a, b = domain.snapshot.fork(), domain.snapshot.fork()
    people = [{"first_name": "Z\ud800", "last_name": "Q", "dob": "1990-01-01"}] * n
    assert not domain.toolkit(a).call("update_reservation_passengers",
                                      {"reservation_id": rid, "passengers": people}).error
    assert not a.same_state(b) and a.diff(b)
    assert a.same_state(a)
