"""The NL-assertion judge: JSON verdicts, one retry on a bad reply, usage counted."""

from __future__ import annotations

import json

import pytest

import toolgym
from toolgym.judges import NLAssertionJudge, render_transcript
from toolgym.messages import Message, ToolCall
from toolgym.models import ScriptedModel, TerminalModelError

TASK = toolgym.load_domain("airline").tasks[0]
CONVO = [
    Message.system("policy"),
    Message.user("cancel my trip <b>now</b>"),
    Message.assistant(tool_calls=[ToolCall(id="c", name="get_user_details",
                                           arguments={"user_id": "u"})]),
    Message(role="tool", content='{"user_id": "u"}', tool_call_id="c", name="get_user_details"),
    Message.assistant("I cannot cancel it."),
]


def _verdict(*met: bool) -> str:
    return json.dumps({"results": [{"index": i + 1, "met": m, "justification": f"j{i}",
                                    "turn": 4} for i, m in enumerate(met)]})


def test_transcript_numbers_messages_and_shows_tool_traffic() -> None:
    text = render_transcript(CONVO)
    assert "[1] user: cancel my trip <b>now</b>" in text
    assert '[2] assistant calls get_user_details({"user_id": "u"})' in text
    assert "[3] tool get_user_details ->" in text and "policy" not in text


async def test_verdicts_in_order_with_usage() -> None:
    model = ScriptedModel.from_items([f"```json\n{_verdict(True, False)}\n```"])
    judgment = await NLAssertionJudge(model).grade(TASK, CONVO, ["refuses", "apologises"])
    assert [c.met for c in judgment.checks] == [True, False]
    assert judgment.checks[0].turn == 4 and judgment.checks[1].justification == "j1"
    assert judgment.usage.calls == 1
    model.assert_complete()


async def test_one_retry_after_a_malformed_reply_then_a_clear_failure() -> None:
    model = ScriptedModel.from_items(["not json at all", _verdict(True)])
    judgment = await NLAssertionJudge(model).grade(TASK, CONVO, ["refuses"])
    assert [c.met for c in judgment.checks] == [True] and judgment.usage.calls == 2
    bad = ScriptedModel.from_items(["nope", json.dumps({"results": [{"index": 1}]})])
    with pytest.raises(TerminalModelError, match="no usable verdict"):
        await NLAssertionJudge(bad).grade(TASK, CONVO, ["refuses"])
