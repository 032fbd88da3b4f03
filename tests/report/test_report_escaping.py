"""No text from a run ever becomes markup: every section of a multi-run report.

Markup goes into everything a run can carry (task ids, run directory names,
model names, user and assistant messages, tool-call arguments, tool results,
error texts, judge annotations, notes, the title). The page is then parsed
as a browser would (``html.parser`` treats ``<script>`` content as raw text,
so an unescaped ``</script>`` in a data block ends the block early), and:

* no element or attribute that the report does not write exists;
* every data block is valid JSON that writes ``<`` as ``\\u003c`` and gives
  back each text exactly, for the trajectory viewer to render as text;
* the texts the page shows as HTML read back as the original text.

``toolgym compare`` on the same runs shows rich markup literally.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from report_synth import make_result
from typer.testing import CliRunner

from toolgym.cli import _report_cmds
from toolgym.messages import Message, ToolCall
from toolgym.report import render_report
from toolgym.runner._results import RolloutResult, Termination
from toolgym.runner._store import RunData, load_run

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
CLOSE = "</script><svg onload=alert(3)>"
AMP = "a&amp;b & c"
RICH = "[bold]B[/bold] [/] [link=http://x]L[/link]"
EVIL = [SCRIPT, IMG, CLOSE, AMP]

# Task ids carry markup too; one stays plain so that ordinary rows exist.
TASK_IDS = [f"t{SCRIPT}", f"t{IMG}", f"t{CLOSE}", f"t{AMP}", f"t{RICH}", "plain"]
# Directory names cannot hold "/", so no closing tags there.
RUN_A = '<img src=x onerror=alert(4)> A & "a"'
RUN_B = "<svg onload=alert(5)> [bold]B[red] [link=http:x]L"
MODEL = f"scripted/{SCRIPT}{IMG}"

#: Tags and attributes the report writes itself (charts included).
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "script", "h1", "h2", "h3", "div",
    "span", "a", "b", "i", "table", "tr", "th", "td", "details", "summary", "aside",
    "button", "label", "input", "select", "option", "svg", "g", "rect", "line", "path",
    "polyline", "circle", "text",
}
ALLOWED_ATTRS = {
    "lang", "charset", "http-equiv", "content", "name", "id", "class", "href", "style",
    "type", "placeholder", "value", "hidden", "width", "height", "viewbox", "xmlns",
    "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "d", "points", "fill", "stroke",
    "stroke-width", "stroke-dasharray", "text-anchor", "transform", "role", "aria-label",
    "font-size", "opacity", "rx", "preserveaspectratio",
}


class Page(HTMLParser):
    """Elements, attributes, text and script bodies of a page, as a browser parses it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self._body: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script, self._body = dict(attrs), []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, "".join(self._body)))
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self._body.append(data)
        else:
            self.text.append(data)


def evil_result(task_id: str, trial: int, reward: float) -> RolloutResult:
    failed = reward < 1
    r = make_result(task_id, trial, reward,
                    termination=Termination.USER_STOP if trial == 0 else
                    Termination.MODEL_ERROR,
                    user_text=f"user says {SCRIPT} {IMG} {CLOSE} {AMP} {RICH}",
                    tool_text=json.dumps({"note": IMG, "n": SCRIPT, "c": CLOSE}),
                    db_match=not failed,
                    diff=[{"table": "users", "key": IMG, "predicted": {"name": SCRIPT},
                           "expected": {"name": CLOSE}}] if failed else None,
                    annotations=[{"judge": IMG, "turn": 1, "text": CLOSE, "verdict": SCRIPT}])
    call = ToolCall(id="call_9", name=f"tool{IMG}", arguments={"q": SCRIPT, "c": CLOSE})
    r.messages += [
        Message(role="assistant", content=f"agent says {CLOSE} {SCRIPT}", tool_calls=[call]),
        Message(role="tool", content=f"result {CLOSE} {AMP}", tool_call_id="call_9",
                name=f"tool{IMG}"),
    ]
    if r.termination.infrastructure:
        r.error = f"endpoint said {SCRIPT} {CLOSE} {IMG}"
    return r


