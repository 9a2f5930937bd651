"""Running a command line as an operator does — a process of its own, with only the
environment given — and holding its errors to one line without a traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_cli(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` (in `cwd`) with `env` and nothing else of ours in its environment (PATH,
    and a wide terminal for tables); its output as text."""
    return subprocess.run(  # noqa: S603 -- our own commands, with the tests' arguments
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "250", **(env or {})},
    )


def one_line_error(
    result: subprocess.CompletedProcess[str], prog: str, *, logs: bool = False
) -> str:
    """The error line of a command that failed as it should: a non-zero exit status, no
    traceback, and one line on stderr starting with `prog` (with `logs`, after the log lines
    a service writes there). Returns that line."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith(f"{prog}")]
    assert len(errors) == 1, output
    if not logs:
        assert lines == errors, output
    return errors[0]
