"""docs/payment-records.md shows the transition table as it is in the code."""

from __future__ import annotations

from paygate.records import _diagram


def test_the_page_shows_the_current_transition_table() -> None:
    page = _diagram.PAGE.read_text()
    assert _diagram.START in page and _diagram.END in page
    assert page == _diagram.updated(page), (
        "docs/payment-records.md is stale: run `python -m paygate.records._diagram`"
    )
