"""``report``, ``compare`` and ``view`` commands on a bare typer app."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from report_synth import make_result
from typer.testing import CliRunner, Result

from toolgym.cli import _report_cmds
from toolgym.runner._store import RunData

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    _report_cmds.register(app)
    return app


@pytest.fixture
def two_runs(run_factory: Callable[..., RunData]) -> tuple[Path, Path]:
    a = run_factory("a", [make_result(str(t), 0, 1.0 if t < 2 else 0.0) for t in range(6)])
    b = run_factory("b", [make_result(str(t), 0, 1.0 if t < 5 else 0.0) for t in range(6)])
    return a.path, b.path


def test_report_writes_file_and_prints_path(app: typer.Typer, two_runs: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    res = runner.invoke(app, ["report", str(two_runs[0]), str(two_runs[1]), "-o", str(out),
                              "--title", "Eval [x]"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    assert "<title>Eval [x]</title>" in html and "Comparison" in html


def test_report_skips_and_names_a_corrupt_line(app: typer.Typer, two_runs: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    run_dir = two_runs[0]
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    # A fragment in the middle (a disk that filled up, then freed space).
    torn = [*lines[:2], lines[2][:40], *lines[3:]]
    (run_dir / "results.jsonl").write_text("\n".join(torn) + "\n", encoding="utf-8")
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(run_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "results.jsonl:3: skipped" in res.stderr
    assert out.exists()


@pytest.mark.parametrize("problem", ["missing", "bad_config", "no_out_dir"])
def test_report_errors_are_one_line(app: typer.Typer, two_runs: tuple[Path, Path],
                                    tmp_path: Path, problem: str) -> None:
    run_dir = two_runs[0]
    out = tmp_path / "r.html"
    if problem == "missing":
        run_dir = tmp_path / "absent [dir]"
    elif problem == "bad_config":
        (run_dir / "config.json").write_text("{", encoding="utf-8")
    else:
        out = tmp_path / "no" / "such" / "dir" / "r.html"
    res = runner.invoke(app, ["report", str(run_dir), "-o", str(out)])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.output
    if problem == "missing":
        assert "absent [dir]" in lines[0]  # not eaten as rich markup


def test_compare_prints_tables_and_optional_html(app: typer.Typer, two_runs: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    html = tmp_path / "cmp.html"
    res = runner.invoke(app, ["compare", str(two_runs[0]), str(two_runs[1]),
                              "--html", str(html)], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "pass^1 (tau-bench)" in out and "pass^1 (tau2)" in out
    assert "p-value (exact McNemar)" in out and "0.2500" in out  # 3 discordant, all for B
    assert "3 / 0 / 3" in out
    assert "+0.500" in out
    assert html.exists() and str(html) in out


def test_compare_missing_run_is_an_error(app: typer.Typer, two_runs: tuple[Path, Path],
                                         tmp_path: Path) -> None:
    res = runner.invoke(app, ["compare", str(two_runs[0]), str(tmp_path / "nope")])
    assert res.exit_code == 1 and "run directory not found" in res.stderr


def test_view_serves_until_interrupted(app: typer.Typer, two_runs: tuple[Path, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import toolgym.report

    seen: dict[str, str] = {}
    real_serve = toolgym.report.serve

    def spy_serve(*args: object, **kwargs: object) -> toolgym.report.ReportServer:
        server = real_serve(*args, **kwargs)  # type: ignore[arg-type]
        seen["url"] = server.url
        return server

    def fake_wait() -> None:
        # The server is up while the command waits: fetch the page, then "Ctrl-C".
        with urllib.request.urlopen(seen["url"], timeout=10) as resp:
            seen["page"] = resp.read().decode("utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(toolgym.report, "serve", spy_serve)
    opened: list[str] = []
    monkeypatch.setattr(_report_cmds, "_wait_until_interrupted", fake_wait)
    monkeypatch.setattr("webbrowser.open", opened.append)
    res = runner.invoke(app, ["view", str(two_runs[0]), "--no-open"])
    assert res.exit_code == 0, res.output
    assert f"Serving {seen['url']}" in res.stdout
    assert "tg-grid-0" in seen["page"] and opened == []
    with pytest.raises(OSError):
        urllib.request.urlopen(seen["url"], timeout=2)


def test_view_missing_dir(app: typer.Typer, tmp_path: Path) -> None:
    res = runner.invoke(app, ["view", str(tmp_path / "nope"), "--no-open"])
    assert res.exit_code == 1 and res.stderr.startswith("error:")


def one_error_line(res: Result) -> str:
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert res.stdout == ""
    return lines[0]


@pytest.mark.parametrize("problem", ["empty_dir", "empty_results", "one_of_two"])
def test_report_without_results_is_an_error(app: typer.Typer, two_runs: tuple[Path, Path],
                                            run_factory: Callable[..., RunData],
                                            tmp_path: Path, problem: str) -> None:
    if problem == "empty_dir":
        empty = tmp_path / "nothing"
        empty.mkdir()
        dirs, expected = [empty], "no results.jsonl"
    elif problem == "empty_results":
        empty = run_factory("started", [], complete=None).path
        dirs, expected = [empty], "no finished rollout"
    else:
        empty = tmp_path / "nothing"
        empty.mkdir()
        dirs, expected = [two_runs[0], empty], "no results.jsonl"
    out = tmp_path / "r.html"
    line = one_error_line(runner.invoke(app, ["report", *map(str, dirs), "-o", str(out)]))
    assert expected in line and str(empty) in line
    assert not out.exists()


def test_compare_without_a_common_task_is_an_error(app: typer.Typer, two_runs: tuple[Path, Path],
                                                   run_factory: Callable[..., RunData],
                                                   tmp_path: Path) -> None:
    other = run_factory("other", [make_result(f"x{t}", 0, 1.0) for t in range(3)]).path
    html = tmp_path / "cmp.html"
    line = one_error_line(runner.invoke(app, ["compare", str(two_runs[0]), str(other),
                                              "--html", str(html)]))
    assert "have no task in common" in line and "(6 tasks)" in line and "(3 tasks)" in line
    assert not html.exists()
    empty = tmp_path / "nothing"
    empty.mkdir()
    line = one_error_line(runner.invoke(app, ["compare", str(two_runs[0]), str(empty)]))
    assert "no results.jsonl" in line
