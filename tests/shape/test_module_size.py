"""Modules stay small enough to read in one sitting: none over 400 lines outside tests and the
Stripe emulator (which mirrors Stripe's API surface)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
SOURCES = [
    ROOT / "shared" / "src",
    *(ROOT / "services").glob("*/src"),
    *(ROOT / "tools").glob("*/src"),
]
EXEMPT = ("stripe_emulator",)


def test_no_module_is_over_the_limit() -> None:
    modules = [
        path
        for source in SOURCES
        for path in source.rglob("*.py")
        if not any(part in EXEMPT for part in path.parts)
    ]
    assert len(modules) > 100, "the sources were not found"
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text().splitlines())) > LIMIT
    }
    assert long == {}, f"over {LIMIT} lines: {long}"
