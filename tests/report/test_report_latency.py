"""The latency panel: real statistics only, and model calls only."""

from __future__ import annotations

import re
from pathlib import Path

from report_synth import make_result

import toolgym
from toolgym.messages import Message, Usage
from toolgym.report import render_report
from toolgym.report._svg import histogram
from toolgym.runner._store import RunData, load_run


def caption(svg: str) -> str:
    """The last text line of a chart (its statistics)."""
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)[-1]


def panel(html: str, title: str) -> str:
    """The SVG of one latency chart of a report."""
    m = re.search(r'<svg class="chart"(?:(?!</svg>).)*?' + re.escape(title) + r".*?</svg>",
                  html, re.S)
    assert m is not None, title
    return m.group(0)


def test_all_zero_values_invent_no_statistics() -> None:
    svg = histogram([0.0, 0.0, 0.0], "latency")
    assert "p99" not in svg and "max=" not in svg and "1.00s" not in svg
    assert caption(svg) == "n=3, all 0.00s"
    assert "<rect" not in svg


def test_statistics_are_those_of_the_values() -> None:
    svg = histogram([float(v) for v in range(1, 101)], "latency")
    assert caption(svg) == "n=100  median=50.50s  p90=90.10s  p99=99.01s  max=100.00s"


def test_p99_of_zero_is_reported_as_zero() -> None:
    svg = histogram([0.0] * 200 + [5.0], "latency")
    assert caption(svg) == "n=201  median=0.00s  p90=0.00s  p99=0.00s  max=5.00s"
    assert "<rect" in svg  # the axis runs to the max instead


def test_model_call_latency_counts_model_calls_only(tmp_path: Path) -> None:
    r = make_result("1", 0, 1.0)
    r.messages = [
        Message.system("policy"),
        Message(role="assistant", content="Hi! How can I help?"),  # the greeting: no call
        Message(role="user", content="Hello", usage=Usage(), latency_s=0.0),  # scripted user
        Message(role="assistant", content="a", turn=1, latency_s=0.8, usage=Usage(calls=1)),
        Message(role="user", content="b", latency_s=1.0, usage=Usage(calls=2)),  # draft + check
        Message(role="assistant", content="c", turn=2, latency_s=1.2, usage=Usage(calls=1)),
        Message(role="tool", content="{}", tool_call_id="x", name="t"),
        Message(role="assistant", content="d", turn=3, latency_s=0.9, usage=Usage(calls=1)),
        Message(role="user", content="###STOP###", usage=Usage(), latency_s=0.0),
    ]
    run = RunData(path=tmp_path / "k", config={}, results=[r])
    html = render_report([run], tmp_path / "k.html").read_text(encoding="utf-8")
    # calls: 0.8, 0.5, 0.5, 1.2, 0.9 -- not the two scripted turns nor the greeting
    assert caption(panel(html, "model call latency")) == (
        "n=5  median=0.80s  p90=1.08s  p99=1.19s  max=1.20s")


def test_offline_run_shows_its_agent_calls_and_no_invented_latency(tmp_path: Path) -> None:
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-1",
                      out=tmp_path / "run")
    calls = sum(r.usage["agent"].calls for r in run.results)
    user_turns = sum(m.role == "user" for r in run.results for m in r.messages)
    assert calls > 0 and user_turns > 0
    html = render_report([load_run(run.path)], tmp_path / "r.html").read_text(encoding="utf-8")
    assert caption(panel(html, "model call latency")) == f"n={calls}, all 0.00s"
