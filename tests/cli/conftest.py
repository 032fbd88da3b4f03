"""Fixtures of the CLI tests."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from toolgym.cli._app import main

#: Runs ``toolgym ARGS`` in-process; returns (exit status, stdout, stderr).
CliMain = Callable[[list[str]], tuple[int, str, str]]


@pytest.fixture
def cli_main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliMain:
    """``toolgym ARGS`` through the console-script entry point, in-process.

    Unlike typer's CliRunner, which catches every exception and reports exit
    status 1, an uncaught exception (a traceback for the user) fails the test.
    """

    def invoke(args: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["toolgym", *args])
        monkeypatch.setattr(sys, "path", list(sys.path))  # `run` puts the cwd first
        with pytest.raises(SystemExit) as exc:
            main()
        captured = capsys.readouterr()
        code = exc.value.code
        return (code if isinstance(code, int) else 1), captured.out, captured.err

    return invoke
