"""``toolgym export tau2-submission``: the leaderboard's schema and rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner, Result

import toolgym
from toolgym.cli._app import app
from toolgym.interop import (
    SubmissionError,
    check_submission_runs,
    export_submission,
    prompts_modified,
    tau2_results_schema,
)
from toolgym.runner import RunData

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), env=WIDE)


@pytest.fixture(scope="module")
def leaderboard_schema(shared_dir: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (shared_dir / "tau2" / "leaderboard" / "schema.json").read_text(encoding="utf-8"))
    return schema


def check_leaderboard(data: Any, schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(data)


def test_offline_run_makes_a_valid_submission(offline_run: RunData, tmp_path: Path,
                                              leaderboard_schema: dict[str, Any]) -> None:
    out = tmp_path / "sub"
    res = invoke("export", "tau2-submission", str(offline_run.path), "--organization",
                 "Example Lab", "--contact-email", "eval@example.org", "--date", "2025-07-01",
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    data = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    check_leaderboard(data, leaderboard_schema)
    assert data["model_name"] == "oracle"  # the runs' agent model by default
    assert data["submitting_organization"] == data["model_organization"] == "Example Lab"
    assert data["contact_info"] == {"email": "eval@example.org"}
    airline = data["results"]["airline"]
    tau2 = offline_run.summary["pass_k"]["tau2"]
    for k in range(1, 5):
        assert airline[f"pass_{k}"] == pytest.approx(100 * tau2[str(k)], abs=0.005)
    assert airline["cost"] == 0.0  # the oracle costs nothing
    meth = data["methodology"]
    assert meth["user_simulator"] == "toolgym scripted user (no model)"
    assert meth["verification"]["modified_prompts"] is True  # no tau2 prompt pack
    assert meth["verification"]["omitted_questions"] is False
    assert data["submission_type"] == "custom"
    assert f"toolgym {toolgym.__version__}" in meth["notes"]
    (name,) = data["trajectory_files"].values()
    traj = json.loads((out / "trajectories" / name).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(tau2_results_schema()).validate(traj)
    assert len(traj["simulations"]) == 200
    # The schema can fail: a percentage above 100 is refused.
    data["results"]["airline"]["pass_1"] = 101
    with pytest.raises(jsonschema.ValidationError):
        check_leaderboard(data, leaderboard_schema)


def _copy_with_config(run: RunData, dest: Path, edit: Any) -> RunData:
    shutil.copytree(run.path, dest)
    record = json.loads((dest / "config.json").read_text(encoding="utf-8"))
    edit(record)
    (dest / "config.json").write_text(json.dumps(record), encoding="utf-8")
    return toolgym.load_run(dest)


def test_prompt_pack_decides_modified_prompts(offline_run: RunData, tmp_path: Path,
                                              leaderboard_schema: dict[str, Any]) -> None:
    assert prompts_modified(offline_run)
    pack = {"path": "/packs/tau2", "digest": "0" * 64, "source": "tau2", "tau2": True,
            "parts": ["agent_system_prompt", "tools", "user_system_prompt"], "origin": {}}
    packed = _copy_with_config(offline_run, tmp_path / "packed",
                               lambda r: r["config"].update(prompt_pack=pack))
    assert not prompts_modified(packed)
    edited = {**pack, "tau2": False, "source": "user"}  # a pack, but not tau2's own
    other = _copy_with_config(offline_run, tmp_path / "other",
                              lambda r: r["config"].update(prompt_pack=edited))
    assert prompts_modified(other)
    result = export_submission([packed.path], tmp_path / "sub", organization="Lab",
                               contact_email="a@b.org", model_name="My-Model")
    data = json.loads((tmp_path / "sub" / "submission.json").read_text(encoding="utf-8"))
    check_leaderboard(data, leaderboard_schema)
    assert data["submission_type"] == "standard" and data["model_name"] == "My-Model"
    assert data["methodology"]["verification"]["modified_prompts"] is False
    assert result.trajectory_files["airline"].exists()


def test_rules_refuse_what_the_leaderboard_refuses(offline_run: RunData, v1_run: RunData,
                                                   tau2_airline_dir: Path,
                                                   tmp_path: Path) -> None:
    few = toolgym.run(domain="airline", data_dir=str(tau2_airline_dir), agent_model="oracle",
                      user="scripted", trials=2, tasks="0-4", out=str(tmp_path / "few"))
    problems = " | ".join(check_submission_runs([few]))
    assert "45 of the 50 base tasks have no rollout" in problems
    assert "5 tasks have fewer than 4 trials (task 0: 2, fewest: 2)" in problems
    builtin = toolgym.run(domain="retail", agent_model="oracle", user="scripted", trials=1,
                          tasks="0", out=str(tmp_path / "builtin"))
    problems = " | ".join(check_submission_runs([offline_run, builtin]))
    assert "runs toolgym's built-in retail tasks, not tau2's" in problems
    assert "the runs use different agent settings" in problems
    assert " | ".join(check_submission_runs([v1_run])).count("imported from tau-bench v1") == 1
    twice = " | ".join(check_submission_runs([offline_run, few]))
    assert "domain 'airline' has 2 runs" in twice
    assert check_submission_runs([offline_run]) == []


def test_cli_refusal_is_one_line(offline_run: RunData, tau2_airline_dir: Path,
                                 tmp_path: Path) -> None:
    few = toolgym.run(domain="airline", data_dir=str(tau2_airline_dir), agent_model="oracle",
                      user="scripted", trials=1, out=str(tmp_path / "few"))
    res = invoke("export", "tau2-submission", str(few.path), "--organization", "Lab",
                 "--contact-email", "a@b.org", "--out", str(tmp_path / "sub"))
    assert res.exit_code == 1
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error: the runs do not meet the leaderboard's rules: ")
    assert "50 tasks have fewer than 4 trials" in line
    assert not (tmp_path / "sub").exists()
    with pytest.raises(SubmissionError):
        export_submission([few.path], tmp_path / "sub", organization="Lab",
                          contact_email="a@b.org")


@pytest.mark.parametrize(("args", "expected"), [
    (["--organization", " ", "--contact-email", "a@b.org"], "--organization is required"),
    (["--organization", "Lab", "--contact-email", "nobody"], "is not an e-mail address"),
    (["--organization", "Lab", "--contact-email", "a@b.org", "--date", "July"],
     "is not YYYY-MM-DD"),
])
def test_bad_options(offline_run: RunData, tmp_path: Path, args: list[str],
                     expected: str) -> None:
    res = invoke("export", "tau2-submission", str(offline_run.path), *args, "--out",
                 str(tmp_path / "sub"))
    assert res.exit_code == 1, res.output
    assert expected in res.stderr


def test_missing_required_option_is_a_usage_error(offline_run: RunData, tmp_path: Path) -> None:
    res = invoke("export", "tau2-submission", str(offline_run.path), "--contact-email",
                 "a@b.org", "--out", str(tmp_path / "sub"))
    assert res.exit_code == 2
    assert "--organization" in res.output


def test_schema_option_validates_before_writing(offline_run: RunData, shared_dir: Path,
                                                tmp_path: Path) -> None:
    schema = shared_dir / "tau2" / "leaderboard" / "schema.json"
    res = invoke("export", "tau2-submission", str(offline_run.path), "--organization", "Lab",
                 "--contact-email", "a@b.org", "--schema", str(schema), "--out",
                 str(tmp_path / "ok"))
    assert res.exit_code == 0, res.output
    stricter = json.loads(schema.read_text(encoding="utf-8"))
    stricter["required"] = [*stricter["required"], "references"]
    (tmp_path / "strict.json").write_text(json.dumps(stricter), encoding="utf-8")
    res = invoke("export", "tau2-submission", str(offline_run.path), "--organization", "Lab",
                 "--contact-email", "a@b.org", "--schema", str(tmp_path / "strict.json"),
                 "--out", str(tmp_path / "bad"))
    assert res.exit_code == 1
    assert res.stderr.strip() == ("error: submission.json does not fit its schema at (top): "
                                  "'references' is a required property")
    assert not (tmp_path / "bad").exists()
