"""The static HTML report: content, embedded data, escaping, self-containment."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from report_synth import make_result, mixed_results

from toolgym.messages import Message
from toolgym.report import render_report
from toolgym.report._data import script_json
from toolgym.runner._results import Termination
from toolgym.runner._store import RunData

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_CLOSE = "</script><script>alert(2)</script>"

_BLOCK = re.compile(r'<script type="application/json" id="([^"]+)">(.*?)</script>', re.S)


def blocks(html: str) -> dict[str, Any]:
    """Every JSON data block of a page, parsed."""
    return {m.group(1): json.loads(m.group(2)) for m in _BLOCK.finditer(html)}


def test_report_shows_runs_metrics_and_grid_data(run_factory: Callable[..., RunData],
                                                 tmp_path: Path) -> None:
    run = run_factory("run-a", mixed_results(6, 3), trials=3)
    out = render_report([run], tmp_path / "r.html", title="My eval")
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>My eval</title>" in html
    assert "run-a" in html and "airline" in html and "scripted/test" in html
    # Both pass^k conventions are labelled, in the table and the chart legend.
    assert "pass^1 (tau-bench)" in html and "pass^1 (tau2)" in html
    assert "A: run-a \u2014 tau-bench" in html and "A: run-a \u2014 tau2" in html
    avg = run.summary  # written by write_run: only {"complete": true}
    assert avg == {"complete": True}
    for label in ("DB mismatch", "missing action", "judge needed", "abnormal termination"):
        assert label in html
    assert "max_steps" in html and "model_error" in html
    assert "rollout duration" in html and "model call latency" in html
    data = blocks(html)
    rows = data["tg-rows-0"]
    assert len(rows) == 18
    assert [r[0] for r in rows[:3]] == ["0", "0", "0"] and [r[1] for r in rows[:3]] == [0, 1, 2]
    by_key = {(r.task_id, r.trial): r for r in run.results}
    for i, row in enumerate(rows):
        r = by_key[(row[0], row[1])]
        assert row[2] == r.reward and row[5] == int(r.success)
        traj = data[f"tg-t-0-{i}"]
        assert traj["task_id"] == r.task_id and traj["trial"] == r.trial
    meta = data["tg-meta"]
    assert meta["runs"][0]["trials"] == 3 and meta["live"] is None
    assert "Comparison" not in html


def test_avg_reward_and_pass_values_appear(run_factory: Callable[..., RunData],
                                           tmp_path: Path) -> None:
    results = [make_result("7", 0, 1.0), make_result("7", 1, 0.0),
               make_result("8", 0, 1.0), make_result("8", 1, 1.0)]
    run = run_factory("r", results, trials=2)
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<td class=num>0.750</td>" in html  # avg reward and pass^1
    assert "<td class=num>0.500</td>" in html  # pass^2 = (0 + 1) / 2


def test_repeated_long_texts_are_stored_once(run_factory: Callable[..., RunData],
                                             tmp_path: Path) -> None:
    run = run_factory("r", [make_result(str(t)) for t in range(5)])
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    system = run.results[0].messages[0].content
    assert system is not None and html.count(system[:40]) == 1
    data = blocks(html)
    assert data["tg-s-0"] == [system]
    assert data["tg-t-0-3"]["messages"][0]["content"] == {"s": 0}


def _xss_result(task_id: str = "x1") -> Any:
    r = make_result(task_id, 0, 0.0,
                    user_text=f"hello {XSS_SCRIPT} {XSS_IMG} {XSS_CLOSE} \u2028 & done",
                    tool_text=f'{{"note": "{XSS_IMG}", "n": "{XSS_SCRIPT}"}}',
                    diff=[{"table": "users", "key": XSS_IMG, "predicted": {"name": XSS_SCRIPT},
                           "expected": {"name": "ok"}}],
                    db_match=False,
                    annotations=[{"judge": XSS_IMG, "turn": 2, "text": XSS_SCRIPT,
                                  "verdict": "fail"}])
    r.messages.append(Message(role="assistant", content=XSS_CLOSE))
    r.error = XSS_IMG
    return r


def test_model_and_user_text_is_never_markup(run_factory: Callable[..., RunData],
                                             tmp_path: Path) -> None:
    evil_task = f"t{XSS_IMG}"
    run = run_factory("r", [_xss_result(), _xss_result(evil_task)])
    html = render_report([run], tmp_path / "r.html",
                         title=f"title {XSS_SCRIPT}").read_text(encoding="utf-8")
    low = html.lower()
    assert "<script>alert" not in low
    assert "<img src=x" not in low
    # No element anywhere carries an event-handler attribute.
    assert not re.search(r"<[a-z][^<>]*\son[a-z]+\s*=", low)
    # Exactly one executable script (ours): every other <script is a JSON block.
    scripts = re.findall(r"<script[^>]*>", html)
    assert sum(s == "<script>" for s in scripts) == 1
    assert all(s == "<script>" or 'type="application/json"' in s for s in scripts)
    # The text survives intact for the viewer, which renders it as text.
    data = blocks(html)
    trajs = [v for k, v in data.items() if k.startswith("tg-t-")]
    user_texts = [m["content"] for t in trajs for m in t["messages"] if m["role"] == "user"]
    assert any(XSS_SCRIPT in t and XSS_IMG in t and "\u2028" in t for t in user_texts)
    assert {t["task_id"] for t in trajs} == {"x1", evil_task}
    assert trajs[0]["breakdown"]["db"]["diff"][0]["key"] == XSS_IMG
    # The task id is also escaped where the page shows it as HTML (failure examples).
    assert "t&lt;img src=x onerror=alert(1)&gt;" in html
    assert "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E" in html  # in the link's hash


def test_script_json_escapes_breakout_characters() -> None:
    text = script_json({"a": "</script><!-- & \u2028\u2029 >", "n": float("nan")})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028\u2029 >", "n": None}


def test_page_is_self_contained_and_csp_pins_our_script(run_factory: Callable[..., RunData],
                                                        tmp_path: Path) -> None:
    run = run_factory("r", mixed_results(3, 2), trials=2)
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    script = re.search(r"<script>(.*)</script></body>", html, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    assert f"script-src 'sha256-{digest}'" in csp.group(1)
    assert "default-src 'none'" in csp.group(1)
    # The viewer never parses data as HTML.
    assert "innerHTML" not in script.group(1) and "insertAdjacentHTML" not in script.group(1)


def test_two_runs_get_a_comparison_and_run_links(run_factory: Callable[..., RunData],
                                                 tmp_path: Path) -> None:
    a = run_factory("base", [make_result(str(t), 0, 0.0) for t in range(8)])
    b = run_factory("new", [make_result(str(t), 0, 1.0 if t < 7 else 0.0) for t in range(8)])
    html = render_report([a, b], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h2 id=sec-compare>Comparison</h2>" in html
    assert "p-value (exact McNemar)" in html
    assert "<td class=num>0.0156</td>" in html  # 2 / 2**7
    assert "7 / 0 / 1" in html
    assert 'href="#open=3:0&amp;run=1"' in html
    assert set(blocks(html)) >= {"tg-rows-0", "tg-rows-1", "tg-t-1-7"}


def test_failure_examples_link_to_trajectories(run_factory: Callable[..., RunData],
                                               tmp_path: Path) -> None:
    results = [make_result("a", 0, 1.0),
               make_result("b", 0, 0.0, termination=Termination.TOO_MANY_ERRORS)]
    run = run_factory("r", results)
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    row = re.search(r"<tr><td>abnormal termination</td>.*?</tr>", html)
    assert row is not None and 'href="#open=b:0"' in row.group(0)
    assert "1 of 2 did not pass" in html


def test_empty_and_incomplete_runs_render(run_factory: Callable[..., RunData],
                                          tmp_path: Path) -> None:
    empty = run_factory("empty", [], complete=False)
    html = render_report([empty], tmp_path / "e.html").read_text(encoding="utf-8")
    assert "the run is incomplete" in html
    assert blocks(html)["tg-rows-0"] == []


def test_duplicate_records_keep_the_last(tmp_path: Path) -> None:
    first, second = make_result("1", 0, 0.0), make_result("1", 0, 1.0)
    run = RunData(path=tmp_path / "dup", config={}, results=[first, second])
    html = render_report([run], tmp_path / "d.html").read_text(encoding="utf-8")
    assert blocks(html)["tg-rows-0"] == [["1", 0, 1.0, 0, 0, 1]]
    assert "1 duplicate (task, trial) records" in html


def test_lone_surrogates_do_not_break_the_file(tmp_path: Path) -> None:
    r = make_result("s", 0, 1.0)
    r.messages.append(Message(role="assistant", content="broken \ud800 text"))
    run = RunData(path=tmp_path / "s", config={}, results=[r])
    html = render_report([run], tmp_path / "s.html").read_bytes().decode("utf-8")
    msgs = blocks(html)["tg-t-0-0"]["messages"]
    assert msgs[-1]["content"] == "broken \ud800 text"


LEAKED_KEY = "sk-proj-Qm4Zt8Vw2Xy6Bn0Rc5Lk9Hj3"


def test_error_texts_never_show_keys(run_factory: Callable[..., RunData],
                                     tmp_path: Path) -> None:
    r = make_result("e", 0, 0.0, termination=Termination.MODEL_ERROR)
    r.error = (f"TerminalModelError: HTTP 401: Incorrect API key provided: {LEAKED_KEY}; "
               "sent Authorization: Bearer abcdefghijklmnop0123")
    r.breakdown.notes = [f"judge failed: 401 for x-api-key: {LEAKED_KEY}"]
    assert r.breakdown.db is not None
    r.breakdown.db.gold_errors = [f"GET http://u:{LEAKED_KEY}@h/v1 failed"]
    run = run_factory("k", [r], complete=False)
    (run.path / "summary.json").write_text(json.dumps(
        {"complete": False, "resume_command": f"toolgym resume k  # key={LEAKED_KEY}"}))
    html = render_report([RunData(path=run.path, config=run.config, results=run.results,
                                  summary=json.loads((run.path / "summary.json").read_text()))],
                         tmp_path / "k.html").read_text(encoding="utf-8")
    assert LEAKED_KEY not in html and "abcdefghijklmnop0123" not in html
    t = blocks(html)["tg-t-0-0"]
    assert t["error"] == ("TerminalModelError: HTTP 401: Incorrect API key provided: sk-***; "
                          "sent Authorization: Bearer ***")
    assert t["breakdown"]["notes"] == ["judge failed: 401 for x-api-key: ***"]
    assert t["breakdown"]["db"]["gold_errors"] == ["GET http://***@h/v1 failed"]
    assert "resume with: toolgym resume k  # key=sk-***" in html