def write_evil_run(path: Path, rewards: list[float]) -> RunData:
    """A run whose config, summary and results all carry markup."""
    from toolgym.runner._store import ResultsWriter

    path.mkdir(parents=True)
    config = {"domain": {"name": f"airline{SCRIPT}"}, "agent": {"model": {"model": MODEL}},
              "user": {"model": {"model": f"user{CLOSE}"}}, "trials": 2}
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    writer = ResultsWriter(path / "results.jsonl", fsync=False)
    for task_id, reward in zip(TASK_IDS, rewards, strict=True):
        writer.append(evil_result(task_id, 0, reward))
        writer.append(evil_result(task_id, 1, 0.0))
    writer.append(evil_result(TASK_IDS[0], 0, rewards[0]))  # a duplicate: a note
    writer.close()
    summary = {"complete": False, "resume_command": f"toolgym resume {SCRIPT} {CLOSE}"}
    (path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return load_run(path)


@pytest.fixture
def evil_runs(tmp_path: Path) -> tuple[RunData, RunData]:
    # Every task changes between the runs, so the comparison lists each id.
    a = write_evil_run(tmp_path / RUN_A, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    b = write_evil_run(tmp_path / RUN_B, [0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    return a, b


@pytest.fixture
def page(evil_runs: tuple[RunData, RunData], tmp_path: Path) -> tuple[str, Page]:
    out = render_report(list(evil_runs), tmp_path / "r.html", title=f"title {SCRIPT} {CLOSE}")
    html = out.read_text(encoding="utf-8")
    parsed = Page()
    parsed.feed(html)
    parsed.close()
    return html, parsed


def test_no_injected_element_or_attribute(page: tuple[str, Page]) -> None:
    _, parsed = page
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS, (tag, attrs)
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRS, (tag, name, value)
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert value is not None and value.startswith("#"), value
    # One executable script (ours, with no src); every other one is a data block.
    kinds = [attrs.get("type") for attrs, _ in parsed.scripts]
    assert kinds.count(None) == 1 and set(kinds) == {None, "application/json"}
    assert all("src" not in attrs for attrs, _ in parsed.scripts)
    # The comparison, failure and grid sections are all there to be checked.
    ids = {attrs.get("id") for _, attrs in parsed.tags}
    assert {"sec-compare", "sec-failures", "sec-outcomes", "tg-grid-0", "tg-grid-1"} <= ids


def test_data_blocks_are_json_with_no_raw_angle_brackets(page: tuple[str, Page]) -> None:
    html, parsed = page
    blocks = {attrs["id"]: body for attrs, body in parsed.scripts
              if attrs.get("type") == "application/json"}
    # meta, then per run: rows, strings and one block per shown rollout.
    assert len(blocks) == 1 + 2 * (2 + 12)
    n_results = {0: 0, 1: 0}
    for block_id, body in blocks.items():
        assert "<" not in body and ">" not in body and "&" not in body, block_id
        json.loads(body)
        if block_id.startswith("tg-t-"):
            n_results[int(block_id.split("-")[2])] += 1
    assert n_results == {0: 12, 1: 12}  # 6 tasks x 2 trials (the duplicate shown once)
    assert "\\u003cscript\\u003e" in html


def test_viewer_data_gives_back_every_text_exactly(page: tuple[str, Page]) -> None:
    _, parsed = page
    data = {attrs["id"]: json.loads(body) for attrs, body in parsed.scripts
            if attrs.get("type") == "application/json"}
    meta = data["tg-meta"]
    assert [r["name"] for r in meta["runs"]] == [RUN_A, RUN_B]
    for index in (0, 1):
        strings = data[f"tg-s-{index}"]
        assert sorted(row[0] for row in data[f"tg-rows-{index}"]) == sorted(TASK_IDS * 2)
        trajectories = [v for k, v in data.items() if k.startswith(f"tg-t-{index}-")]
        assert sorted(t["task_id"] for t in trajectories) == sorted(TASK_IDS * 2)
        for t in trajectories:
            msgs = t["messages"]
            texts = [strings[m["content"]["s"]] if isinstance(m.get("content"), dict)
                     else m.get("content") for m in msgs]
            assert f"user says {SCRIPT} {IMG} {CLOSE} {AMP} {RICH}" in texts
            assert f"agent says {CLOSE} {SCRIPT}" in texts
            assert f"result {CLOSE} {AMP}" in texts
            calls = [c for m in msgs for c in m.get("tool_calls") or []]
            assert {"id": "call_9", "name": f"tool{IMG}",
                    "arguments": {"q": SCRIPT, "c": CLOSE}} in calls
            assert json.loads(msgs[4]["content"]) == {"note": IMG, "n": SCRIPT, "c": CLOSE}
            assert t["annotations"] == [{"judge": IMG, "turn": 1, "text": CLOSE,
                                         "verdict": SCRIPT}]
            if t["termination"] == "model_error":
                assert t["error"] == f"endpoint said {SCRIPT} {CLOSE} {IMG}"
            if t["breakdown"]["db"]["diff"]:
                assert t["breakdown"]["db"]["diff"][0]["key"] == IMG


def test_shown_texts_read_back_as_the_original_text(page: tuple[str, Page]) -> None:
    html, parsed = page
    text = "".join(parsed.text)
    # Title, run names (header, summary, charts, comparison), model names, notes.
    assert text.count(f"title {SCRIPT} {CLOSE}") == 2  # <title> and <h1>
    for shown in (f"A: {RUN_A}", f"B: {RUN_B}", MODEL, f"user{CLOSE}", f"airline{SCRIPT}",
                  f"resume with: toolgym resume {SCRIPT} {CLOSE}",
                  f"{RUN_B} \u2014 tau2",  # chart legend
                  f"{RUN_A}: rollout duration"):  # histogram title
        assert shown in text, shown
    # The comparison's changed-task table lists every task id as text, and
    # links each to both runs' trajectories with the id percent-encoded.
    details = html[html.index("tasks changed</summary>"):]
    details = details[:details.index("</details>")]
    sub = Page()
    sub.feed(details)
    cells = sub.text
    for task_id in TASK_IDS:
        assert task_id in cells, task_id
    hrefs = [a["href"] for tag, a in sub.tags if tag == "a"]
    assert len(hrefs) == 2 * len(TASK_IDS)
    assert all(h is not None and re.fullmatch(r"#open=[A-Za-z0-9%._~-]+:0(&run=1)?", h)
               for h in hrefs)
    # Failure examples link trajectories in both runs.
    failures = html[html.index("id=sec-failures"):html.index("id=sec-latency")]
    assert "#open=t%3Cscript%3Ealert%281%29%3C%2Fscript%3E:1" in failures


def test_compare_shows_rich_markup_literally(run_factory: Callable[..., RunData]) -> None:
    app = typer.Typer()
    _report_cmds.register(app)
    # Short names: the terminal is 80 columns wide and long headers wrap.
    a = run_factory("[bold]a[red]", [make_result(RICH, 0, 1.0), make_result("2", 0, 1.0)])
    b = run_factory("[link=x]b", [make_result(RICH, 0, 0.0), make_result("2", 0, 1.0)])
    res = CliRunner().invoke(app, ["compare", str(a.path), str(b.path)])
    assert res.exit_code == 0, res.output
    # Unescaped, rich would turn "[bold]", "[red]" and "[link=x]" into styles.
    assert "A: [bold]a[red]" in res.stdout and "B: [link=x]b" in res.stdout
    assert "\x1b[" not in res.stdout
    assert re.search(r"tasks B better / worse / tied\W+0 / 1 / 1", res.stdout)
