"""Argument checkers: every hard checker, parsing errors, and the soft (model) checker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolgym.errors import ConfigError, DataError
from toolgym.judges import (
    CHECKER_NAMES,
    Checker,
    SoftChecker,
    check_hard,
    load_checker_table,
    normalise_text,
    parse_checker,
    parse_checker_table,
    parse_soft_verdict,
)
from toolgym.messages import Usage
from toolgym.models import ModelConfig, ScriptedModel, create_model


def ok(spec: object, oracle: object, agent: object) -> bool:
    return check_hard(parse_checker(spec), oracle, agent) is None


@pytest.mark.parametrize(("spec", "oracle", "agent", "expected"), [
    ("exact", {"a": [1, 2]}, {"a": [1.0, 2]}, True),
    ("exact", "ABC", "abc", False),
    ("exact", True, 1, False),
    ("exact", None, None, True),
    ("casefold", "  Economy ", "economy", True),
    ("casefold", "Straße", "STRASSE", True),
    ("casefold", None, "", True),
    ("casefold", "economy", "business", False),
    ("unordered", ["a", "b", "a"], ["a", "a", "b"], True),
    ("unordered", ["a", "b", "a"], ["a", "b", "b"], False),
    ("unordered", None, [], True),
    ("unordered", [{"x": 1}, {"y": 2}], [{"y": 2}, {"x": 1}], True),
    ({"name": "number", "tolerance": 5}, 100, 104.5, True),
    ({"name": "number", "tolerance": 5}, 100, 106, False),
    ("number", 3, "3.0", True),
    ("number", 3, 3.01, False),
    ("number", 3, "three", False),
    ("number", 3, True, False),
    ("number", None, None, True),
    ("datetime", "2024-05-15 15:00:00", "2024-05-15T15:00:00", True),
    ("datetime", "2024-05-15T15:00:00Z", "2024-05-15T17:00:00+02:00", True),
    ("datetime", "2024-05-15", "05/15/2024", True),
    ("datetime", "2024-05-15 15:00:00", "2024-05-15 15:00:01", False),
    ("datetime", "2024-05-15", "not a date", False),
    ({"name": "datetime", "format": "%d.%m.%Y"}, "15.05.2024", "15.05.2024", True),
    ({"name": "datetime", "format": "%d.%m.%Y"}, "15.05.2024", "2024-05-15", False),
    ("datetime", None, None, True),
    ("datetime", None, "2024-05-15", False),
    ("phone", "+1 (555) 010-2000", "15550102000", True),
    ("phone", "555-0102", "555-0103", False),
    ("phone", None, "555", False),
    ("path", "/home/u/docs/../a.txt", "home/u/a.txt", True),
    ("path", "a//b/c", "a/b/c/", True),
    ("path", "a/b", "a/c", False),
    ("path", ["/x/a", "y/b"], ["y/b", "x/./a"], True),
    ("path", ["x/a"], ["x/b"], False),
    ({"name": "contains_all", "targets": ["refund", "5 days"]}, None,
     "Your REFUND arrives in 5 days", True),
    ({"name": "contains_all", "targets": ["refund", "5 days"]}, None, "Your refund is on its way",
     False),
    ({"name": "contains_any", "targets": ["gift card", "certificate"]}, "ignored",
     "paid with a Certificate", True),
    ({"name": "contains_any", "targets": ["gift card", "certificate"]}, None, "credit card",
     False),
    ({"name": "contains_any", "targets": "x"}, None, None, False),
    ("ignore", "anything", 42, True),
])
def test_hard_checkers(spec: object, oracle: object, agent: object, expected: bool) -> None:
    assert ok(spec, oracle, agent) is expected


def test_a_rejection_says_why() -> None:
    reason = check_hard(parse_checker({"name": "number", "tolerance": 1}), 10, 13)
    assert reason == "differs by 3"
    assert "missing ['b']" in str(check_hard(
        parse_checker({"name": "contains_all", "targets": ["a", "b"]}), None, "a"))


def test_soft_is_not_a_hard_checker() -> None:
    with pytest.raises(ValueError, match="not a hard checker"):
        check_hard(Checker("soft"), "a", "b")


@pytest.mark.parametrize(("spec", "message"), [
    ("fuzzy", "unknown checker 'fuzzy'"),
    ({"name": "number", "tol": 1}, "no parameter(s) tol"),
    ({"name": "number", "tolerance": -1}, "tolerance must be a number >= 0"),
    ({"name": "number", "tolerance": True}, "tolerance must be a number >= 0"),
    ({"name": "contains_all"}, "needs 'targets'"),
    ({"name": "contains_any", "targets": []}, "needs 'targets'"),
    ({"name": "contains_any", "targets": [3]}, "needs 'targets'"),
    ({"tolerance": 1}, "needs a string 'name'"),
    (7, "a checker is a name or an object"),
    ({"name": "datetime", "format": 3}, "strptime"),
    ({"name": "soft", "guidance": ["x"]}, "guidance must be a string"),
])
def test_bad_checkers_are_refused_with_where(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^here: ") as info:
        parse_checker(spec, "here")
    assert message in str(info.value)


def test_every_documented_name_parses_and_describes_itself() -> None:
    for name in CHECKER_NAMES:
        spec: object = ({"name": name, "targets": ["t"]} if name.startswith("contains")
                        else name)
        assert parse_checker(spec).name == name
    assert parse_checker({"name": "number", "tolerance": 5}).describe() == "number(tolerance=5)"


def test_checker_table_and_file(tmp_path: Path) -> None:
    table = parse_checker_table({"book": {"cabin": "casefold",
                                          "amount": {"name": "number", "tolerance": 2}}})
    assert table["book"]["amount"].params == {"tolerance": 2}
    with pytest.raises(ConfigError, match=r"checkers\.book\.cabin: unknown checker"):
        parse_checker_table({"book": {"cabin": "nope"}})
    with pytest.raises(ConfigError, match="argument -> checker"):
        parse_checker_table({"book": "casefold"})
    path = tmp_path / "checkers.json"
    path.write_text(json.dumps({"book": {"cabin": "casefold"}}))
    assert load_checker_table(path)["book"]["cabin"] == Checker("casefold")
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"checkers\.json: not valid JSON"):
        load_checker_table(path)
    with pytest.raises(DataError, match="cannot read"):
        load_checker_table(tmp_path / "missing.json")


def test_normalised_text() -> None:
    assert normalise_text("  Café, au LAIT!  ") == "cafe au lait"
    assert normalise_text("Zürich -- Genève") == "zurich geneve"
    assert normalise_text(["A", 1]) == normalise_text('["a", 1]')


@given(st.text())
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


@pytest.mark.parametrize(("reply", "verdict"), [
    ("The values agree. [[match]]", True),
    ("They differ. [[no match]]", False),
    ("[[ No_Match ]]", False),
    ("Options are [[match]] or [[no match]]. Verdict: [[MATCH]]", True),
    ("[[not a match]]", False),
    ("match", None),
    ("", None),
    (None, None),
])
def test_soft_verdicts_parse_robustly(reply: str | None, verdict: bool | None) -> None:
    assert parse_soft_verdict(reply) is verdict


def _judge(*replies: object) -> ScriptedModel:
    model = create_model(ModelConfig(model="scripted",
                                     args={"script": list(replies), "on_exhausted": "error"}))
    assert isinstance(model, ScriptedModel)
    return model


SOFT = Checker("soft")


async def test_soft_shortcut_needs_no_model_call() -> None:
    model = _judge()  # any call would raise: the script is empty
    soft = SoftChecker(model, "task")
    assert await soft.check(SOFT, "t", "summary", "Café delayed!", "cafe  DELAYED") is None
    assert await soft.check(SOFT, "t", "summary", None, "anything") is None  # empty oracle
    assert soft.shortcut_passes == 1 and soft.usage.calls == 0


async def test_soft_asks_the_model_with_the_task_and_caches() -> None:
    seen: list[str] = []

    def reply(messages: list, tools: object) -> str:
        seen.append(messages[-1].content)
        return "Same meaning. [[match]]"

    model = _judge(reply, "Different. [[no match]]")
    soft = SoftChecker(model, "Cancel my Paris trip")
    assert await soft.check(SOFT, "transfer", "summary", "wants refund", "asks for money") is None
    assert await soft.check(SOFT, "transfer", "summary", "wants refund", "asks for money") is None
    assert "Cancel my Paris trip" in seen[0] and "wants refund" in seen[0]
    assert "asks for money" in seen[0] and "summary" in seen[0] and "transfer" in seen[0]
    assert await soft.check(SOFT, "transfer", "summary", "wants refund", "happy") == \
        "judge model: no match"
    assert soft.usage.calls == 2
    model.assert_complete()


async def test_soft_retries_once_then_rejects_and_records() -> None:
    soft = SoftChecker(_judge("hmm", "sure [[match]]"), "t")
    assert await soft.check(SOFT, "t", "a", "x", "y") is None
    assert soft.usage.calls == 2 and not soft.unparsed
    soft = SoftChecker(_judge("hmm", "still no verdict"), "t")
    reason = await soft.check(SOFT, "t", "a", "x", "y")
    assert reason is not None and "no verdict" in reason
    assert soft.unparsed == [{"tool": "t", "arg": "a", "reply": "still no verdict"}]


async def test_soft_without_a_model_falls_back_to_normalised_equality() -> None:
    soft = SoftChecker(None, "t")
    assert await soft.check(SOFT, "t", "a", "Hello, World", "hello world") is None
    assert not soft.fallback_used
    assert await soft.check(SOFT, "t", "a", "hello", "hi there") is not None
    assert soft.fallback_used and soft.usage == Usage()


async def test_soft_model_errors_propagate_with_their_usage() -> None:
    soft = SoftChecker(_judge("[[match]]", {"error": "400"}), "t")
    await soft.check(SOFT, "t", "a", "x", "y")
    with pytest.raises(Exception, match="400") as info:
        await soft.check(SOFT, "t", "a", "x", "z")
    assert info.value.usage == Usage(cost=0.0, calls=1)  # type: ignore[attr-defined]
