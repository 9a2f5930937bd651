"""What every command line of Tollgate shares (the services' and the `tollgate` tool's): errors
reported in one line on stderr with a non-zero exit status, the traceback only with `--debug`,
and options accepted before or after a subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from pydantic import ValidationError

from tollgate_shared.infra.settings import describe_errors
from tollgate_shared.observability.redaction import redact_text

SettingsT = TypeVar("SettingsT")


class CommandError(Exception):
    """An error a command reports as it is, in one line (bad input, a server that does not
    answer, a refusal); `status` is the exit status."""

    def __init__(self, message: str, *, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2), not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (--help shows the usage)\n")


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    """`--debug`, accepted wherever it is added (the command and each subcommand): a parser
    default would overwrite what was given before the subcommand, so none is set."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )


def load_settings(load: Callable[[], SettingsT]) -> SettingsT:
    """`load()`, whose invalid settings are a `CommandError` naming each variable and what is
    wrong with it in one line (never the values given: they may be secrets)."""
    try:
        return load()
    except ValidationError as error:
        problems = "; ".join(line.strip() for line in describe_errors(error).splitlines())
        raise CommandError(f"the settings are not valid: {problems}", status=2) from None


def describe(error: BaseException) -> str:
    """`error` in one line, secrets masked: a `CommandError` as it is, any other with its
    type; a database driver's error rather than SQLAlchemy's wrapping of it."""
    original = getattr(error, "orig", None)
    if isinstance(original, BaseException):
        error = original
    message = " ".join(str(error).split())
    if not isinstance(error, CommandError):
        message = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return redact_text(message)


def run_command(
    prog: str, action: Callable[[], int | None], *, debug: bool = False, error_status: int = 1
) -> int:
    """Run `action` and return its exit status; an error is one line on stderr (status
    `error_status`, or the `CommandError`'s), or with `debug` raised as it is, traceback and
    all."""
    try:
        return action() or 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        if isinstance(error, CommandError):
            print(f"{prog}: {describe(error)}", file=sys.stderr)
            return error.status
        print(f"{prog}: {describe(error)} (--debug shows the traceback)", file=sys.stderr)
        return error_status
