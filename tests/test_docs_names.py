"""Every name the docs tell a user to type still exists: each ``PAYGATE_*`` variable, each
``paygate_*`` fixture (or table, or counter), each option of each ``paygate`` command, and each
error code. A rename that forgets a page fails here, not in a user's hands. (The other way
round, every setting being documented, is ``tests/test_config.py``'s.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paygate.adapters.registry import provider_specs
from paygate.cli import app
from paygate.config import Settings
from paygate.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[1]
# The pages a user reads (docs/errors.md is generated from the code, and checked against it).
PAGES = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "errors.md"),
]
# Where a name the docs mention may be read: the package, and the contract suite users run.
SOURCE = "\n".join(
    p.read_text(encoding="utf-8")
    for folder in ("src", "contract_tests")
    for p in (ROOT / folder).rglob("*.py")
)
TEXT = {page.name: page.read_text(encoding="utf-8") for page in PAGES}
# Names the docs show on purpose as mistakes.
MISTAKES = {"PAYGATE_STRIPE__API_KYE", "PAYGATE_TIMEOUTS__READ"}


def _found(pattern: str) -> set[str]:
    return {m for text in TEXT.values() for m in re.findall(pattern, text)}


def _settings() -> set[str]:
    names = {"PAYGATE_PROVIDER"}
    for group, field in Settings.model_fields.items():
        model = field.annotation
        for name in getattr(model, "model_fields", {}):
            names.add(f"PAYGATE_{group.upper()}__{name.upper()}")
    for spec in provider_specs():
        for name in spec.settings.model_fields:
            names.add(f"PAYGATE_{spec.name.upper()}__{name.upper()}")
    return names


def test_every_documented_variable_exists() -> None:
    settings = _settings()
    documented = _found(r"\bPAYGATE_[A-Z0-9_]*[A-Z0-9]\b") - MISTAKES
    assert documented, "no PAYGATE_ name found: the pattern is wrong"
    gone = {
        name
        for name in documented
        if name not in settings and f'"{name}"' not in SOURCE and f"{name}_" not in SOURCE
    }
    assert not gone, f"documented, but neither a setting nor read anywhere: {sorted(gone)}"


def test_every_documented_fixture_table_or_counter_exists() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT / "src",  # no conftest: the plugin's fixtures only
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    fixtures = set(re.findall(r"^(paygate_\w+)", listed, re.MULTILINE))
    assert {"paygate_gateway", "paygate_stripe_sim", "paygate_async_gateway"} <= fixtures
    documented = _found(r"`(paygate_\w*[a-z])\b")
    gone = {name for name in documented if name not in fixtures and name not in SOURCE}
    assert not gone, f"documented, but no fixture, table or counter has the name: {sorted(gone)}"


def _command_help(words: list[str]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], terminal_width=200)
    assert result.exit_code == 0, (words, result.output)
    return result.output


@pytest.mark.parametrize("span", sorted(_found(r"`paygate ([^`]*)`")), ids=str)
def test_every_documented_command_and_option_exists(span: str) -> None:
    words = span.split()
    head = span.split(" -", maxsplit=1)[0]
    command = [w for w in head.split() if re.fullmatch(r"[a-z]+", w)]
    if words and words[0].startswith("--"):  # an option of paygate itself
        command = []
    text = _command_help(command)
    for option in re.findall(r"(--[a-z][a-z-]*)", span):
        assert option in text, f"`paygate {span}`: {' '.join(command)} has no {option}"


def test_every_documented_error_code_exists() -> None:
    members = _found(r"ErrorCode\.([A-Z_]+)")
    assert members and members <= set(ErrorCode.__members__), members - set(ErrorCode.__members__)
    values = _found(r"\bcode `([a-z_]+)`")
    assert values <= {c.value for c in ErrorCode}, values - {c.value for c in ErrorCode}
