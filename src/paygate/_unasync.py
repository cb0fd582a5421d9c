"""Generates ``_sync_gateway.py`` (``Gateway``) from ``_async_gateway.py`` (``AsyncGateway``).

The async twin is the one hand-written source; the blocking twin is the same code with the
awaits taken out and the async names swapped for their blocking counterparts, then formatted
with ruff. ``tests/test_unasync.py`` fails while the committed file differs from what this
produces. After editing ``_async_gateway.py``, run::

    python -m paygate._unasync
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
SOURCE: Final = HERE / "_async_gateway.py"
TARGET: Final = HERE / "_sync_gateway.py"

# Whole-word renames, applied in order.
_WORDS: Final = (
    ("AsyncGateway", "Gateway"),
    ("_AsyncIO", "_BlockingIO"),
    ("AsyncBulkhead", "Bulkhead"),
    ("AsyncProviderClient", "ProviderClient"),
    ("AsyncClient", "Client"),
    ("AsyncBaseTransport", "BaseTransport"),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("aclose", "close"),
    ("async_retrying", "retrying"),
    ("admit_async", "admit"),
    ("settle_attempt_async", "settle_attempt"),
    ("abandon_async", "abandon"),
)
# Texts that say which twin they are in.
_TEXTS: Final = (
    (
        '''"""``AsyncGateway``: the asyncio twin, and the one source of both twins.

Every decision lives in ``GatewayCore``; this class only does the I/O — the stores, the
bulkhead, the breaker's shared state, the sleeps and the HTTP exchange — awaited. ``Gateway``
is generated from this file (``python -m paygate._unasync``): edit here, then regenerate.
"""''',
        '''"""``Gateway``: the blocking twin. GENERATED from ``_async_gateway.py`` by
``python -m paygate._unasync``: do not edit; edit the async twin and regenerate.
"""''',
    ),
    (
        '"""The asyncio gateway: the same operations as ``Gateway``, awaited."""',
        '"""The blocking gateway. Thread-safe; use one per provider and reuse it."""',
    ),
)


def unasync(source: str) -> str:
    """The blocking twin's source, unformatted."""
    for asynchronous, blocking in _TEXTS:
        if asynchronous not in source:
            raise ValueError(f"the async source no longer contains: {asynchronous[:60]!r}")
        source = source.replace(asynchronous, blocking)
    source = re.sub(r"\basync (def|with|for) ", r"\1 ", source)
    source = re.sub(r"\bawait ", "", source)
    for asynchronous, blocking in _WORDS:
        source = re.sub(rf"\b{asynchronous}\b", blocking, source)
    return source


def _formatted(source: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    fixed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--fix", "--quiet", "--exit-zero",
         "--select", "I,F401", "--stdin-filename", str(TARGET), "-"],
        input=done.stdout,
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return fixed.stdout


def generate() -> str:
    """The blocking twin as it must be committed."""
    return _formatted(unasync(SOURCE.read_text()))


def main() -> int:
    TARGET.write_text(generate())
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
