"""Golden diagnostics: each block of ``golden/diagnostics.txt`` pairs a filter with its rendered report.

A block is ``>>> TARGET [native] | FILTER`` followed by what :func:`lmfilter.render` prints for the filter's
diagnostics (or ``(no diagnostics)``); blocks are separated by a blank line. After a deliberate change to
messages, regenerate with ``UPDATE_GOLDEN=1 ./dev test tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lmfilter

GOLDEN = Path(__file__).parent / "golden" / "diagnostics.txt"


def _blocks() -> list[tuple[str, bool, str, str]]:
    blocks = []
    for chunk in GOLDEN.read_text(encoding="utf-8").strip("\n").split("\n\n"):
        header, _, expected = chunk.partition("\n")
        assert header.startswith(">>> "), f"bad block header: {header!r}"
        setting, _, text = header[4:].partition(" | ")
        target, *flags = setting.split()
        blocks.append((target, flags == ["native"], text, expected))
    return blocks


def _report(target: str, native: bool, text: str) -> str:
    diagnostics = lmfilter.check(text, target=target, native=native)
    return lmfilter.render(text, diagnostics) if diagnostics else "(no diagnostics)"


BLOCKS = _blocks()


@pytest.mark.parametrize(("target", "native", "text", "expected"), BLOCKS, ids=[b[2] for b in BLOCKS])
def test_golden_diagnostics(target: str, native: bool, text: str, expected: str) -> None:
    assert _report(target, native, text) == expected


def test_update_golden() -> None:
    """With UPDATE_GOLDEN=1, rewrite the expected reports from the current code (for review in git)."""
    if not os.environ.get("UPDATE_GOLDEN"):
        pytest.skip("set UPDATE_GOLDEN=1 to regenerate golden/diagnostics.txt")
    chunks = [
        f">>> {target}{' native' if native else ''} | {text}\n{_report(target, native, text)}"
        for target, native, text, _ in BLOCKS
    ]
    GOLDEN.write_text("\n\n".join(chunks) + "\n", encoding="utf-8")
