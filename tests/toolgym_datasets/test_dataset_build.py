"""toolgym dataset build / validate, toolgym rate, finetune recipe: offline, end to end.

(This folder is not called tests/datasets: with tests/ on the import path, that name would
hide Hugging Face's datasets package.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.datasets import build_dataset, compile_selection, validate_file, validate_record
from toolgym.errors import ConfigError
from toolgym.testing import FakeOpenAIServer

cli = CliRunner()
FORMATS = ("openai", "trl-messages", "trl-prompt-completion")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "run"
    toolgym.run(domain="airline", agent_model={"model": "oracle", "args": {"error_rate": 0.4}},
                trials=2, tasks="0-15", out=out)
    return out


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _task_of(manifest: Path) -> set[str]:
    return {m["task_id"] for m in _lines(manifest)}


def test_every_format_follows_its_field_rules(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = build_dataset([run_dir], out, formats=list(FORMATS), val_frac=0.25,
                           test_split="test", select="reward == 1")
    openai_line = _lines(out / "openai" / "train.jsonl")[0]
    calls = [c for m in openai_line["messages"] for c in m.get("tool_calls") or []]
    assert calls and all(isinstance(c["function"]["arguments"], str) for c in calls)
    ids = {c["id"] for c in calls}
    tools = [m for m in openai_line["messages"] if m["role"] == "tool"]
    assert tools and all(m["tool_call_id"] in ids for m in tools)
    weights = [m["weight"] for m in openai_line["messages"] if m["role"] == "assistant"]
    assert weights[0] == 0 and set(weights[1:]) == {1}  # the canned greeting never trains
    assert openai_line["parallel_tool_calls"] is False and openai_line["tools"]
    trl = _lines(out / "trl-messages" / "train.jsonl")[0]
    trl_calls = [c for m in trl["messages"] for c in m.get("tool_calls") or []]
    assert all(isinstance(c["function"]["arguments"], dict) for c in trl_calls)
    assert all("weight" not in m for m in trl["messages"])
    pc = _lines(out / "trl-prompt-completion" / "train.jsonl")
    assert all(len(x["completion"]) == 1 and x["completion"][0]["role"] == "assistant"
               for x in pc)
    for fmt in FORMATS:
        for f in (out / fmt).glob("*.jsonl"):
            if not f.name.endswith(".manifest.jsonl"):
                assert validate_file(f, fmt) == [], f
    assert result.counts["openai"]["train"] == len(_lines(out / "openai" / "train.jsonl"))


def test_splits_are_by_task_and_the_card_counts_the_files(run_dir: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = build_dataset([run_dir], out, formats=list(FORMATS), val_size=3,
                           test_split="test", shape="step")
    for fmt in FORMATS:
        seen: dict[str, str] = {}
        for split in ("train", "validation", "test"):
            manifest = out / fmt / f"{split}.manifest.jsonl"
            if not manifest.exists():
                continue
            data = _lines(out / fmt / f"{split}.jsonl")
            assert len(data) == len(_lines(manifest)) == result.counts[fmt][split]
            for task in _task_of(manifest):
                assert seen.setdefault(task, split) == split, f"task {task} in two splits"
    assert len(result.tasks["validation"]) == 3
    test_tasks = set(toolgym.load_domain("airline").splits["test"])
    assert set(result.tasks["test"]) <= test_tasks and result.tasks["test"]
    card = json.loads((out / "dataset.json").read_text())
    assert card["counts"] == result.counts
    md = (out / "README.md").read_text()
    for fmt in FORMATS:
        assert f"| {fmt} | " + " | ".join(str(result.counts[fmt][s]) for s in
                                          ("train", "validation", "test")) in md
    assert "Tokens approximate: characters / 4 (no tokenizer used)." in md
    steps = [m["step"] for m in _lines(out / "openai" / "train.manifest.jsonl")]
    assert all(isinstance(s, int) for s in steps)  # per-step examples name their step


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), frac=st.floats(0.05, 0.6))
def test_no_task_is_in_two_splits_whatever_the_draw(run_dir: Path, tmp_path_factory: Any,
                                                    seed: int, frac: float) -> None:
    out = tmp_path_factory.mktemp("prop")
    result = build_dataset([run_dir], out, formats=["openai"], val_frac=frac,
                           test_split="test", seed=seed)
    sets = [set(v) for v in result.tasks.values()]
    assert sum(len(s) for s in sets) == len(set().union(*sets))


def test_train_on_weights_and_selection(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    build_dataset([run_dir], out, formats=["openai"], train_on="final")
    for line in _lines(out / "openai" / "train.jsonl"):
        weights = [m["weight"] for m in line["messages"] if m["role"] == "assistant"]
        assert sum(weights) == 1 and weights[-1] == 1
    writes = build_dataset([run_dir], tmp_path / "w", formats=["openai"], train_on="writes")
    for line in _lines(tmp_path / "w" / "openai" / "train.jsonl"):
        for m in line["messages"]:
            if m["role"] == "assistant" and m["weight"] == 1:
                assert m.get("tool_calls")
    assert writes.selected == 32
    none = build_dataset([run_dir], tmp_path / "n", formats=["openai"],
                         select='termination == "max_steps"')
    assert none.selected == 0 and none.rejected == 32


def test_the_selection_language_is_safe() -> None:
    ok = compile_selection('reward == 1 and steps < 20 and termination in ("user_stop",)')
    assert ok({"reward": 1.0, "steps": 5, "termination": "user_stop"})
    assert not ok({"reward": 0.0, "steps": 5, "termination": "user_stop"})
    assert compile_selection("not success or rating >= 4")({"success": True, "rating": None}) \
        is False
    for bad in ["__import__('os').system('x')", "reward.__class__", "[x for x in y]",
                "lambda: 1", "reward + 1 == 2", "open('f')"]:
        with pytest.raises(ConfigError, match=r"not allowed|not a valid"):
            compile_selection(bad)({"reward": 1})
    with pytest.raises(ConfigError, match="unknown field 'rewrd'"):
        compile_selection("rewrd == 1")({"reward": 1})
    # Identity with None, and unary minus on numbers only: one-line errors, no traceback.
    assert compile_selection("rating is None")({"rating": None})
    assert compile_selection("rating is not None")({"rating": 4})
    assert compile_selection("-reward < 0")({"reward": 1.0})
    with pytest.raises(ConfigError, match="'-' applies to numbers, not str"):
        compile_selection("-termination == 1")({"termination": "user_stop"})


def test_a_rebuild_replaces_the_whole_dataset(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    build_dataset([run_dir], out, formats=["openai", "trl-messages"], val_size=3)
    assert (out / "openai" / "validation.jsonl").exists()
    build_dataset([run_dir], out, formats=["openai"])  # no validation split this time
    assert not (out / "openai" / "validation.jsonl").exists()  # no stale split left behind
    assert not (out / "trl-messages").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging left either
    card = json.loads((out / "dataset.json").read_text())
    assert card["splits"]["val_size"] is None
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="is not a toolgym dataset"):
        build_dataset([run_dir], tmp_path / "mine", formats=["openai"])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_validate_names_each_problem(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {
        "role": "assistant", "content": None, "weight": 1, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}
    assert validate_record(good, "openai") == []
    bad = json.loads(json.dumps(good))
    bad["messages"][1]["tool_calls"][0]["function"]["arguments"] = {}
    bad["messages"][1]["weight"] = 2
    bad["messages"][2]["tool_call_id"] = "c9"
    problems = validate_record(bad, "openai")
    assert any("arguments: must be a JSON string" in p for p in problems)
    assert any("weight: must be 0 or 1" in p for p in problems)
    assert any("'c9' answers no earlier tool call" in p for p in problems)
    assert validate_record(good, "trl-messages") and any(
        "must be an object" in p for p in validate_record(good, "trl-messages"))
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\nnot json\n")
    res = cli.invoke(app, ["dataset", "validate", str(path), "--format", "openai"])
    assert res.exit_code == 1
    assert re.search(r"x\.jsonl:2: messages\[1\]", res.stderr) and "x.jsonl:3: not valid JSON" \
        in res.stderr


@pytest.mark.hf
def test_files_load_with_datasets_and_hf_round_trips(run_dir: Path, tmp_path: Path,
                                                     datasets_lib: Any) -> None:
    datasets = datasets_lib
    out = tmp_path / "ds"
    result = build_dataset([run_dir], out, formats=[*FORMATS, "hf"], val_frac=0.25,
                           test_split="test")
    for fmt in FORMATS:
        files = {s: str(out / fmt / f"{s}.jsonl") for s in ("train", "validation", "test")}
        ds = datasets.load_dataset("json", data_files=files)  # type: ignore[attr-defined]
        assert {k: len(v) for k, v in ds.items()} == result.counts[fmt]
    saved = datasets.load_from_disk(str(out / "hf"))  # type: ignore[attr-defined]
    assert {k: len(v) for k, v in saved.items()} == result.counts["hf"]
    row = saved["train"][0]
    calls = [c for m in row["messages"] for c in m["tool_calls"]]
    assert calls and isinstance(calls[0]["function"]["arguments"], dict | str)
    assert json.loads(row["source"])["task_id"]


@pytest.mark.hf
def test_recipe_and_its_data_check(run_dir: Path, tmp_path: Path, datasets_lib: Any) -> None:
    from toolgym.datasets import prepare_sft_data

    out = tmp_path / "ds"
    build_dataset([run_dir], out, formats=["trl-messages", "trl-prompt-completion"])
    res = cli.invoke(app, ["finetune", "recipe", "--dataset", str(out), "--base-model",
                           "Qwen/Qwen2.5-7B-Instruct", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "data ok for completion-only" in res.stdout
    config = json.loads((out / "recipe" / "sft_config.json").read_text())
    assert config["completion_only_loss"] is True and config["lora"]["r"] == 16
    assert config["lora"]["lora_alpha"] == 32 and config["learning_rate"] == 2e-4
    assert config["max_length"] >= 1024 and config["max_length"] & (config["max_length"] - 1) == 0
    compile((out / "recipe" / "train_sft.py").read_text(), "train_sft.py", "exec")
    serve = (out / "recipe" / "serve.sh").read_text()
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in serve
    full = prepare_sft_data(out, loss="full-sequence")
    assert full["format"] == "trl-prompt-completion" and full["splits"]["train"] > 0
    conv = prepare_sft_data(out, loss="assistant-only")
    assert conv["format"] == "trl-messages"
    bad = out / "trl-messages" / "train.jsonl"
    rows = _lines(bad)
    call = next(c for m in rows[0]["messages"] for c in m.get("tool_calls") or [])
    call["function"]["arguments"] = json.dumps(call["function"]["arguments"])  # a string
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(Exception, match="arguments must be objects"):
        prepare_sft_data(out, loss="assistant-only")


# ------------------------------------------------------------------ rating


def _rater_reply(request: dict[str, Any]) -> str:
    text = request["messages"][1]["content"]
    steps = sorted({int(i) for i in re.findall(r"^\[(\d+)\] assistant", text, re.M)})
    return json.dumps({
        "criteria": [{"name": n, "verdict": 5, "evidence": [], "rationale": "ok"}
                     for n in ("resolved", "policy", "tools", "communication")],
        "steps": [{"index": i, "tool_choice": 5, "arguments": 2 if j == 1 else 5,
                   "use_of_result": 5, "rationale": "s"} for j, i in enumerate(steps)],
        "overall": {"verdict": 5 if "Here is what I found" in text or "completed" in text
                    else 2, "rationale": "r"}})


@pytest.fixture
def rated(run_dir: Path, tmp_path: Path) -> Iterator[Path]:
    import shutil

    dst = tmp_path / "rated"
    shutil.copytree(run_dir, dst)
    with FakeOpenAIServer(_rater_reply, model_name="rater") as srv:
        res = cli.invoke(app, ["rate", str(dst), "--judge-model", "openai/rater",
                               "--judge-base-url", srv.base_url])
        assert res.exit_code == 0, res.output
    yield dst


def test_rate_then_filter_by_rating_and_step_rating(rated: Path, tmp_path: Path) -> None:
    scores = [json.loads(x) for x in (rated / "scores" / "rater.jsonl").read_text()
              .splitlines()]
    assert len(scores) == 32 and all(s["details"]["scale"] == 5 for s in scores)
    assert all(s["details"]["steps"] and s["details"]["criteria"] for s in scores)
    high = build_dataset([rated], tmp_path / "hi", formats=["openai"], min_rating=4)
    assert high.selected == sum(1 for s in scores if s["score"] >= 4)
    build_dataset([rated], tmp_path / "st", formats=["openai"], shape="step",
                  min_step_rating=4)
    kept = {(m["task_id"], m["trial"], m["step"]) for m in
            _lines(tmp_path / "st" / "openai" / "train.manifest.jsonl")}
    for s in scores:
        low = {st["index"] for st in s["details"]["steps"] if st["arguments"] < 4}
        assert not any((s["task_id"], s["trial"], i) in kept for i in low)
    with pytest.raises(ConfigError, match="needs --shape step"):
        build_dataset([rated], tmp_path / "x", min_step_rating=4)


def test_min_rating_without_a_rating_is_a_clear_error(run_dir: Path, tmp_path: Path) -> None:
    res = cli.invoke(app, ["dataset", "build", str(run_dir), "--out", str(tmp_path / "o"),
                           "--min-rating", "4"])
    assert res.exit_code == 1 and "no rater scoring" in res.stderr and "toolgym rate" \
        in res.stderr


def test_a_dataset_from_an_imported_tau_bench_run(shared_dir: Path, tmp_path: Path) -> None:
    from toolgym.interop import import_tau_bench

    run = tmp_path / "v1"
    import_tau_bench(shared_dir / "tau-bench-v1" / "gpt-4o-airline.json", domain="airline",
                     out=run, data_dir=shared_dir / "tau2" / "airline")
    result = build_dataset([run], tmp_path / "ds", formats=["openai", "trl-messages"],
                           select="reward == 1")
    assert result.selected == 84  # the 84 successful gpt-4o trajectories
    for fmt in ("openai", "trl-messages"):
        assert validate_file(tmp_path / "ds" / fmt / "train.jsonl", fmt) == []


def test_out_of_range_split_options_are_refused(run_dir: Path, tmp_path: Path) -> None:
    for kwargs, message in [({"val_size": -1}, "--val-size must be 0 or more"),
                            ({"val_frac": -0.1}, r"--val-frac must be in \[0, 1\)"),
                            ({"test_split": "nosuch"}, "no selected task is in that split")]:
        with pytest.raises(ConfigError, match=message):
            build_dataset([run_dir], tmp_path / "ds", formats=["openai"], **kwargs)
    assert not (tmp_path / "ds").exists()
