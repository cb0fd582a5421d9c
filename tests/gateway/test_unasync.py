"""The blocking twins are generated line for line from their asyncio sources, and committed
as generated (``scripts/unasync.py``; ``make lint`` runs its ``--check`` too)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["unasync"] = module
    spec.loader.exec_module(module)
    return module


unasync = _unasync()


def test_every_committed_twin_is_the_generated_one() -> None:
    for path, text in unasync.twins():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale: edit its _async.py twin, then run "
            "`python scripts/unasync.py`"
        )


def test_the_twins_map_line_for_line_and_keep_no_async_verb() -> None:
    for (source, _), (path, text) in zip(unasync.PAIRS, unasync.twins(), strict=True):
        source_lines = (ROOT / source).read_text().splitlines()
        assert text.splitlines()[1:] == [unasync.unasync_line(x, set()) for x in source_lines]
        for leftover in ("await ", "async def", "async with", "aclose", "AsyncClient", "Async"):
            assert leftover not in text, (path.name, leftover)


def test_a_rule_that_matches_nothing_fails_the_generator(tmp_path: Path) -> None:
    for source, _ in unasync.PAIRS:
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        # Sources without the bulkhead's slot class: its rule then matches nothing.
        text = (ROOT / source).read_text().replace("_AsyncSlot", "_SlotTaken")
        (tmp_path / source).write_text(text)
    with pytest.raises(unasync.UnusedRule, match="_AsyncSlot"):
        unasync.twins(tmp_path)


def test_check_mode_reports_a_stale_twin_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for source, target in unasync.PAIRS:
        for name in (source, target):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text((ROOT / name).read_text())
    stale = tmp_path / unasync.PAIRS[0][1]
    stale.write_text(stale.read_text() + "# edited by hand\n")
    assert unasync.main(["--check"], tmp_path) == 1
    assert "stale generated twins" in capsys.readouterr().err
    assert stale.read_text().endswith("# edited by hand\n")  # --check writes nothing
    assert unasync.main([], tmp_path) == 0
    assert unasync.main(["--check"], tmp_path) == 0
