"""Every ```python block in README.md and docs/*.md runs, so the docs cannot drift from the code.

How a block runs:

* on its own: a fresh module namespace and a fresh temporary working directory;
* with ``PAYGATE_PROVIDER=stripe`` and ``PAYGATE_STRIPE__*`` pointing at a Stripe simulator on
  loopback, the settings the README's ``Gateway.from_settings()`` example names in its comment
  (every other ``PAYGATE_*`` variable is removed);
* a block whose top level defines ``test_*`` functions is a pytest module: pytest runs it in a
  subprocess and every test in it must pass;
* a block whose first line is ``# docs: no-run (<reason>)`` is skipped. ``NO_RUN`` lists every
  such block, so a new skip is a deliberate edit here, not a quiet one in a page.

A block stays fast (``SECONDS_PER_BLOCK``): examples use short timeouts and fast retry policies.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from paygate.testing import StripeSimulator

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Pages with no example of their own: the generated error guide, the settings tables, the index.
NO_EXAMPLE_PAGES = {"docs/errors.md", "docs/configuration.md", "docs/index.md"}

NO_RUN_MARKER = "# docs: no-run"
# (page, reason) of every block that is not run. Keep it short: a skipped example can rot.
NO_RUN = {
    ("docs/quickstart.md", "needs a Stripe test-mode key and network access"),
    ("docs/many-instances.md", "needs PostgreSQL"),
}

SECONDS_PER_BLOCK = 3.0  # the examples aim at under 2 s; the margin absorbs a loaded machine
SECONDS_PER_PYTEST_BLOCK = 30.0  # includes starting a Python process and pytest

_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_PYTHON_ALIASES = {"py", "py3", "python3", "pycon", "ipython"}  # would escape this test


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    language: str
    source: str

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def no_run_reason(self) -> str | None:
        first = self.source.split("\n", 1)[0].strip()
        if not first.startswith(NO_RUN_MARKER):
            return None
        match = re.fullmatch(r"\((.+)\)", first.removeprefix(NO_RUN_MARKER).strip())
        assert match, f"{self.name}: write the marker as `{NO_RUN_MARKER} (<reason>)`"
        return match[1]

    @property
    def test_names(self) -> list[str]:
        """The ``test_*`` functions its top level defines (a pytest module when not empty)."""
        tree = ast.parse(self.source)
        return [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        ]


def fenced_blocks(path: Path) -> Iterator[Block]:
    page = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    opened: tuple[int, str] | None = None
    body: list[str] = []
    for number, text in enumerate(lines, start=1):
        fence = _FENCE.match(text)
        if opened is None:
            if fence:
                opened, body = (number, fence[1].lower()), []
        elif text.strip() == "```":
            yield Block(page, opened[0], opened[1], "\n".join(body) + "\n")
            opened = None
        else:
            body.append(text)
    assert opened is None, f"{page}:{opened[0]}: code fence never closed"


ALL_BLOCKS = [block for path in PAGES for block in fenced_blocks(path)]
BLOCKS = [block for block in ALL_BLOCKS if block.language == "python"]


@pytest.fixture(scope="module")
def settings_sim() -> Iterator[StripeSimulator]:
    with StripeSimulator() as sim:
        yield sim


@pytest.fixture
def docs_environment(
    settings_sim: StripeSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """A clean working directory, and PAYGATE_* settings that point at a simulator."""
    settings_sim.reset()
    for name in list(os.environ):
        if name.startswith("PAYGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAYGATE_PROVIDER", "stripe")
    monkeypatch.setenv("PAYGATE_STRIPE__API_KEY", "sk_test_docs_examples")
    monkeypatch.setenv("PAYGATE_STRIPE__BASE_URL", settings_sim.url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_example_runs(
    block: Block, docs_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = block.no_run_reason
    if reason is not None:
        pytest.skip(f"docs: no-run ({reason})")
    started = time.monotonic()
    tests = block.test_names
    if tests:
        _run_as_pytest_module(block, tests, docs_environment)
        budget = SECONDS_PER_PYTEST_BLOCK
    else:
        module = types.ModuleType(f"docs_example_{block.line}")
        module.__file__ = str(docs_environment / "example.py")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(block.source, block.name, "exec"), module.__dict__)
        budget = SECONDS_PER_BLOCK
    elapsed = time.monotonic() - started
    assert elapsed < budget, f"{block.name} took {elapsed:.1f}s; keep examples fast"


def _run_as_pytest_module(block: Block, tests: list[str], directory: Path) -> None:
    path = directory / f"test_docs_example_{block.line}.py"
    path.write_text(block.source, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=SECONDS_PER_PYTEST_BLOCK * 2,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"{block.name}: pytest failed\n{report}"
    assert f"{len(tests)} passed" in report, f"{block.name}: expected {tests} to run\n{report}"


def test_only_the_listed_blocks_are_skipped() -> None:
    skipped = {(block.page, block.no_run_reason) for block in BLOCKS if block.no_run_reason}
    assert skipped == NO_RUN
    assert len(BLOCKS) - len(skipped) >= 15, "suspiciously few examples run"


def test_no_python_block_escapes_under_another_tag() -> None:
    aliased = [block.name for block in ALL_BLOCKS if block.language in _PYTHON_ALIASES]
    assert aliased == [], "tag Python examples ```python so this test runs them"


def test_every_concept_page_has_a_runnable_example() -> None:
    runnable = {block.page for block in BLOCKS if block.no_run_reason is None}
    pages = {path.relative_to(ROOT).as_posix() for path in PAGES} - {"README.md"}
    assert sorted(pages - NO_EXAMPLE_PAGES - runnable) == []


@pytest.mark.parametrize("index", ["README.md", "docs/index.md"])
def test_every_page_is_linked(index: str) -> None:
    text = (ROOT / index).read_text(encoding="utf-8")
    base = (ROOT / index).parent
    linked = {
        (base / target).resolve()
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text)
        if "://" not in target
    }
    pages = {path.resolve() for path in (ROOT / "docs").glob("*.md")} - {(ROOT / index).resolve()}
    missing = sorted(path.relative_to(ROOT).as_posix() for path in pages - linked)
    assert missing == [], f"{index} does not link {missing}"
    broken = sorted(str(path) for path in linked if not path.is_file())
    assert broken == [], f"{index} links missing files {broken}"
