"""docs/errors.md is generated from the code; the tree drawn in paygate.errors is the real one."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from paygate.cli import _error_guide as guide
from paygate.errors import DeclineReason, ErrorCode, PaymentError, RetryAdvice

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_docs_errors_md_is_current() -> None:
    expected = guide.render_markdown()
    actual = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/errors.md",
                    "render_markdown()",
                )
            )[:40]
        )
        pytest.fail(f"docs/errors.md is stale: run `{guide.COMMAND}`\n{diff}")


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    drawn = {(node.name, node.parent) for node in guide.drawn_tree()}
    classes = guide.error_classes()
    real = {
        (cls.__name__, None if cls is PaymentError else cls.__mro__[1].__name__) for cls in classes
    }
    assert drawn == real
    by_name = {cls.__name__: cls for cls in classes}
    for node in guide.drawn_tree():
        children = {n.name for n in guide.drawn_tree() if n.parent == node.name}
        subclasses = {c.__name__ for c in by_name[node.name].__subclasses__()}
        assert children == subclasses, node.name


def test_the_drawn_tree_is_shallow_and_names_the_three_branches() -> None:
    nodes = guide.drawn_tree()
    assert max(node.depth for node in nodes) <= 2
    assert [n.name for n in nodes if n.depth == 1] == [
        cls.__name__ for cls in guide.BRANCH_CLASSES.values()
    ]
    assert all(n.note for n in nodes if n.depth == 1), "each branch says what it means"


def test_the_tree_parser_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not a line of the error tree"):
        guide.drawn_tree("Title::\n\n    PaymentError\n    ├── 42\n")


def test_every_error_class_is_in_one_branch() -> None:
    for cls in guide.error_classes():
        if cls is not PaymentError:
            assert guide.branch_of(cls) is not None, cls.__name__


def test_every_code_reason_and_advice_is_explained() -> None:
    assert set(guide.CODE_MEANINGS) == set(ErrorCode)
    assert set(guide.REASON_MEANINGS) == set(DeclineReason)
    assert set(guide.ADVICE_MEANINGS) == set(RetryAdvice)
    assert set(guide.BRANCH_ACTIONS) == set(guide.Branch)
    assert [code for code in ErrorCode if not guide.branches_of(code)] == []


def test_branches_agree_with_the_classes_default_codes() -> None:
    for cls in guide.error_classes():
        branch = guide.branch_of(cls)
        if branch is not None:
            assert branch in guide.branches_of(cls.default_code), cls.__name__


@pytest.mark.parametrize("provider", guide.providers(), ids=lambda p: p.name)
def test_every_provider_table_is_rendered(provider: guide.ProviderErrorTables) -> None:
    page = guide.render_markdown()
    assert f"## {provider.name}" in page
    for name in (*provider.error_types, *provider.error_codes, *provider.decline_codes):
        assert f"| `{name}` |" in page, name
    assert set(provider.reason_advice) == set(DeclineReason)
