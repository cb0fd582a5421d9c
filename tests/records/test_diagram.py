"""docs/payment-records.md shows the transition table as it is in the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "render_transitions.py"


def test_the_page_shows_the_current_transition_table() -> None:
    spec = importlib.util.spec_from_file_location("render_transitions", SCRIPT)
    assert spec is not None and spec.loader is not None
    renderer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(renderer)
    page = renderer.PAGE.read_text()
    assert renderer.START in page and renderer.END in page
    assert page == renderer.updated(page), (
        "docs/payment-records.md is stale: run `python scripts/render_transitions.py`"
    )
    assert renderer.main(["--check"]) == 0
